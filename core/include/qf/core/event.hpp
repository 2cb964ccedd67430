#pragma once
// The normalized market event: one trivially copyable 64-byte struct that feed threads push
// through the SPSC ring to the core thread. Prices and quantities are int64 fixed point with
// the instrument's decimals (converted exactly once, at the feed edge). Two clocks travel
// with every event: the venue's exchange time and the local receive time (TSC ticks of the
// engine's TscClock), plus the push time so the core can split parse and queue latency.

#include <cstdint>
#include <type_traits>

namespace qf::core {

using InstrumentId = std::uint16_t;

enum class EventKind : std::uint8_t {
  book_level = 0,     // set one level: price, qty (0 deletes); side in `side`
  snapshot_begin = 1, // the instrument's book is replaced by the levels up to snapshot_end
  snapshot_end = 2,
  bbo = 3,    // best bid/ask: bbo layout
  trade = 4,  // price, qty, aggressor side, trade id in `seq`
  status = 5, // feed/instrument status: `status` code
};

enum class Side : std::uint8_t { bid = 0, ask = 1 };

// One price level (a book's, a message's): fixed point at the instrument's decimals.
struct Level {
  std::int64_t price;
  std::int64_t qty;
  friend bool operator==(const Level&, const Level&) = default;
};

enum class FeedStatus : std::uint8_t {
  connected = 0,
  subscribed = 1,
  book_live = 2,
  gap = 3,
  resync = 4,
  stale = 5,
  disconnected = 6,
};

// Flags word: bits any kind may set.
inline constexpr std::uint8_t kFlagLastInMessage = 1U << 0; // last event of one venue message

struct Event {
  EventKind kind;
  Side side;
  std::uint8_t flags;
  FeedStatus status;
  InstrumentId instrument;
  std::uint16_t reserved;
  std::uint32_t push_delta_ticks; // pushed - received, TscClock ticks, saturating
  std::uint32_t reserved2;
  std::uint64_t seq;        // venue update id (depth: final id `u`; bbo: its `u`), trade id
  std::uint64_t recv_ticks; // frame received by the feed thread, TscClock ticks
  union {
    struct {
      std::int64_t price;
      std::int64_t qty;
      std::uint64_t exchange_ns; // venue event time, Unix ns (0 if the venue sends none)
      std::uint64_t reserved;
    } level; // book_level, trade, snapshot_*, status
    struct {
      std::int64_t bid_price;
      std::int64_t bid_qty;
      std::int64_t ask_price;
      std::int64_t ask_qty;
    } bbo; // bbo: no room for exchange time (Binance spot bookTicker carries none anyway)
  };
};

static_assert(sizeof(Event) == 64, "one event is one cache line");

static_assert(std::is_trivially_copyable_v<Event>);

} // namespace qf::core
