#pragma once
// BookSync: the Coinbase Exchange feed's synchronisation for every product of one connection
// (PROTOCOLS.md 3.1), between the Parser and the core. level2 carries no sequence, so there is
// nothing to chain: a product's book goes live on its `snapshot` (snapshot_begin, levels,
// snapshot_end, book_live) and every l2update after it is applied as it comes; an l2update
// before the snapshot, or after a disconnect until the fresh snapshot, is dropped (counted).
// on_disconnect() marks every book not live (disconnected status) - the only recovery is a
// resubscribe, whose snapshot brings the book back. Matches and tickers pass through as trade and
// bbo events; matches also feed the trade-gap check: once a product's trades are tracked (its
// first match or last_match), a heartbeat whose last_trade_id is beyond the last trade seen
// means trades were missed: a gap status (seq = last_trade_id), then book_live again when the
// book is live (a missed trade does not make the book wrong). Feed thread, one object per
// connection, no allocation after construction. Deleting an unknown level is normal, not an error.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/resubscribe_books.hpp"

namespace qf::feeds::coinbase {

// syncing: no snapshot yet, or disconnected / resync requested since the last one; live: a
// snapshot was applied on this connection.
using BookState = SubscribedBookState;

enum class SyncOutcome : std::uint8_t {
  snapshot_applied, // the book was replaced; state live
  applied,          // an l2update went to the live book
  not_live,         // an l2update while not live: dropped (counted)
  passed,           // a ticker (bbo) or match (trade) went out
  heartbeat_ok,     // a heartbeat with no missed trade
  trade_gap,        // a heartbeat showed missed trades: gap status emitted
  ignored,          // an unknown instrument id, or a message kind with no events
};

struct BookSyncCounters {
  std::uint64_t snapshots_applied = 0;
  std::uint64_t applied_updates = 0;
  std::uint64_t dropped_not_live = 0; // l2updates before the (fresh) snapshot
  std::uint64_t trades = 0;
  std::uint64_t tickers = 0;
  std::uint64_t heartbeats = 0;
  std::uint64_t trade_gaps = 0;    // heartbeats that showed missed trades
  std::uint64_t missed_trades = 0; // sum of last_trade_id - last trade seen over those
  std::uint64_t disconnects = 0;   // on_disconnect calls
  std::uint64_t resyncs = 0;       // manual resync requests
};

// One product's state (BookSync's slot).
struct ProductSlot : SyncSlot<BookSyncCounters> {
  bool trades_tracked = false;
  std::uint64_t last_trade_id = 0;
};

// resync (level2 has no other way back to a snapshot than a resubscribe), take_resubscribe_request,
// state, counters, instruments, ignored: ResubscribeBooks.
class BookSync : public ResubscribeBooks<ProductSlot> {
public:
  // Products are instrument ids 0 .. instruments-1 (the Parser's ids). Throws
  // std::invalid_argument unless instruments is in [1, 65535).
  explicit BookSync(std::size_t instruments);

  // Any parsed message of this connection.
  SyncOutcome on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

  // The connection dropped: every book is not live until its next snapshot; emits a
  // `disconnected` status per product and forgets the tracked trade ids (the resubscribe
  // replays a last_match).
  void on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept override;

  // The last trade id seen for the product (match, last_match or a gap's heartbeat); 0 untracked.
  [[nodiscard]] std::uint64_t last_trade_id(core::InstrumentId instrument) const noexcept;
};

} // namespace qf::feeds::coinbase
