#include "qf/feeds/okx/book_sync.hpp"

#include <zlib.h>

#include <stdexcept>

#include "kept_book.hpp"
#include "qf/feeds/emitters.hpp"
#include "qf/ipc/fixed_point.hpp"

namespace qf::feeds::okx {

namespace {

// Longest value text plus its ':' separator.
constexpr std::size_t kValueChars = ipc::kFixedMaxChars + 1;

// A value as OKX prints it: the fixed-point text without trailing zeros, and without the point
// when nothing follows it ("30261.0" -> "30261", "0.50" -> "0.5").
std::size_t put_value(std::int64_t value, int decimals, char* out, std::size_t at) noexcept {
  std::size_t n = ipc::format_fixed(value, decimals, out + at, ipc::kFixedMaxChars);
  if (decimals > 0) {
    while (out[at + n - 1] == '0') {
      --n;
    }
    if (out[at + n - 1] == '.') {
      --n;
    }
  }
  return at + n;
}

} // namespace

const std::vector<core::Level> BookSync::kNoLevels{};

BookSync::BookSync(std::size_t instruments, std::size_t depth, std::size_t max_levels_per_message)
    : ResubscribeBooks(instruments, "okx::BookSync"), depth_(depth), max_levels_(max_levels_per_message) {
  if (depth < kChecksumLevels || max_levels_per_message == 0) {
    throw std::invalid_argument("okx::BookSync: depth must be at least 25 and max levels positive");
  }
  for (BookSlot& b : slots_) {
    b.bids.reserve(depth_ + max_levels_);
    b.asks.reserve(depth_ + max_levels_);
  }
  out_bids_.reserve(depth_ + 2 * max_levels_);
  out_asks_.reserve(depth_ + 2 * max_levels_);
  text_.resize(2 * kChecksumLevels * 2 * kValueChars);
}

void BookSync::set_decimals(core::InstrumentId instrument, int price_decimals, int qty_decimals) {
  if (instrument >= slots_.size() || price_decimals < 0 || qty_decimals < 0 || price_decimals > ipc::kMaxDecimals ||
      qty_decimals > ipc::kMaxDecimals) {
    throw std::invalid_argument("okx::BookSync: unknown instrument, or decimals outside [0, 18]");
  }
  slots_[instrument].price_decimals = price_decimals;
  slots_[instrument].qty_decimals = qty_decimals;
}

std::int32_t BookSync::checksum(core::InstrumentId instrument) const noexcept {
  if (instrument >= slots_.size()) {
    return 0;
  }
  const BookSlot& b = slots_[instrument];
  char* out = text_.data();
  std::size_t n = 0;
  const auto put = [&](const core::Level& l) noexcept {
    if (n != 0) {
      out[n++] = ':';
    }
    n = put_value(l.price, b.price_decimals, out, n);
    out[n++] = ':';
    n = put_value(l.qty, b.qty_decimals, out, n);
  };
  for (std::size_t i = 0; i < kChecksumLevels; ++i) {
    if (i < b.bids.size()) {
      put(b.bids[i]);
    }
    if (i < b.asks.size()) {
      put(b.asks[i]);
    }
  }
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out), static_cast<uInt>(n));
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(crc)); // OKX compares it as a signed int
}

void BookSync::gap(BookSlot& b, const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  b.state = BookState::syncing;
  b.resubscribe = true;
  emit_status(m.instrument, core::FeedStatus::gap, m.has_seq && m.seq_id > 0 ? static_cast<std::uint64_t>(m.seq_id) : 0,
              m.time_ns, recv_ticks, sink);
}

SyncOutcome BookSync::on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  const bool book_message = m.kind == MessageKind::book_snapshot || m.kind == MessageKind::book_update;
  if (m.instrument >= slots_.size() && m.kind != MessageKind::none) {
    ++ignored_;
    return SyncOutcome::ignored;
  }
  if (book_message) {
    BookSlot& b = slots_[m.instrument];
    const bool snapshot = m.kind == MessageKind::book_snapshot;
    if (!snapshot) {
      if (b.state != BookState::live) {
        ++b.counters.dropped_not_live;
        return SyncOutcome::not_live;
      }
      if (m.has_seq && b.has_seq && m.prev_seq_id != b.last_seq) {
        ++b.counters.sequence_gaps;
        gap(b, m, recv_ticks, sink);
        return SyncOutcome::sequence_gap;
      }
    } else {
      b.bids.clear();
      b.asks.clear();
    }
    b.counters.truncated_levels += detail::apply_levels(b.bids, b.asks, m.bids, m.asks, depth_, out_bids_, out_asks_);
    if (m.has_checksum) {
      if (checksum(m.instrument) != m.checksum) {
        ++b.counters.checksum_mismatches;
        gap(b, m, recv_ticks, sink);
        return SyncOutcome::mismatch;
      }
      ++b.counters.checksums_verified;
    }
    b.has_seq = m.has_seq;
    b.last_seq = m.seq_id;
    const std::uint64_t seq = m.has_seq && m.seq_id > 0 ? static_cast<std::uint64_t>(m.seq_id) : 0;
    if (snapshot) {
      (void)emit_snapshot(m.instrument, b.bids, b.asks, seq, m.time_ns, recv_ticks, sink);
      b.state = BookState::live;
      ++b.counters.snapshots_applied;
      emit_status(m.instrument, core::FeedStatus::book_live, seq, m.time_ns, recv_ticks, sink);
      return SyncOutcome::snapshot_applied;
    }
    (void)emit_levels(m.instrument, out_bids_, out_asks_, seq, m.time_ns, recv_ticks, true, sink);
    ++b.counters.applied_updates;
    return SyncOutcome::applied;
  }
  switch (m.kind) {
  case MessageKind::bbo:
  case MessageKind::ticker:
    ++slots_[m.instrument].counters.tickers;
    (void)emit_events(m, recv_ticks, sink);
    return SyncOutcome::passed;
  case MessageKind::trade:
    slots_[m.instrument].counters.trades += m.trades.size();
    (void)emit_events(m, recv_ticks, sink);
    return SyncOutcome::passed;
  default:
    ++ignored_;
    return SyncOutcome::ignored;
  }
}

void BookSync::on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept {
  disconnect_all(recv_ticks, sink, [](BookSlot&) noexcept {});
}

const std::vector<core::Level>& BookSync::bids(core::InstrumentId instrument) const noexcept {
  return instrument < slots_.size() ? slots_[instrument].bids : kNoLevels;
}

const std::vector<core::Level>& BookSync::asks(core::InstrumentId instrument) const noexcept {
  return instrument < slots_.size() ? slots_[instrument].asks : kNoLevels;
}

} // namespace qf::feeds::okx
