#pragma once
// Backtest jobs: `qf-engine replay` runs started from the API, one child process each, in a
// bounded queue (at most one running; `backtest_queue` waiting). A job names a capture relative
// to `backtest_data_dir` (no absolute paths, no `..`; it must be a regular file inside that
// folder) and optional config overrides ({"risk": {"max_position": 2}, ...}: one level of tables
// of numbers, strings and booleans, written as a TOML file the replay loads, so the engine's own
// loader validates them), and "speed": "max" (default) or "1" (the capture's own pace). Each job has a folder under `backtest_dir`: config.toml, summary.json
// (the replay's stdout), equity.csv, stderr.log (its progress lines and any error).
// States: queued -> running -> done | failed | cancelled. poll() (the gateway's timer) reaps
// children without blocking (waitpid WNOHANG), reads the new progress lines and starts the next
// queued job. Event-loop thread only.

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "router.hpp"

namespace qf::gateway {

struct BacktestOptions {
  std::string engine_binary; // qf-engine
  std::string data_dir;      // captures are named relative to it
  std::string jobs_dir;      // one folder per job
  int max_queued = 4;
  int max_jobs_kept = 64;    // finished jobs beyond this are forgotten, oldest first
};

class BacktestJobs {
public:
  explicit BacktestJobs(BacktestOptions o);
  ~BacktestJobs(); // kills running children
  BacktestJobs(const BacktestJobs&) = delete;
  BacktestJobs& operator=(const BacktestJobs&) = delete;

  // POST /api/backtests: 202 {"id":N,"state":"queued"}, 400 naming the field, 429 when full.
  [[nodiscard]] Response submit(std::string_view body);
  // GET /api/backtests, /api/backtests/{id} (404 unknown); POST /api/backtests/{id}/cancel.
  [[nodiscard]] Response list() const;
  [[nodiscard]] Response get(std::string_view id) const;
  [[nodiscard]] Response cancel(std::string_view id);
  // GET /api/backtests/captures: the captures a job may name (*.capture, *.capture.gz under
  // data_dir, relative, sorted, with their size), so a client can offer a choice.
  [[nodiscard]] Response captures() const;
  void poll();

private:
  struct Job {
    std::uint64_t id = 0;
    std::string capture, capture_path, venue, dir, state = "queued", error; // capture: as named; path: resolved
    std::string overrides_toml;
    pid_t pid = -1;
    bool cancel_requested = false;
    bool paced = false; // "speed": "1": at the capture's own pace
    std::uint64_t messages_done = 0, messages_total = 0;
    std::size_t stderr_read = 0; // bytes of stderr.log already scanned
    std::string stderr_partial;
    std::uint64_t submitted_unix_ns = 0, started_unix_ns = 0, finished_unix_ns = 0;
    std::string summary; // the replay's summary JSON (done)
  };
  void start(Job& j);
  void read_progress(Job& j);
  void finish(Job& j, int wait_status);
  [[nodiscard]] const Job* find(std::string_view id) const;
  [[nodiscard]] std::string render(const Job& j, bool detail) const;

  BacktestOptions opt_;
  std::deque<Job> jobs_; // submission order
  std::uint64_t next_id_ = 1;
};

} // namespace qf::gateway
