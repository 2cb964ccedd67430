#pragma once
// The state layout: what qf-engine publishes in /qf.<instance>.state and what every reader
// (gateway, monitor, tests) may rely on. It is the only contract between the engine and its
// readers, so it is plain data: trivially copyable records behind seqlocks, histograms, and
// fixed-size tables. Any change to a type here must bump kStateLayoutVersion; readers refuse
// a mismatch (SegmentView::try_attach -> version_mismatch).
// Sections (index: contents):
//   0 kSectionInstruments: InstrumentTable, written before the segment is marked running
//   1 kSectionRecords:     InstrumentState[kMaxInstruments], one seqlocked record set each, then
//                          (v7) the CompositeTable at kCompositeOffset (composite_table())
//   2 kSectionFeeds:       FeedTable (per-feed counters), the engine's own counters and (v9) the
//                          learned model in force (ModelRecord)
//   3 kSectionLatency:     LatencyTable, one histogram per Stage
//   4 kSectionEvents:      EventLog, a ring of recent notable events, and (v6) the tick journal
//   5 kSectionControl:     ControlLog, the engine's acknowledgements of control commands, and
//                          (v3) the portfolio, risk and recent-fills records
// Prices and quantities are int64 fixed point with the instrument's decimals (format them
// with qf/ipc/fixed_point.hpp); times are Unix ns unless named *_mono_ns (CLOCK_MONOTONIC).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "qf/ipc/broadcast_ring.hpp"
#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/latency_histogram.hpp"
#include "qf/ipc/seqlock.hpp"

