#pragma once
// BookSync: one instrument's Binance local-order-book procedure (PROTOCOLS.md 1.4 for spot, 2 for
// USD-M), as a state machine between the Parser and the core's OrderBook. Diffs are buffered
// (fixed capacity) until a REST snapshot arrives; the snapshot drops the buffered diffs it
// already contains, must bridge to the first remaining one (spot U <= id+1 <= u; USD-M
// U <= id <= u), and the rest must chain (spot U == prev u + 1; USD-M pu == prev u). The book
// goes out as events through the caller's sink: snapshot_begin, levels, snapshot_end, then one
// book_level per changed level (kFlagLastInMessage on each diff's last), plus status events
// (book_live, gap, resync). A chain break, a snapshot older than the buffered diffs or a full
// buffer raises a snapshot request; fetching it is the caller's job. Feed thread, one object per
// instrument, no allocation after construction.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/binance/parser.hpp"

namespace qf::feeds::binance {

enum class BookState : std::uint8_t {
  syncing, // waiting for a snapshot, or for the first diff that bridges it
  live,    // snapshot applied and every diff since chained
  gap,     // a chain break: book discarded, diffs buffered, a snapshot requested
};

enum class SyncOutcome : std::uint8_t {
  applied,        // the diff went to the book
  buffered,       // kept until a snapshot arrives
  stale,          // already contained in the book or snapshot: dropped (counted)
  gap,            // broke the chain: state gap, snapshot requested
  overflow,       // the buffer was full: cleared, snapshot requested, this diff kept if it fits
  snapshot_applied, // the snapshot went to the book (state live when a buffered diff bridged it)
  snapshot_stale, // older than the buffered diffs: dropped, another snapshot requested
  ignored,        // another instrument, a snapshot while live, or not a depth message
};

struct BookSyncConfig {
  Market market = Market::spot;
  std::size_t max_buffered_diffs = 1024;           // diffs held while no snapshot bridges them
  std::size_t max_buffered_levels = std::size_t{1} << 16; // their levels, all diffs together
};

struct BookSyncCounters {
  std::uint64_t applied_diffs = 0;
  std::uint64_t dropped_stale = 0;  // diffs the book or the snapshot already contained
  std::uint64_t gaps = 0;           // chain breaks
  std::uint64_t resyncs = 0;        // snapshot requests after the first (gaps included)
  std::uint64_t overflows = 0;      // buffer full
  std::uint64_t stale_snapshots = 0; // snapshots older than the buffered diffs
  std::uint64_t snapshots_applied = 0;
  std::uint64_t ignored = 0;        // other instruments' messages, snapshots while live
};

// How the last (re)synchronisation went: the snapshot and the diff that bridged it.
struct SyncPoint {
  std::uint64_t snapshot_id = 0;   // lastUpdateId
  std::uint64_t first_id = 0;      // the bridging diff's U
  std::uint64_t last_id = 0;       // and its u
};

class BookSync {
public:
  // Allocates the buffer. Throws std::invalid_argument when a capacity is 0.
  BookSync(core::InstrumentId instrument, const BookSyncConfig& config = {});

  // A parsed depthUpdate or depth snapshot of this instrument; anything else is ignored.
  SyncOutcome on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  SyncOutcome on_diff(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  SyncOutcome on_snapshot(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

  // The first synchronisation on a fresh connection: asks for a snapshot; counts no resync.
  void start() noexcept { wanted_ = true; }

  // Drops the book and the buffer and asks for a new snapshot (the operator's "resync", a
  // reconnect, a failed REST fetch). Emits a resync status.
  void resync(std::uint64_t recv_ticks, EventSink sink) noexcept;

  // True when a snapshot should be fetched and nobody has taken the request yet.
  [[nodiscard]] bool snapshot_wanted() const noexcept { return wanted_; }
  // Takes the request: true once per request. The request counts as in flight until a snapshot
  // arrives; diffs buffered meanwhile raise no new one.
  [[nodiscard]] bool take_snapshot_request() noexcept;

  [[nodiscard]] BookState state() const noexcept { return state_; }
  [[nodiscard]] core::InstrumentId instrument() const noexcept { return instrument_; }
  // The book's update id (last applied u, or the snapshot's id before the first diff); 0 before.
  [[nodiscard]] std::uint64_t update_id() const noexcept { return update_id_; }
  [[nodiscard]] std::size_t buffered() const noexcept { return diff_count_; }
  [[nodiscard]] const SyncPoint& sync_point() const noexcept { return sync_point_; }
  [[nodiscard]] const BookSyncCounters& counters() const noexcept { return counters_; }

private:
  enum class Phase : std::uint8_t {
    buffering, // no usable snapshot (state syncing or gap)
    bridging,  // snapshot applied, waiting for the diff that bridges it (state syncing)
    live,
  };
  struct Diff { // a diff's header; its levels are levels_[level_begin, + bids + asks)
    std::uint64_t first_id;
    std::uint64_t last_id;
    std::uint64_t prev_id;
    std::uint64_t event_ns;
    std::uint64_t recv_ticks;
    std::uint32_t level_begin;
    std::uint32_t bids;
    std::uint32_t asks;
  };
  struct Step { // a diff as the chain rules see it (from a message or from the buffer)
    std::uint64_t first_id;
    std::uint64_t last_id;
    std::uint64_t prev_id;
  };

  [[nodiscard]] bool contained(const Step& d, std::uint64_t id) const noexcept;
  [[nodiscard]] bool bridges(const Step& d, std::uint64_t id) const noexcept;
  [[nodiscard]] bool chains(const Step& d) const noexcept;
  [[nodiscard]] SyncOutcome buffer(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  [[nodiscard]] bool push(const Message& m, std::uint64_t recv_ticks) noexcept;
  void drop_front(std::size_t n) noexcept;
  void clear_buffer() noexcept;
  void request() noexcept;
  void emit_status(core::FeedStatus status, std::uint64_t exchange_ns, std::uint64_t recv_ticks,
                   EventSink sink) const noexcept;
  void enter_gap(std::uint64_t exchange_ns, std::uint64_t recv_ticks, EventSink sink) noexcept;

  core::InstrumentId instrument_;
  BookSyncConfig config_;
  Phase phase_ = Phase::buffering;
  BookState state_ = BookState::syncing;
  std::uint64_t update_id_ = 0;
  bool wanted_ = false;
  bool in_flight_ = false;
  std::vector<Diff> diffs_;        // max_buffered_diffs entries, the first diff_count_ in use
  std::vector<core::Level> levels_; // max_buffered_levels entries, the first level_count_ in use
  std::size_t diff_count_ = 0;
  std::size_t level_count_ = 0;
  SyncPoint sync_point_;
  BookSyncCounters counters_;
};

} // namespace qf::feeds::binance
