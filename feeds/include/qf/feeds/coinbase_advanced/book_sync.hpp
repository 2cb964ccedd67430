#pragma once
// BookSync: the Coinbase Advanced Trade synchronisation for every product of one connection
// (PROTOCOLS.md 3.2), between the Parser and the core. Integrity is `sequence_num`, one counter
// per connection across every channel (0 for the connection's first message, +1 per message):
// a message whose sequence_num is not the expected one means a message was lost (or repeated),
// and since any channel's message of any product may be the lost one, it is a gap for every
// book: each live book gets a `gap` status and goes not live, and every product asks for a
// resubscribe of its level2 (the only repair is a fresh snapshot; there is no REST and no
// checksum). The message that revealed the gap is then handled as usual (a snapshot in it is
// whole; an update in it is dropped as not live). The counter then follows the message's number.
// A product's book goes live on its `snapshot` event (snapshot_begin, levels, snapshot_end,
// book_live); updates go to a live book as they come (absolute quantities, 0 deletes; an unknown
// level's delete is normal) and are dropped (counted) before the snapshot. The feed keeps no copy
// of the book: with no checksum there is nothing to verify against one. Tickers with their best
// levels go out as bbo events; trades of `update` events as trade events, oldest first (the
// snapshot's recent trades are history, and would count twice after each reconnect). Feed thread,
// one object per connection, no allocation after construction.

#include <cstddef>
#include <cstdint>

#include "qf/core/event.hpp"
#include "qf/feeds/coinbase_advanced/parser.hpp"
#include "qf/feeds/resubscribe_books.hpp"

namespace qf::feeds::coinbase_advanced {

using BookState = SubscribedBookState;

struct BookSyncCounters {
  std::uint64_t snapshots_applied = 0;
  std::uint64_t applied_updates = 0;
  std::uint64_t dropped_not_live = 0; // update events before the (fresh) snapshot
  std::uint64_t gaps = 0;             // sequence gaps that took this live book down
  std::uint64_t trades = 0;
  std::uint64_t tickers = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t resyncs = 0; // manual resync requests
};

// What one message did (a message may carry several products).
struct SyncReport {
  bool sequence_gap = false;    // its sequence_num was not the expected one
  std::size_t gap_books = 0;    // live books that gap took down (one `gap` status each)
  std::size_t snapshots = 0;    // snapshot events applied (book_live each)
  std::size_t updates = 0;      // update events applied
  std::size_t dropped = 0;      // update events dropped: not live
  std::size_t passed = 0;       // tickers with best levels and new trades sent
};

struct ConnectionCounters {
  std::uint64_t messages = 0;        // messages with a sequence_num
  std::uint64_t sequence_gaps = 0;   // breaks of the sequence_num chain (once each, whatever the books)
  std::uint64_t missed_messages = 0; // the sum of the numbers skipped by forward breaks
  std::uint64_t regressions = 0;     // breaks to a number at or below the last one
  std::uint64_t heartbeats = 0;
  std::uint64_t last_heartbeat_counter = 0;
  std::uint64_t snapshot_trades = 0; // history trades of market_trades snapshots, not sent
};

// resync, take_resubscribe_request, state, counters, instruments, ignored: ResubscribeBooks.
class BookSync : public ResubscribeBooks<SyncSlot<BookSyncCounters>> {
public:
  // Products are instrument ids 0 .. instruments-1 (the Parser's ids). Throws
  // std::invalid_argument unless instruments is in [1, 65535).
  explicit BookSync(std::size_t instruments);

  // Any parsed message of this connection, in arrival order.
  SyncReport on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  // A message the parser refused as unknown_instrument because none of its products is ours
  // (Message::unregistered_only): Coinbase numbered it on the connection's chain all the same, so
  // the chain advances (or breaks) on its number; nothing of it is applied.
  SyncReport on_unregistered(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  // The connection dropped: every book not live (`disconnected` each) until its next snapshot,
  // and the next connection's sequence_num starts at 0 again.
  void on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept override;

  [[nodiscard]] const ConnectionCounters& connection() const noexcept { return connection_; }
  // The sequence_num the next message must carry.
  [[nodiscard]] std::uint64_t expected_sequence() const noexcept { return expected_; }

private:
  std::uint64_t expected_ = 0;
  ConnectionCounters connection_;
};

} // namespace qf::feeds::coinbase_advanced
