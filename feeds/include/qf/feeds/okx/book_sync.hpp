#pragma once
// BookSync: the OKX v5 `books` synchronisation for every instrument of one connection
// (PROTOCOLS.md 6.2). Two checks, each when the venue provides it:
//  - the sequence chain: an update's `prevSeqId` must equal the previous message's `seqId`
//    (the snapshot's `prevSeqId` is -1; an idle update repeats seqId == prevSeqId; after
//    maintenance seqId may restart lower, which the chain allows);
//  - the CRC32 `checksum` (a non-zero one: OKX sends 0 since 2026-06-23): zlib CRC32 of the top 25
//    levels interleaved `bid1px:bid1sz:ask1px:ask1sz:...` (a side's missing levels skipped), as a
//    signed 32-bit int, every value printed as OKX prints it (no trailing zeros, no point for an
//    integer; the capture shows no other form).
// A break or a mismatch is a gap: counted, a gap status, the book not live and a resubscribe
// request (only a fresh snapshot repairs it); updates until then are dropped (counted). A book is
// only published (its events sent) after it passed both checks. The book is kept to `depth` levels
// a side (the channel's 400): levels pushed beyond go to the core as size-0 deletes. Trades,
// tickers and bbo-tbt pass through. Feed thread, one object per connection, no allocation after
// construction.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/okx/parser.hpp"
#include "qf/feeds/resubscribe_books.hpp"

namespace qf::feeds::okx {

// syncing: no (verified) snapshot yet, or a gap / disconnect / resync since; live: the book
// passed the venue's checks.
using BookState = SubscribedBookState;

enum class SyncOutcome : std::uint8_t {
  snapshot_applied, // the book was replaced and verified (or carried no checksum); live
  applied,          // an update chained, went to the live book and verified
  mismatch,         // the checksum did not match: gap, not live, resubscribe requested
  sequence_gap,     // prevSeqId is not the previous seqId: gap, not live, resubscribe requested
  not_live,         // an update while not live: dropped (counted)
  passed,           // a ticker, bbo or trades went out
  ignored,          // an unknown instrument id, or a kind with no events (acks, pong, ...)
};

struct BookSyncCounters {
  std::uint64_t snapshots_applied = 0;
  std::uint64_t applied_updates = 0;
  std::uint64_t checksums_verified = 0;  // book messages whose checksum matched
  std::uint64_t checksum_mismatches = 0; // book messages whose checksum did not (gaps)
  std::uint64_t sequence_gaps = 0;       // updates whose prevSeqId broke the chain (gaps)
  std::uint64_t dropped_not_live = 0;    // updates before the (fresh) snapshot
  std::uint64_t truncated_levels = 0;    // levels pushed beyond depth
  std::uint64_t trades = 0;
  std::uint64_t tickers = 0; // tickers and bbo-tbt
  std::uint64_t disconnects = 0;
  std::uint64_t resyncs = 0; // manual resync requests
};

// One instrument's kept book (BookSync's slot).
struct BookSlot : SyncSlot<BookSyncCounters> {
  bool has_seq = false; // the chain started (the last applied message carried seqId)
  std::int64_t last_seq = 0;
  int price_decimals = 0;
  int qty_decimals = 0;
  std::vector<core::Level> bids; // capacity depth + max levels of a message: no allocation
  std::vector<core::Level> asks;
};

// resync, take_resubscribe_request, state, counters, instruments, ignored: ResubscribeBooks.
class BookSync : public ResubscribeBooks<BookSlot> {
public:
  static constexpr std::size_t kChecksumLevels = 25; // the venue's checksum covers the top 25 a side

  // Throws std::invalid_argument when instruments is 0 or above 65535, or depth is below 25.
  BookSync(std::size_t instruments, std::size_t depth = 400, std::size_t max_levels_per_message = 1'024);
  // The instrument's price and size decimals (the parser's: the checksum prints values back from
  // them). Start-up; throws std::invalid_argument on an unknown id or decimals outside [0, 18].
  void set_decimals(core::InstrumentId instrument, int price_decimals, int qty_decimals);

  SyncOutcome on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;
  // The connection dropped: every book not live (disconnected status) until its next snapshot.
  void on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept;

  // The kept book: bids descending, asks ascending, at most depth each.
  [[nodiscard]] const std::vector<core::Level>& bids(core::InstrumentId instrument) const noexcept;
  [[nodiscard]] const std::vector<core::Level>& asks(core::InstrumentId instrument) const noexcept;
  // The signed CRC32 of the kept book as the venue computes it.
  [[nodiscard]] std::int32_t checksum(core::InstrumentId instrument) const noexcept;

private:
  // A gap: counted by the caller, gap status, not live, resubscribe requested.
  static void gap(BookSlot& b, const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept;

  std::size_t depth_;
  std::size_t max_levels_;
  std::vector<core::Level> out_bids_; // a message's levels plus the truncated deletes
  std::vector<core::Level> out_asks_;
  mutable std::vector<char> text_; // the checksum text (scratch of checksum())
  static const std::vector<core::Level> kNoLevels;
};

} // namespace qf::feeds::okx
