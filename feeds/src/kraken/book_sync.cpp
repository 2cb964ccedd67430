#include "qf/feeds/kraken/book_sync.hpp"

#include <zlib.h>

#include <algorithm>
#include <stdexcept>

#include "qf/feeds/emitters.hpp"
#include "kept_book.hpp"

namespace qf::feeds::kraken {

namespace {

constexpr std::size_t kChecksumLevels = 10; // the venue's checksum covers the top 10 a side

constexpr std::int64_t kPow10[19] = {1,
                                     10,
                                     100,
                                     1'000,
                                     10'000,
                                     100'000,
                                     1'000'000,
                                     10'000'000,
                                     100'000'000,
                                     1'000'000'000,
                                     10'000'000'000,
                                     100'000'000'000,
                                     1'000'000'000'000,
                                     10'000'000'000'000,
                                     100'000'000'000'000,
                                     1'000'000'000'000'000,
                                     10'000'000'000'000'000,
                                     100'000'000'000'000'000,
                                     1'000'000'000'000'000'000};

// A value printed at the venue's precision without point or leading zeros: the fixed-point
// integer at that precision in decimal ("29430.2" at 1 -> 294302, "0.001" at 8 -> 100000).
std::size_t put_digits(std::int64_t value, int shift, char* out, std::size_t at) noexcept {
  std::uint64_t v = static_cast<std::uint64_t>(value < 0 ? -value : value) / static_cast<std::uint64_t>(kPow10[shift]);
  char digits[20];
  std::size_t n = 0;
  while (v != 0) {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  while (n != 0) {
    out[at++] = digits[--n];
  }
  return at;
}

} // namespace

const std::vector<core::Level> BookSync::kNoLevels{};

BookSync::BookSync(std::size_t instruments, std::size_t depth, std::size_t max_levels_per_message)
    : ResubscribeBooks(instruments, "kraken::BookSync"), depth_(depth), max_levels_(max_levels_per_message) {
  if (depth == 0 || max_levels_per_message == 0) {
    throw std::invalid_argument("kraken::BookSync: depth and max levels must be positive");
  }
  for (Book& b : slots_) {
    b.bids.reserve(depth_ + max_levels_);
    b.asks.reserve(depth_ + max_levels_);
  }
  out_bids_.reserve(depth_ + 2 * max_levels_);
  out_asks_.reserve(depth_ + 2 * max_levels_);
  text_.resize(2 * kChecksumLevels * 2 * 20);
}

void BookSync::set_precision(core::InstrumentId instrument, int price_decimals, int qty_decimals, int price_precision,
                             int qty_precision) {
  if (instrument >= slots_.size() || price_precision < 0 || qty_precision < 0 || price_decimals < price_precision ||
      qty_decimals < qty_precision || price_decimals > 18 || qty_decimals > 18) {
    throw std::invalid_argument("kraken::BookSync: unknown instrument, or decimals below the venue precision");
  }
  slots_[instrument].price_shift = price_decimals - price_precision;
  slots_[instrument].qty_shift = qty_decimals - qty_precision;
}

void BookSync::apply(Book& b, const Message& m) noexcept {
  b.counters.truncated_levels += detail::apply_levels(b.bids, b.asks, m.bids, m.asks, depth_, out_bids_, out_asks_);
}

std::uint32_t BookSync::checksum(core::InstrumentId instrument) const noexcept {
  if (instrument >= slots_.size()) {
    return 0;
  }
  const Book& b = slots_[instrument];
  char* out = text_.data();
  std::size_t n = 0;
  for (const std::vector<core::Level>* side : {&b.asks, &b.bids}) {
    const std::size_t levels = std::min(side->size(), kChecksumLevels);
    for (std::size_t i = 0; i < levels; ++i) {
      n = put_digits((*side)[i].price, b.price_shift, out, n);
      n = put_digits((*side)[i].qty, b.qty_shift, out, n);
    }
  }
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out), static_cast<uInt>(n));
  return static_cast<std::uint32_t>(crc);
}

bool BookSync::verify(Book& b, const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (!m.has_checksum) {
    return true; // nothing to check against
  }
  if (checksum(m.instrument) == m.checksum) {
    ++b.counters.checksums_verified;
    return true;
  }
  b.state = BookState::syncing;
  b.resubscribe = true;
  ++b.counters.checksum_mismatches;
  emit_status(m.instrument, core::FeedStatus::gap, 0, m.time_ns, recv_ticks, sink);
  return false;
}

SyncOutcome BookSync::on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  const bool book_message = m.kind == MessageKind::book_snapshot || m.kind == MessageKind::book_update;
  if (book_message && m.instrument >= slots_.size()) {
    ++ignored_;
    return SyncOutcome::ignored;
  }
  switch (m.kind) {
  case MessageKind::book_snapshot: {
    Book& b = slots_[m.instrument];
    b.bids.clear();
    b.asks.clear();
    apply(b, m);
    if (!verify(b, m, recv_ticks, sink)) {
      return SyncOutcome::mismatch;
    }
    (void)emit_snapshot(m.instrument, b.bids, b.asks, 0, m.time_ns, recv_ticks, sink);
    b.state = BookState::live;
    ++b.counters.snapshots_applied;
    emit_status(m.instrument, core::FeedStatus::book_live, 0, m.time_ns, recv_ticks, sink);
    return SyncOutcome::snapshot_applied;
  }
  case MessageKind::book_update: {
    Book& b = slots_[m.instrument];
    if (b.state != BookState::live) {
      ++b.counters.dropped_not_live;
      return SyncOutcome::not_live;
    }
    apply(b, m);
    if (!verify(b, m, recv_ticks, sink)) {
      return SyncOutcome::mismatch;
    }
    (void)emit_levels(m.instrument, out_bids_, out_asks_, 0, m.time_ns, recv_ticks, true, sink);
    ++b.counters.applied_updates;
    return SyncOutcome::applied;
  }
  case MessageKind::ticker:
    if (m.instrument < slots_.size()) {
      ++slots_[m.instrument].counters.tickers;
    }
    (void)emit_events(m, recv_ticks, sink);
    return SyncOutcome::passed;
  case MessageKind::trade:
    for (const Trade& t : m.trades) {
      if (t.instrument < slots_.size()) {
        ++slots_[t.instrument].counters.trades;
      }
    }
    (void)emit_events(m, recv_ticks, sink);
    return SyncOutcome::passed;
  default:
    ++ignored_;
    return SyncOutcome::ignored;
  }
}

void BookSync::on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept {
  disconnect_all(recv_ticks, sink, [](Book&) noexcept {});
}

const std::vector<core::Level>& BookSync::bids(core::InstrumentId instrument) const noexcept {
  return instrument < slots_.size() ? slots_[instrument].bids : kNoLevels;
}

const std::vector<core::Level>& BookSync::asks(core::InstrumentId instrument) const noexcept {
  return instrument < slots_.size() ? slots_[instrument].asks : kNoLevels;
}

} // namespace qf::feeds::kraken