namespace qf::ipc {

// v4: FeedRecord carries the recorder's losses; v5: EngineRecord the hot thread's profile;
// v6: EventLog carries the tick journal (a BroadcastRing of TickRecord: trades, top-of-book changes, health changes);
// v7: ControlAck carries a paper order's outcome; v8: section 1 ends with the CompositeTable (the cross-venue
// composite books); v9: InstrumentState carries the DriftRecord (the learned model's feature drift), FeedTable the
// ModelRecord (the model in force, its training period and validation summary), NotableKind::drift; v10: ControlAck
// carries the quantity a paper order sent (rounded down to the lot), kRefusalNames `below_lot`;
// v11: InstrumentInfo::venue holds 23 characters ("coinbase-advanced" did not fit in 15);
// v12: every Seqlock carries a checksum of its payload (ReadStatus::corrupt), the instrument table and the
// composite table's static part a checksum written once they are complete (seal / intact).
inline constexpr std::uint32_t kStateLayoutVersion = 12;
inline constexpr const char* kStateSegmentName = "state";

inline constexpr std::size_t kMaxInstruments = 64;
inline constexpr std::size_t kMaxFeeds = 8;
inline constexpr std::size_t kBookDepth = 10;
inline constexpr std::size_t kMaxRegimes = 4;
inline constexpr std::size_t kEventLogSize = 256; // power of two
inline constexpr std::size_t kTickJournalSize = std::size_t{1} << 17; // entries (8 MiB), about 1.3 s at 100k ticks/s

inline constexpr std::size_t kSectionInstruments = 0;
inline constexpr std::size_t kSectionRecords = 1;
inline constexpr std::size_t kSectionFeeds = 2;
inline constexpr std::size_t kSectionLatency = 3;
inline constexpr std::size_t kSectionEvents = 4;
inline constexpr std::size_t kSectionControl = 5;
inline constexpr std::size_t kControlLogSize = 64; // power of two
inline constexpr std::size_t kMaxRefusalReasons = 12;
inline constexpr std::size_t kFillLogSize = 64; // power of two
inline constexpr std::size_t kMaxModelFeatures = 8; // signal inputs a model may name (drift, model record)
inline constexpr std::size_t kMaxModelFolds = 8;    // walk-forward folds kept in the model record

// A NUL-padded text field of the layout (venue, symbol, names, event texts) as a view; never reads
// past the array, whatever a damaged segment holds.
template <std::size_t N> [[nodiscard]] std::string_view text_of(const std::array<char, N>& field) noexcept {
  std::size_t n = 0;
  while (n < N && field[n] != '\0') {
    ++n;
  }
  return {field.data(), n};
}

// SegmentHeader::mode of the state segment.
enum class EngineMode : std::uint32_t { live = 0, sim = 1, replay = 2 };

enum class BookHealth : std::uint8_t { syncing = 0, live = 1, gap = 2, stale = 3, disconnected = 4, crossed = 5 };

enum class Stage : std::uint8_t {
  parse = 0,              // frame received -> event pushed (feed thread)
  queue = 1,              // event pushed -> event popped (ring)
  process = 2,            // event popped -> records published (core)
  receive_to_publish = 3, // frame received -> records published
  exchange_to_receive = 4 // venue event time -> frame received (wire + venue; clocks differ)
};
inline constexpr std::size_t kStageCount = 5;

[[nodiscard]] constexpr const char* to_string(EngineMode m) noexcept {
  switch (m) {
  case EngineMode::live: return "LIVE";
  case EngineMode::sim: return "SIM";
  case EngineMode::replay: return "REPLAY";
  }
  return "UNKNOWN";
}
[[nodiscard]] constexpr const char* to_string(BookHealth h) noexcept {
  switch (h) {
  case BookHealth::syncing: return "syncing";
  case BookHealth::live: return "live";
  case BookHealth::gap: return "gap";
  case BookHealth::stale: return "stale";
  case BookHealth::disconnected: return "disconnected";
  case BookHealth::crossed: return "crossed";
  }
  return "unknown";
}
[[nodiscard]] constexpr const char* to_string(Stage s) noexcept {
  switch (s) {
  case Stage::parse: return "parse";
  case Stage::queue: return "queue";
  case Stage::process: return "process";
  case Stage::receive_to_publish: return "receive_to_publish";
  case Stage::exchange_to_receive: return "exchange_to_receive";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Section 0: instruments (static after start)

struct InstrumentInfo {
  std::array<char, 24> venue;  // "binance-spot", "coinbase-advanced", NUL-terminated
  std::array<char, 24> symbol; // venue spelling, "BTCUSDT", "BTC-USD"
  std::int8_t price_decimals;
  std::int8_t qty_decimals;
  std::uint16_t feed; // index into FeedTable
  std::uint32_t reserved;
};

struct InstrumentTable {
  std::uint32_t count;
  std::uint32_t reserved;
  std::uint64_t checksum; // v12: checksum_of count, reserved and items (seal), 0 for an empty table
  std::array<InstrumentInfo, kMaxInstruments> items;
};

// The write-once tables' checksum (v12): the writer seals a table once it is complete, before the
// segment is marked running; a reader that finds it not intact refuses the table.
[[nodiscard]] inline std::uint64_t static_checksum(const InstrumentTable& t) noexcept {
  struct Static {
    std::uint32_t count, reserved;
    std::array<InstrumentInfo, kMaxInstruments> items;
  };
  return checksum_of(Static{t.count, t.reserved, t.items});
}
inline void seal(InstrumentTable& t) noexcept { t.checksum = static_checksum(t); }
[[nodiscard]] inline bool intact(const InstrumentTable& t) noexcept { return t.checksum == static_checksum(t); }

// ---------------------------------------------------------------------------------------------
// Section 1: per-instrument records, each behind its own seqlock

struct PriceLevel {
  std::int64_t price;
  std::int64_t qty;
};

struct QuoteRecord {
  std::int64_t bid_price, bid_qty, ask_price, ask_qty; // 0 qty: side empty
  std::int64_t last_price, last_qty;
  std::uint64_t last_trade_id;
  std::uint64_t last_trade_unix_ns;
  std::uint64_t update_id;      // venue id of the last applied book change
  std::uint64_t updated_unix_ns; // engine time of the last change
  std::uint8_t last_side;       // taker side of the last trade: 0 buy, 1 sell
  std::array<std::uint8_t, 7> reserved;
};

struct BookRecord {
  std::uint32_t bid_levels, ask_levels;
  std::array<PriceLevel, kBookDepth> bids; // best first
  std::array<PriceLevel, kBookDepth> asks;
  std::uint64_t update_id;
};

struct BarValues {
  std::uint64_t start_unix_ns;
  double open, high, low, close, volume;
  std::uint32_t trades;
  std::uint32_t closed; // 1 for a closed bar, 0 for the bar still forming
};

struct FeatureRecord {
  double mid, microprice, spread_bps, imbalance, trade_flow;
  double ret_fast, ret_slow, realized_vol, vwap;
  double rsi, bollinger_z, atr; // of the last closed 1 s bar; NaN until ready
  BarValues bar_1s, bar_1m;     // last closed
  std::uint64_t updated_unix_ns;
};

struct SignalRecord {
  double signal;     // [-1, 1]
  double confidence; // [0, 1]
  std::array<double, kMaxRegimes> regime; // posterior
  std::uint32_t regimes;
  std::uint32_t dominant;
  std::uint64_t updated_unix_ns;
};

struct HealthRecord {
  BookHealth health;
  std::array<std::uint8_t, 7> reserved;
  std::uint64_t book_updates, trades, gaps, resyncs, crossed, dropped_levels;
  std::uint64_t last_update_mono_ns;
};

// Paper position and P&L of one instrument (quote currency, base units; double, not fixed
// point: these are computed values, not venue prices).
struct PositionRecord {
  double qty;      // signed, base units
  double avg_cost; // of the open quantity
  double mark;     // the mid it is marked to
  double realized, unrealized, fees;
  double target;   // the sizing's target position
  std::uint64_t fills;
  std::uint64_t updated_unix_ns;
};

// Drift (v9) of the learned model's signal inputs on this instrument: each input's live values over
// the last `window` 1 s bar closes against its training distribution (the model file's bins), as a
// population stability index. A feature is judged once the window is full and at least half of it
// holds values (NaN inputs are not counted); above `bound` the signal's confidence is multiplied by
// `fade` = bound / the largest statistic. Feature names: ModelRecord::feature_names, same order.
struct DriftRecord {
  std::uint8_t features; // entries in use; 0: no learned model (nothing judged)
  std::uint8_t drifting; // 1: some judged feature is above the bound
  std::uint8_t worst;    // the feature with the largest judged statistic (kNoFeature: none judged)
  std::uint8_t reserved;
  std::uint32_t window;  // bar closes in a full window
  std::uint32_t bars;    // bar closes in the window now (<= window)
  std::uint32_t reserved2;
  double bound;          // [signal] drift_bound
  double fade;           // the confidence multiplier in force, 1: none
  std::array<double, kMaxModelFeatures> psi;            // NaN: not judged yet
  std::array<std::uint32_t, kMaxModelFeatures> samples; // values (not NaN) in the window
  std::uint64_t alarms;          // times the instrument went above the bound
  std::uint64_t updated_unix_ns; // engine time of the last bar close judged
};
inline constexpr std::uint8_t kNoFeature = 0xFF;

struct InstrumentState {
  Seqlock<QuoteRecord> quote;
  Seqlock<BookRecord> book;
  Seqlock<FeatureRecord> features;
  Seqlock<SignalRecord> signal;
  Seqlock<HealthRecord> health;
  Seqlock<PositionRecord> position;
  Seqlock<DriftRecord> drift; // v9
};

// ---------------------------------------------------------------------------------------------
// Section 1 (v7), after the instruments: composite books, one per configured asset. Each merges
// the top kBookDepth levels of its members (instruments of several venues) into one book: equal
// prices summed, each member's share kept. Prices and quantities are fixed point with the
// composite's decimals (the finest of its members'). A member is excluded while its book is not
// live or has not changed for the composite's stale_after_ms; an excluded member is listed with
// its reason and contributes nothing.

inline constexpr std::size_t kMaxComposites = 8;
inline constexpr std::size_t kMaxCompositeMembers = 8;
inline constexpr std::uint8_t kNoMember = 0xFF;

enum class CompositeExclusion : std::uint8_t { none = 0, not_live = 1, stale = 2, empty = 3 };

[[nodiscard]] constexpr const char* to_string(CompositeExclusion e) noexcept {
  switch (e) {
  case CompositeExclusion::none: return "none";
  case CompositeExclusion::not_live: return "not_live";
  case CompositeExclusion::stale: return "stale";
  case CompositeExclusion::empty: return "empty";
  }
  return "unknown";
}

// Static after start, like the instrument table.
struct CompositeInfo {
  std::array<char, 16> asset; // "BTC", NUL-terminated
  std::int8_t price_decimals, qty_decimals; // of every price and quantity of the record
  std::uint8_t members;
  std::uint8_t reserved;
  std::uint32_t stale_after_ms;
  std::array<std::uint16_t, kMaxCompositeMembers> instrument; // members' instrument indices
};

struct CompositeLevel {
  std::int64_t price, qty; // qty: summed over the included members
  std::array<std::int64_t, kMaxCompositeMembers> member_qty; // each member's share, by member index
};

struct CompositeMemberState {
  BookHealth health;             // the member's book health
  CompositeExclusion excluded;   // none: in the composite
  std::array<std::uint8_t, 6> reserved;
  std::int64_t bid_price, bid_qty, ask_price, ask_qty; // its own top (composite decimals), 0 qty: side empty
  std::uint64_t updated_unix_ns; // engine time of its last book change, 0 never
};

struct CompositeRecord {
  std::uint32_t bid_levels, ask_levels;
  std::uint8_t bid_member, ask_member; // best bid / ask member (the largest share at the best price), kNoMember: none
  std::uint8_t included;               // members in the composite
  std::uint8_t crossed;                // 1: the best bid is at or above the best ask (across venues)
  std::uint32_t reserved;
  std::array<CompositeLevel, kBookDepth> bids; // best first
  std::array<CompositeLevel, kBookDepth> asks;
  std::array<CompositeMemberState, kMaxCompositeMembers> member;
  std::uint64_t updates;         // recomputations published
  std::uint64_t updated_unix_ns; // engine time of the last one
};

struct CompositeTable {
  std::uint32_t count;
  std::uint32_t reserved;
  std::uint64_t checksum; // v12: checksum_of count, reserved and info (seal), 0 for an empty table
  std::array<CompositeInfo, kMaxComposites> info;
  std::array<Seqlock<CompositeRecord>, kMaxComposites> records;
};

[[nodiscard]] inline std::uint64_t static_checksum(const CompositeTable& t) noexcept {
  struct Static {
    std::uint32_t count, reserved;
    std::array<CompositeInfo, kMaxComposites> info;
  };
  return checksum_of(Static{t.count, t.reserved, t.info});
}
inline void seal(CompositeTable& t) noexcept { t.checksum = static_checksum(t); }
[[nodiscard]] inline bool intact(const CompositeTable& t) noexcept { return t.checksum == static_checksum(t); }

// Where section 1 keeps the CompositeTable (after the instruments' records).
inline constexpr std::size_t kCompositeOffset = sizeof(InstrumentState) * kMaxInstruments;
static_assert(kCompositeOffset % alignof(CompositeTable) == 0);
[[nodiscard]] inline CompositeTable* composite_table(void* records_section) noexcept {
  return reinterpret_cast<CompositeTable*>(static_cast<std::byte*>(records_section) + kCompositeOffset);
}
[[nodiscard]] inline const CompositeTable* composite_table(const void* records_section) noexcept {
  return reinterpret_cast<const CompositeTable*>(static_cast<const std::byte*>(records_section) + kCompositeOffset);
}

// ---------------------------------------------------------------------------------------------
// Section 2: feeds and engine counters

enum class ConnectionState : std::uint8_t { idle = 0, connecting = 1, connected = 2, disconnected = 3 };

[[nodiscard]] constexpr const char* to_string(ConnectionState c) noexcept {
  switch (c) {
  case ConnectionState::idle: return "idle";
  case ConnectionState::connecting: return "connecting";
  case ConnectionState::connected: return "connected";
  case ConnectionState::disconnected: return "disconnected";
  }
  return "unknown";
}

struct FeedRecord {
  std::array<char, 24> name;
  ConnectionState state;
  std::array<std::uint8_t, 7> reserved;
  std::uint64_t messages, bytes, parse_errors, reconnects, gaps, resyncs, drops;
  std::uint64_t ring_high_water;
  std::uint64_t record_dropped, record_write_errors; // the recorder's losses (layout v4)
};

// EngineRecord::sched_policy: the hot thread's scheduling policy.
enum class SchedPolicy : std::uint8_t { other = 0, fifo = 1, rr = 2, unknown = 3 };
// EngineRecord::threads: `[engine] threads` in force (inline may fall back to split).
enum class EngineThreads : std::uint8_t { inline_ = 0, split = 1 };

[[nodiscard]] constexpr const char* to_string(SchedPolicy p) noexcept {
  switch (p) {
  case SchedPolicy::other: return "SCHED_OTHER";
  case SchedPolicy::fifo: return "SCHED_FIFO";
  case SchedPolicy::rr: return "SCHED_RR";
  case SchedPolicy::unknown: break;
  }
  return "unknown";
}

[[nodiscard]] constexpr const char* to_string(EngineThreads t) noexcept {
  return t == EngineThreads::split ? "split" : "inline";
}

struct EngineRecord {
  std::uint64_t messages_in;      // venue messages parsed
  std::uint64_t events_processed; // events the core applied
  std::int32_t core_cpu;          // CPU the core thread runs on, -1 unknown
  std::uint32_t reserved;
  std::uint64_t updated_unix_ns;
  // v4: the profile in force on the hot thread, read back from the kernel once it is set up.
  std::int32_t hot_cpu;         // the one CPU the hot thread's affinity allows, -1 not pinned
  std::int32_t sched_priority;  // its real-time priority, 0 under SCHED_OTHER
  SchedPolicy sched_policy;
  EngineThreads threads;
  std::uint8_t tuned;           // 1: the tuned profile (pinned and real-time) is in force
  std::array<std::uint8_t, 5> reserved2;
};

// "tuned" when the hot thread is pinned and real-time, else "untuned".
[[nodiscard]] constexpr const char* profile_name(const EngineRecord& e) noexcept {
  return e.tuned != 0 ? "tuned" : "untuned";
}

// The learned model in force (v9): what [signal] model loaded at start or the last reload installed
// (core/README.md, "Model lifecycle"), and the last reload refused. loaded 0: the built-in parameters.
struct ModelFold {
  std::uint64_t test_rows;
  double ic, hit_rate;                             // out of sample
  double return_bps, sharpe_per_bar, max_drawdown_bps; // the paper strategy on the fold
  double buy_and_hold_bps;                         // the baseline over the same bars
};

struct ModelRecord {
  std::uint8_t loaded;   // 1: a learned model is in force
  std::uint8_t features; // entries of feature_names in use
  std::uint8_t folds;    // entries of fold in use
  std::uint8_t trees;    // 1: the model has a trees expert
  std::uint32_t validation_folds; // folds in the file (fold keeps the first kMaxModelFolds)
  std::uint32_t reloads;  // models installed by a reload command since start
  std::uint32_t refusals; // reload commands refused since start
  std::array<char, 24> id;    // "qf-<hash>", NUL-terminated
  std::array<char, 128> path; // the file (its tail when longer), NUL-terminated
  std::uint64_t train_start_ns, train_end_ns; // the training rows' time span
  std::uint64_t train_rows;
  std::uint64_t loaded_unix_ns; // when it was put in force
  double trees_weight;
  std::array<ModelFold, kMaxModelFolds> fold; // walk-forward validation, in fold order
  std::array<std::array<char, 16>, kMaxModelFeatures> feature_names;
  double drift_bound;
  std::uint32_t drift_window;
  std::uint32_t reserved;
  std::array<char, 192> last_refusal; // why the last reload was refused (names the difference), "" none
  std::uint64_t last_refusal_unix_ns;
  std::uint64_t updated_unix_ns;
};

struct FeedTable {
  std::uint32_t count;
  std::uint32_t reserved;
  Seqlock<EngineRecord> engine;
  std::array<Seqlock<FeedRecord>, kMaxFeeds> feeds;
  Seqlock<ModelRecord> model; // v9
};

// ---------------------------------------------------------------------------------------------
// Section 3: latency

struct LatencyTable {
  std::array<LatencyHistogram, kStageCount> stages;
};

// ---------------------------------------------------------------------------------------------
// Section 4: recent notable events (gaps, resyncs, reconnects, kill-switch trips, ...)

enum class NotableKind : std::uint8_t {
  info = 0, gap = 1, resync = 2, reconnect = 3, stale = 4, crossed = 5, control = 6,
  risk = 7,  // kill-switch trips and resets
  drift = 8, // a learned model's input left its training distribution (or came back), v9
};

[[nodiscard]] constexpr const char* to_string(NotableKind k) noexcept {
  switch (k) {
  case NotableKind::info: return "info";
  case NotableKind::gap: return "gap";
  case NotableKind::resync: return "resync";
  case NotableKind::reconnect: return "reconnect";
  case NotableKind::stale: return "stale";
  case NotableKind::crossed: return "crossed";
  case NotableKind::control: return "control";
  case NotableKind::risk: return "risk";
  case NotableKind::drift: return "drift";
  }
  return "unknown";
}

struct NotableEvent {
  std::uint64_t unix_ns;
  std::uint16_t instrument; // 0xFFFF: not about one instrument
  NotableKind kind;
  std::uint8_t reserved;
  std::array<char, 84> text; // NUL-terminated
};

// The tick journal (v6): every trade, every top-of-book change and every book health change, in
// order, for readers that must see each one (qf-bridge), not the newest state only.
enum class TickKind : std::uint8_t { trade = 0, bbo = 1, health = 2 };

[[nodiscard]] constexpr const char* to_string(TickKind k) noexcept {
  switch (k) {
  case TickKind::trade: return "trade";
  case TickKind::bbo: return "bbo";
  case TickKind::health: return "health";
  }
  return "unknown";
}

// Where a bbo tick's top comes from: the engine's order book (at a message end) or the venue's
// own best bid/offer stream (Binance bookTicker). Live, their interleaving depends on arrival.
enum class TickSource : std::uint8_t { book = 0, ticker = 1 };

[[nodiscard]] constexpr const char* to_string(TickSource s) noexcept {
  return s == TickSource::ticker ? "ticker" : "book";
}

struct TickRecord {
  TickKind kind;
  std::uint8_t side;     // trade: taker side, 0 buy, 1 sell
  BookHealth health;     // health: the new health; otherwise the instrument's health at the tick
  TickSource source;     // bbo: which top changed (each source's changes are journaled on their own)
  std::uint16_t instrument;
  std::uint16_t reserved2;
  std::int64_t price, qty;          // trade: price and quantity; bbo: best bid and its qty (0 qty: side empty)
  std::int64_t ask_price, ask_qty;  // bbo: best ask and its qty (0 qty: side empty)
  std::uint64_t id;                 // trade: trade id; bbo: venue update id
  std::uint64_t unix_ns;            // trade: exchange time (engine time when the venue sends none); else engine time
};
static_assert(sizeof(TickRecord) == 56, "a journal slot (sequence + record) is one cache line");

using TickJournal = BroadcastRing<TickRecord, kTickJournalSize>;

struct EventLog {
  std::atomic<std::uint64_t> written; // total ever written; entry i lives at i % kEventLogSize
  std::array<Seqlock<NotableEvent>, kEventLogSize> entries;
  TickJournal journal; // v6; engine appends, readers follow with a BroadcastCursor

  // Engine only.
  void append(const NotableEvent& e) noexcept {
    const std::uint64_t n = written.load(std::memory_order_relaxed);
    entries[n % kEventLogSize].store(e);
    written.store(n + 1, std::memory_order_release);
  }
};

// ---------------------------------------------------------------------------------------------
// Section 5: acknowledgements of control commands (control_layout.hpp), newest last

enum class ControlResult : std::uint8_t {
  done = 0,               // executed
  unknown_instrument = 1, // the command named no instrument this engine has
  unsupported = 2,        // the engine has no such action (or not in this mode)
  rejected = 3,           // refused; `text` says why
  expired = 4,            // not executed: its deadline had passed when the engine took it
};

[[nodiscard]] constexpr const char* to_string(ControlResult r) noexcept {
  switch (r) {
  case ControlResult::done: return "done";
  case ControlResult::unknown_instrument: return "unknown_instrument";
  case ControlResult::unsupported: return "unsupported";
  case ControlResult::rejected: return "rejected";
  case ControlResult::expired: return "expired";
  }
  return "unknown";
}

struct ControlAck {
  std::uint64_t id; // the command's id
  std::uint64_t unix_ns;
  ControlAction action;
  ControlResult result;
  std::uint16_t instrument;
  std::uint8_t refusal; // paper_order: index into kRefusalNames, 0 = accepted
  std::uint8_t pending; // paper_order accepted but still on its way to the book (paper latency)
  std::uint16_t reserved;
  std::array<char, 40> text; // NUL-terminated detail
  // v7, paper_order only: the engine's order id (0 when refused) and what filled at once.
  std::uint64_t order_id;
  double filled_qty, avg_price, fee;
  // v10, paper_order only: the quantity sent, the asked one rounded down to the instrument's lot.
  double qty;
};

// The account as a whole (quote currency).
struct PortfolioRecord {
  double initial_capital, cash, equity, peak_equity, drawdown; // drawdown: (peak - equity) / peak
  double daily_pnl, day_start_equity;                          // UTC day
  double realized, unrealized, fees, gross_exposure;
  std::uint64_t fills, orders;
  std::uint64_t updated_unix_ns;
};

// Kill-switch modes and causes (the names match the core's KillMode / KillCause).
enum class KillModeCode : std::uint8_t { none = 0, halt = 1, reduce_only = 2, flatten = 3 };
enum class KillCauseCode : std::uint8_t { none = 0, drawdown = 1, daily_loss = 2, rate_limit = 3, command = 4 };

[[nodiscard]] constexpr const char* to_string(KillModeCode m) noexcept {
  switch (m) {
  case KillModeCode::none: return "none";
  case KillModeCode::halt: return "halt";
  case KillModeCode::reduce_only: return "reduce-only";
  case KillModeCode::flatten: return "flatten";
  }
  return "unknown";
}
[[nodiscard]] constexpr const char* to_string(KillCauseCode c) noexcept {
  switch (c) {
  case KillCauseCode::none: return "none";
  case KillCauseCode::drawdown: return "drawdown";
  case KillCauseCode::daily_loss: return "daily_loss";
  case KillCauseCode::rate_limit: return "rate_limit";
  case KillCauseCode::command: return "command";
  }
  return "unknown";
}
// Refusal reasons by index in RiskRecord::refusals (the core's Refusal enum).
inline constexpr std::array<const char*, kMaxRefusalReasons> kRefusalNames = {
    "none", "kill_switch", "book_not_live", "price_band", "order_notional", "position_limit",
    "gross_exposure", "daily_loss", "rate_limit", "pending", "below_lot", ""};

// Limits, usage and the kill switch.
struct RiskRecord {
  KillModeCode kill_mode; // none: not tripped
  KillCauseCode kill_cause;
  std::uint8_t enabled; // paper trading on
  std::uint8_t refusal_reasons; // entries of `refusals` in use
  std::uint32_t reserved;
  std::uint64_t kill_since_unix_ns;
  std::uint64_t kill_trips;
  // limits
  double max_drawdown, daily_loss_limit, max_order_notional, max_position_notional, max_gross_notional;
  double price_band_bps;
  std::uint32_t orders_per_s_instrument, orders_per_min_instrument, orders_per_s_total, orders_per_min_total;
  // usage
  std::uint32_t orders_last_s, orders_last_min; // overall
  std::array<std::uint64_t, kMaxRefusalReasons> refusals;
  std::uint64_t updated_unix_ns;
};

struct FillRecord {
  std::uint64_t unix_ns;
  std::uint64_t order_id;
  std::uint16_t instrument;
  std::uint8_t side; // 0 buy, 1 sell
  std::uint8_t reserved[5];
  double qty, price, fee, realized;
};

struct ControlLog {
  std::atomic<std::uint64_t> written; // total ever written; entry i lives at i % kControlLogSize
  std::array<Seqlock<ControlAck>, kControlLogSize> entries;
  // v3: risk and paper execution live in this section (the header has six sections).
  Seqlock<PortfolioRecord> portfolio;
  Seqlock<RiskRecord> risk;
  std::atomic<std::uint64_t> fills_written; // entry i lives at i % kFillLogSize
  std::array<Seqlock<FillRecord>, kFillLogSize> fills;

  // Engine only.
  void append(const ControlAck& a) noexcept {
    const std::uint64_t n = written.load(std::memory_order_relaxed);
    entries[n % kControlLogSize].store(a);
    written.store(n + 1, std::memory_order_release);
  }
  void append_fill(const FillRecord& f) noexcept {
    const std::uint64_t n = fills_written.load(std::memory_order_relaxed);
    fills[n % kFillLogSize].store(f);
    fills_written.store(n + 1, std::memory_order_release);
  }
};

static_assert(std::is_trivially_copyable_v<ControlAck>);
static_assert(std::is_trivially_copyable_v<InstrumentTable>);
static_assert(std::is_trivially_copyable_v<QuoteRecord>);
static_assert(std::is_trivially_copyable_v<BookRecord>);
static_assert(std::is_trivially_copyable_v<FeatureRecord>);
static_assert(std::is_trivially_copyable_v<SignalRecord>);
static_assert(std::is_trivially_copyable_v<HealthRecord>);
static_assert(std::is_trivially_copyable_v<FeedRecord>);
static_assert(std::is_trivially_copyable_v<EngineRecord>);
static_assert(std::is_trivially_copyable_v<NotableEvent>);
static_assert(std::is_trivially_copyable_v<PositionRecord>);
static_assert(std::is_trivially_copyable_v<PortfolioRecord>);
static_assert(std::is_trivially_copyable_v<RiskRecord>);
static_assert(std::is_trivially_copyable_v<FillRecord>);
static_assert(std::is_trivially_copyable_v<CompositeInfo>);
static_assert(std::is_trivially_copyable_v<CompositeRecord>);
static_assert(std::is_trivially_copyable_v<DriftRecord>);
static_assert(std::is_trivially_copyable_v<ModelRecord>);
static_assert(sizeof(NotableEvent) == 96);
static_assert(sizeof(EngineRecord) == 48);

// Section sizes in order, for SegmentOptions::section_bytes.
[[nodiscard]] inline std::array<std::size_t, 6> state_section_bytes() noexcept {
  return {sizeof(InstrumentTable), kCompositeOffset + sizeof(CompositeTable), sizeof(FeedTable), sizeof(LatencyTable),
          sizeof(EventLog), sizeof(ControlLog)};
}

} // namespace qf::ipc
