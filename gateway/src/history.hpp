#pragma once
// History endpoints over qf-store's PostgreSQL tables (store/migrations), answered by a small
// pool of reader threads with one libpq connection each, off the lws loop: the loop parses and
// validates the request (parse_history: 400 naming the bad parameter), submits the query and
// goes on serving WebSocket pushes; a worker runs it and posts the body back, waking the loop
// with lws_cancel_service (LWS_CALLBACK_EVENT_WAIT_CANCELLED drains the answers).
//   GET /api/history/equity?from=&to=&limit=
//   GET /api/history/bars/{venue}/{symbol}?interval=1s|1m&from=&to=&limit=
//   GET /api/history/fills?from=&to=&limit=&offset=
//   GET /api/history/signals/{venue}/{symbol}?from=&to=&limit=
//   GET /api/history/events?from=&to=&limit=&kind=
//   GET /api/history/runs?from=&to=&limit=      backtest runs (qf-engine replay --store), newest first
//   GET /api/history/runs/{id}                  one run: metrics, config, equity, fills (404: no such run)
// from/to: Unix milliseconds, [from, to); limit 1..10000 (default 1000), offset >= 0 (fills
// paging); rows in time order; each row's time is `ts_ms`. PostgreSQL renders the rows
// (json_agg) and the gateway wraps them, so no row type is rendered twice.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "router.hpp"

namespace qf::gateway {

struct HistoryQuery {
  std::string name; // "bars", "equity", ... (the member of the answer holding the rows)
  std::string sql;  // one row, one column: the JSON array of rows
  std::vector<std::string> params;
  bool one = false; // the value is one object: NULL answers 404
};

[[nodiscard]] bool is_history_path(std::string_view path) noexcept;
// The query for a GET under /api/history, or the 400/404 to answer.
[[nodiscard]] std::optional<HistoryQuery> parse_history(const Request& r, Response& error);

class HistoryPool {
public:
  // `done(id, response)` runs on the worker thread: it must only hand the answer over.
  HistoryPool(std::string url, int threads, std::function<void()> wake);
  ~HistoryPool();
  HistoryPool(const HistoryPool&) = delete;
  HistoryPool& operator=(const HistoryPool&) = delete;

  void submit(std::uint64_t id, HistoryQuery q);
  // The answers ready so far (loop thread).
  std::vector<std::pair<std::uint64_t, Response>> take();

private:
  void work();
  std::string url_;
  std::function<void()> wake_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::pair<std::uint64_t, HistoryQuery>> queries_;
  std::vector<std::pair<std::uint64_t, Response>> answers_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace qf::gateway
