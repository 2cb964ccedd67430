#pragma once
// StateReader: the read side of the state layout for every reader process (gateway, monitor,
// tests). It attaches to /qf.<instance>.state read-only, follows engine restarts, and copies
// everything the engine publishes into a plain StateSnapshot: the engine's status (awaiting /
// running / stalled / stopped), the instrument table, each instrument's records (each a
// consistent seqlock copy, or marked busy), feed counters, latency histograms and the recent
// notable events and control acknowledgements, and the paper portfolio, risk record and
// recent fills, the composite books, the learned model and its drift, and the tick journal for readers that follow every tick. Not for the engine's thread: a snapshot allocates and copies ~200 KiB.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qf/ipc/latency_histogram.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::ipc {

// damaged: the segment's size or section table is inconsistent (truncated file, offsets past the
// mapping, a foreign owner), or (layout v12) a record or write-once table fails its checksum:
// nothing of that read is served, the reader retries on every read.
enum class EngineStatus : std::uint8_t { awaiting, running, stalled, stopped, version_mismatch, damaged };
[[nodiscard]] const char* to_string(EngineStatus s) noexcept;
// True when the reader sees an engine's segment (running, stalled or stopped): its records can be read.
[[nodiscard]] constexpr bool has_engine(EngineStatus s) noexcept {
  return s != EngineStatus::awaiting && s != EngineStatus::version_mismatch && s != EngineStatus::damaged;
}

struct InstrumentSnapshot {
  InstrumentInfo info{};
  QuoteRecord quote{};
  BookRecord book{};
  FeatureRecord features{};
  SignalRecord signal{};
  HealthRecord health{};
  PositionRecord position{}; // paper position (layout v3)
  DriftRecord drift{};       // the learned model's feature drift (layout v9)
  bool busy = false; // some record stayed busy for every retry (a writer died mid-update?)
};

// One composite book (layout v7): its static info and a consistent copy of its record.
struct CompositeSnapshot {
  CompositeInfo info{};
  CompositeRecord record{};
  bool busy = false;
};

struct StateSnapshot {
  EngineStatus status = EngineStatus::awaiting;
  std::string message; // why awaiting / version mismatch / damaged
  EngineMode mode = EngineMode::live;
  std::uint64_t generation = 0;
  std::int32_t engine_pid = 0;
  std::uint64_t start_unix_ns = 0;
  std::uint64_t heartbeat_age_ns = 0;
  EngineRecord engine{};
  ModelRecord model{}; // the learned model in force (layout v9); loaded 0: none
  std::vector<InstrumentSnapshot> instruments;
  std::vector<FeedRecord> feeds;
  std::array<std::unique_ptr<HistogramSnapshot>, kStageCount> latency; // never null
  std::vector<NotableEvent> events; // oldest first, at most kEventLogSize
  std::uint64_t events_written = 0;
  std::uint64_t ticks_written = 0; // entries ever appended to the tick journal (layout v6)
  std::vector<ControlAck> acks; // acknowledgements of control commands, oldest first
  std::uint64_t acks_written = 0;
  // Risk and paper execution (layout v3, section 5).
  PortfolioRecord portfolio{};
  RiskRecord risk{};
  std::vector<FillRecord> fills; // oldest first, at most kFillLogSize
  std::uint64_t fills_written = 0;
  std::vector<CompositeSnapshot> composites; // cross-venue composite books (layout v7), config order
  std::uint32_t corrupt_records = 0; // records and tables that failed their checksum in this read (status damaged)
  // Fill and event log entries that failed their checksum in this read: skipped, the read still
  // served (the entry heals only when the ring laps it; qf-store counts them as `corrupt`).
  std::uint32_t corrupt_log_entries = 0;

  StateSnapshot();
};

class StateReader {
public:
  explicit StateReader(std::string instance, std::uint64_t stall_after_ns = 2'000'000'000ULL);

  // Re-attaches when needed (absent engine, restart) and fills `out`. Never throws; a SIGBUS in
  // the mapping (a truncation between the size check and the copy) is status damaged.
  void read(StateSnapshot& out) noexcept;
  [[nodiscard]] bool attached() const noexcept { return view_.attached(); }
  // The tick journal of the attached engine (follow it with a BroadcastCursor), or nullptr. Valid
  // until the next read() that re-attaches (an engine restart: check the snapshot's generation).
  [[nodiscard]] const TickJournal* journal() const noexcept;
  // The mapping, for tests that must prove it is read-only.
  [[nodiscard]] const SegmentView& view() const noexcept { return view_; }

private:
  void copy(StateSnapshot& out) noexcept; // every load from the mapping, under guarded_read

  SegmentView view_;
  std::uint64_t stall_after_ns_;
};

} // namespace qf::ipc
