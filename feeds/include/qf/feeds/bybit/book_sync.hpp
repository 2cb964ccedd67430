#pragma once
// BookSync: the Bybit v5 `orderbook` synchronisation for every symbol of one connection
// (PROTOCOLS.md 5.2). Bybit sends no checksum; integrity is the update id chain:
//  - a `snapshot` (first, or mid-stream) replaces the book, and so does any message with u == 1
//    (the service restarted);
//  - a `delta` must carry u == the previous u + 1 (verified on real data, 49 of 49) and a `seq`
//    (the cross sequence) above the previous one; a break or a regression is a gap: counted, a gap
//    status, the book not live and a resubscribe request (only a fresh snapshot repairs it);
//    deltas until then are dropped (counted).
// The book is kept to the topic's depth a side (levels pushed beyond go to the core as size-0
// deletes, so the core's book is the venue's). Trades pass through; tickers are merged per symbol
// (a linear delta carries only the changed fields) and go out as a bbo once both sides are known.
// Feed thread, one object per connection, no allocation after construction.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/bybit/parser.hpp"
#include "qf/feeds/resubscribe_books.hpp"

namespace qf::feeds::bybit {

using BookState = SubscribedBookState;

enum class SyncOutcome : std::uint8_t {
  snapshot_applied, // the book was replaced; live
  applied,          // a delta chained and went to the live book
  sequence_gap,     // u broke the chain or seq went back: gap, not live, resubscribe requested
  not_live,         // a delta while not live: dropped (counted)
  passed,           // trades or a (merged) ticker went out
  ignored,          // an unknown instrument id, a ticker without both sides yet, or an op answer
};

struct BookSyncCounters {
  std::uint64_t snapshots_applied = 0;
  std::uint64_t restarts = 0;          // u == 1 on a delta: the service restarted (a reset)
  std::uint64_t applied_updates = 0;
  std::uint64_t sequence_gaps = 0;     // deltas whose u was not the previous u + 1 (gaps)
  std::uint64_t seq_regressions = 0;   // deltas whose seq was not above the previous (gaps)
  std::uint64_t dropped_not_live = 0;  // deltas before the (fresh) snapshot
  std::uint64_t truncated_levels = 0;  // levels pushed beyond the depth
  std::uint64_t trades = 0;
  std::uint64_t tickers = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t resyncs = 0; // manual resync requests
};

struct BookSlot : SyncSlot<BookSyncCounters> {
  std::uint64_t last_u = 0;
  std::uint64_t last_seq = 0;
  std::uint8_t ticker_fields = 0; // merged ticker fields known
  core::Level ticker_bid{};
  core::Level ticker_ask{};
  std::vector<core::Level> bids; // capacity depth + max levels of a message: no allocation
  std::vector<core::Level> asks;
};

// resync, take_resubscribe_request, state, counters, instruments, ignored: ResubscribeBooks.
class BookSync : public ResubscribeBooks<BookSlot> {
public:
  // `max_depth`: the deepest book kept (a topic's depth above it is kept to it). Throws
  // std::invalid_argument when instruments is 0 or above 65535, or a size is 0.
  BookSync(std::size_t instruments, std::size_t max_depth = 1'000, std::size_t max_levels_per_message = 1'024);

  SyncOutcome on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  // The connection dropped: every book not live (disconnected status) until its next snapshot.
  void on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept override;

  // The kept book: bids descending, asks ascending.
  [[nodiscard]] const std::vector<core::Level>& bids(core::InstrumentId instrument) const noexcept;
  [[nodiscard]] const std::vector<core::Level>& asks(core::InstrumentId instrument) const noexcept;

private:
  [[nodiscard]] SyncOutcome on_ticker(BookSlot& b, const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

  std::size_t max_depth_;
  std::vector<core::Level> out_bids_; // a message's levels plus the truncated deletes
  std::vector<core::Level> out_asks_;
  static const std::vector<core::Level> kNoLevels;
};

} // namespace qf::feeds::bybit
