#include "qf/feeds/okx/book_sync.hpp"

#include <zlib.h>

#include <algorithm>
#include <stdexcept>

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

// Applies one absolute level to a side kept sorted best first; size 0 deletes (an unknown
// level's delete is normal).
template <typename Better>
void apply_level(std::vector<core::Level>& side, core::Level level, Better better) noexcept {
  const auto it = std::lower_bound(side.begin(), side.end(), level.price,
                                   [&](const core::Level& l, std::int64_t price) { return better(l.price, price); });
  const bool found = it != side.end() && it->price == level.price;
  if (level.qty == 0) {
    if (found) {
      side.erase(it);
    }
  } else if (found) {
    it->qty = level.qty;
  } else {
    side.insert(it, level); // within the reserved capacity: no allocation
  }
}

// Levels beyond `depth` leave the side and are appended to `deletes` as size-0 levels.
std::size_t truncate(std::vector<core::Level>& side, std::size_t depth, std::vector<core::Level>& deletes) noexcept {
  if (side.size() <= depth) {
    return 0;
  }
  const std::size_t n = side.size() - depth;
  for (std::size_t i = depth; i < side.size(); ++i) {
    deletes.push_back(core::Level{side[i].price, 0});
  }
  side.resize(depth);
  return n;
}

constexpr auto kBidBetter = [](std::int64_t a, std::int64_t b) { return a > b; };
constexpr auto kAskBetter = [](std::int64_t a, std::int64_t b) { return a < b; };

} // namespace

const BookSyncCounters BookSync::kNoCounters{};
const std::vector<core::Level> BookSync::kNoLevels{};

BookSync::BookSync(std::size_t instruments, std::size_t depth, std::size_t max_levels_per_message)
    : depth_(depth), max_levels_(max_levels_per_message) {
  if (instruments == 0 || instruments >= kNoInstrument || depth < kChecksumLevels || max_levels_per_message == 0) {
    throw std::invalid_argument("okx::BookSync: instruments must be in [1, 65535), depth at least 25 and max levels "
                                "positive");
  }
  books_.resize(instruments);
  for (Book& b : books_) {
    b.bids.reserve(depth_ + max_levels_);
    b.asks.reserve(depth_ + max_levels_);
  }
  out_bids_.reserve(depth_ + 2 * max_levels_);
  out_asks_.reserve(depth_ + 2 * max_levels_);
  text_.resize(2 * kChecksumLevels * 2 * kValueChars);
}

void BookSync::set_decimals(core::InstrumentId instrument, int price_decimals, int qty_decimals) {
  if (instrument >= books_.size() || price_decimals < 0 || qty_decimals < 0 || price_decimals > ipc::kMaxDecimals ||
      qty_decimals > ipc::kMaxDecimals) {
    throw std::invalid_argument("okx::BookSync: unknown instrument, or decimals outside [0, 18]");
  }
  books_[instrument].price_decimals = price_decimals;
  books_[instrument].qty_decimals = qty_decimals;
}

void BookSync::apply(Book& b, const Message& m) noexcept {
  out_bids_.clear();
  out_asks_.clear();
  for (const core::Level& l : m.bids) {
    apply_level(b.bids, l, kBidBetter);
    out_bids_.push_back(l);
  }
  for (const core::Level& l : m.asks) {
    apply_level(b.asks, l, kAskBetter);
    out_asks_.push_back(l);
  }
  b.counters.truncated_levels += truncate(b.bids, depth_, out_bids_) + truncate(b.asks, depth_, out_asks_);
}

std::int32_t BookSync::checksum(core::InstrumentId instrument) const noexcept {
  if (instrument >= books_.size()) {
    return 0;
  }
  const Book& b = books_[instrument];
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

void BookSync::gap(Book& b, const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  b.state = BookState::syncing;
  b.resubscribe = true;
  b.has_seq = false;
  emit_status(m.instrument, core::FeedStatus::gap, m.has_seq && m.seq_id > 0 ? static_cast<std::uint64_t>(m.seq_id) : 0,
              m.time_ns, recv_ticks, sink);
}

SyncOutcome BookSync::on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  const bool book_message = m.kind == MessageKind::book_snapshot || m.kind == MessageKind::book_update;
  if (m.instrument >= books_.size() && m.kind != MessageKind::none) {
    ++ignored_;
    return SyncOutcome::ignored;
  }
  if (book_message) {
    Book& b = books_[m.instrument];
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
    apply(b, m);
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
    ++books_[m.instrument].counters.tickers;
    (void)emit_events(m, recv_ticks, sink);
    return SyncOutcome::passed;
  case MessageKind::trade:
    books_[m.instrument].counters.trades += m.trades.size();
    (void)emit_events(m, recv_ticks, sink);
    return SyncOutcome::passed;
  default:
    ++ignored_;
    return SyncOutcome::ignored;
  }
}

void BookSync::on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept {
  for (std::size_t i = 0; i < books_.size(); ++i) {
    Book& b = books_[i];
    b.state = BookState::syncing;
    b.has_seq = false;
    ++b.counters.disconnects;
    emit_status(static_cast<core::InstrumentId>(i), core::FeedStatus::disconnected, 0, 0, recv_ticks, sink);
  }
}

void BookSync::resync(core::InstrumentId instrument, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (instrument >= books_.size()) {
    ++ignored_;
    return;
  }
  Book& b = books_[instrument];
  b.state = BookState::syncing;
  b.resubscribe = true;
  b.has_seq = false;
  ++b.counters.resyncs;
  emit_status(instrument, core::FeedStatus::resync, 0, 0, recv_ticks, sink);
}

bool BookSync::take_resubscribe_request(core::InstrumentId instrument) noexcept {
  if (instrument >= books_.size() || !books_[instrument].resubscribe) {
    return false;
  }
  books_[instrument].resubscribe = false;
  return true;
}

BookState BookSync::state(core::InstrumentId instrument) const noexcept {
  return instrument < books_.size() ? books_[instrument].state : BookState::syncing;
}

const BookSyncCounters& BookSync::counters(core::InstrumentId instrument) const noexcept {
  return instrument < books_.size() ? books_[instrument].counters : kNoCounters;
}

const std::vector<core::Level>& BookSync::bids(core::InstrumentId instrument) const noexcept {
  return instrument < books_.size() ? books_[instrument].bids : kNoLevels;
}

const std::vector<core::Level>& BookSync::asks(core::InstrumentId instrument) const noexcept {
  return instrument < books_.size() ? books_[instrument].asks : kNoLevels;
}

} // namespace qf::feeds::okx
