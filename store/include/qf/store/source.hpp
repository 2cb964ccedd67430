#pragma once
// Where history rows come from. A Source turns what it observes into Rows and pushes them into
// the one RowQueue the Writer drains; the state segment (StateSource) is the source today, a
// JetStream consumer of the scale-out bus can be a second one without touching the writer.

#include <cstdint>
#include <string>
#include <vector>

#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/state_reader.hpp"
#include "qf/store/row_queue.hpp"

namespace qf::store {

class Source {
public:
  virtual ~Source() = default;
  // Observes once and pushes what is new; called every poll period on the source thread.
  virtual void poll(RowQueue& queue) = 0;
  // Its counters, as members of the status object being written.
  virtual void status(ipc::JsonWriter& out) const = 0;
};

struct StateSourceOptions {
  std::string instance;
  std::uint64_t sample_ns = 1'000'000'000ULL; // signals, equity, risk
};

// Polls /qf.<instance>.state read-only: every closed 1 s and 1 m bar (with the 1 s indicators),
// every fill of the fill log and every notable event by sequence (an overrun of either ring is
// counted), and samples signals, the portfolio and the risk record.
// What reading the fill and event rings found besides entries: busy records, entries whose checksum
// fails (skipped), SIGBUS faults (the segment truncated under the reader).
struct RingReads {
  std::uint64_t busy = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t last_corrupt_seq = 0;
  std::uint64_t bus_faults = 0;
};

class StateSource final : public Source {
public:
  explicit StateSource(StateSourceOptions options);
  void poll(RowQueue& queue) override;
  void status(ipc::JsonWriter& out) const override;

private:
  struct Cursor {
    std::uint64_t bar_1s = 0, bar_1m = 0; // start of the last bar pushed
    std::uint64_t signal_ns = 0;          // update time of the last signal pushed
  };
  void on_new_engine(RowQueue& queue, bool first_attach);
  void bars(RowQueue& queue);
  // false: a bus fault ended the pass
  bool fills(RowQueue& queue);
  bool events(RowQueue& queue);
  void note_corrupt(const char* ring, std::uint64_t before); // logs at most every 10 s
  void samples(RowQueue& queue);
  void push(RowQueue& queue, Table t, std::uint64_t ts_ns);
  [[nodiscard]] const ipc::InstrumentInfo* info(std::uint16_t instrument) const noexcept;

  StateSourceOptions options_;
  ipc::StateReader reader_;
  ipc::StateSnapshot snap_;
  std::string line_;
  std::uint64_t engine_start_ = 0;
  std::string engine_status_ = "awaiting";
  std::vector<Cursor> cursors_;
  std::uint64_t next_fill_ = 0, next_event_ = 0;
  std::uint64_t last_sample_mono_ns_ = 0;
  std::uint64_t equity_ns_ = 0;
  ipc::RiskRecord risk_{};
  bool risk_seen_ = false;
  // counters
  std::uint64_t engines_ = 0;
  std::uint64_t fills_lost_ = 0, events_lost_ = 0;               // ring overruns while attached
  std::uint64_t fills_before_attach_ = 0, events_before_attach_ = 0; // already gone when the store attached
  std::uint64_t bars_missed_ = 0;                                 // bars that closed between two polls
  RingReads reads_;                      // also counts busy instrument records
  std::uint64_t corrupt_logged_ns_ = 0; // monotonic time of the last corrupt-entry log line
};

} // namespace qf::store
