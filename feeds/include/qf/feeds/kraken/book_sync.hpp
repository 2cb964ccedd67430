#pragma once
// BookSync: the Kraken WS v2 book synchronisation for every symbol of one connection
// (PROTOCOLS.md 4.2). Kraken sends no sequence numbers; integrity is the CRC32 `checksum` on the
// snapshot and on every update. Per symbol this keeps the book as the venue defines it: the top
// `depth` levels a side, every level of a message applied (qty 0 deletes) and then truncated to
// depth (no delete comes for levels pushed out of scope), and checks the CRC32 (zlib) of the top
// 10 asks (ascending) then top 10 bids (descending), each price and qty printed at the pair's
// precision with the point and leading zeros removed. A match: the message's events go out
// (levels truncated out of scope follow as qty-0 deletes, so the core's book stays the venue's
// book). A mismatch is a gap: counted, a gap status, the book not live and a resubscribe request
// (the only way back is a fresh snapshot); updates until then are dropped (counted). Trades and
// tickers pass through. Feed thread, one object per connection, no allocation after add_instrument.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/kraken/parser.hpp"
#include "qf/feeds/resubscribe_books.hpp"

namespace qf::feeds::kraken {

// syncing: no (verified) snapshot yet, or a checksum mismatch / disconnect / resync since;
// live: the book matches the venue's checksum.
using BookState = SubscribedBookState;

enum class SyncOutcome : std::uint8_t {
  snapshot_applied, // the book was replaced and verified (or carried no checksum); live
  applied,          // an update went to the live book and verified
  mismatch,         // the checksum did not match: gap, not live, resubscribe requested
  not_live,         // an update while not live: dropped (counted)
  passed,           // a ticker (bbo) or trades went out
  ignored,          // an unknown instrument id, or a kind with no events (heartbeat, status, ...)
};

struct BookSyncCounters {
  std::uint64_t snapshots_applied = 0;
  std::uint64_t applied_updates = 0;
  std::uint64_t checksums_verified = 0;  // book messages whose checksum matched
  std::uint64_t checksum_mismatches = 0; // book messages whose checksum did not (gaps)
  std::uint64_t dropped_not_live = 0;    // updates before the (fresh) snapshot
  std::uint64_t truncated_levels = 0;    // levels pushed out of depth
  std::uint64_t trades = 0;
  std::uint64_t tickers = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t resyncs = 0; // manual resync requests
};

// One symbol's kept book (BookSync's slot).
struct BookSlot : SyncSlot<BookSyncCounters> {
  int price_shift = 0; // price_decimals - price_precision
  int qty_shift = 0;
  std::vector<core::Level> bids; // capacity depth + max levels of a message: no allocation
  std::vector<core::Level> asks;
};

// resync, take_resubscribe_request, state, counters, instruments, ignored: ResubscribeBooks.
class BookSync : public ResubscribeBooks<BookSlot> {
public:
  // `depth`: the subscribed book depth (10, 25, 100, 500, 1000). Throws std::invalid_argument
  // when instruments is 0 or above 65535, or depth is 0.
  BookSync(std::size_t instruments, std::size_t depth = 10, std::size_t max_levels_per_message = 1'024);

  // The decimals the parser uses for the symbol and the venue's precision the checksum is printed
  // at (BTC/USD: 1 and 8). Decimals below the precision are refused. Start-up; throws
  // std::invalid_argument on an unknown id or bad values.
  void set_precision(core::InstrumentId instrument, int price_decimals, int qty_decimals, int price_precision,
                     int qty_precision);

  SyncOutcome on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  // The connection dropped: every book not live (disconnected status) until its next snapshot.
  void on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept override;
  // The kept book: bids descending, asks ascending, at most depth each.
  [[nodiscard]] const std::vector<core::Level>& bids(core::InstrumentId instrument) const noexcept;
  [[nodiscard]] const std::vector<core::Level>& asks(core::InstrumentId instrument) const noexcept;
  // The CRC32 of the kept book as the venue computes it.
  [[nodiscard]] std::uint32_t checksum(core::InstrumentId instrument) const noexcept;

private:
  using Book = BookSlot;

  void apply(Book& b, const Message& m) noexcept;
  // The message's checksum against the kept book: true when it matches (counted) or is absent;
  // a mismatch is a gap (counted, gap status, not live, resubscribe requested).
  [[nodiscard]] bool verify(Book& b, const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

  std::size_t depth_;
  std::size_t max_levels_;
  std::vector<core::Level> out_bids_; // a message's levels plus the truncated deletes
  std::vector<core::Level> out_asks_;
  mutable std::vector<char> text_;    // the checksum text (scratch of checksum())
  static const std::vector<core::Level> kNoLevels;
};

} // namespace qf::feeds::kraken
