#include "qf/feeds/bybit/book_sync.hpp"

#include <algorithm>
#include <stdexcept>

#include "kept_book.hpp"
#include "qf/feeds/emitters.hpp"

namespace qf::feeds::bybit {

const std::vector<core::Level> BookSync::kNoLevels{};

BookSync::BookSync(std::size_t instruments, std::size_t max_depth, std::size_t max_levels_per_message)
    : ResubscribeBooks(instruments, "bybit::BookSync"), max_depth_(max_depth) {
  if (max_depth == 0 || max_levels_per_message == 0) {
    throw std::invalid_argument("bybit::BookSync: depth and max levels must be positive");
  }
  for (BookSlot& b : slots_) {
    b.bids.reserve(max_depth + max_levels_per_message);
    b.asks.reserve(max_depth + max_levels_per_message);
  }
  out_bids_.reserve(max_depth + 2 * max_levels_per_message);
  out_asks_.reserve(max_depth + 2 * max_levels_per_message);
}

SyncOutcome BookSync::on_ticker(BookSlot& b, const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (!m.delta) {
    b.ticker_fields = 0; // a snapshot carries every field it has
  }
  b.ticker_fields |= m.ticker_fields;
  if ((m.ticker_fields & kBidPrice) != 0) {
    b.ticker_bid.price = m.bid.price;
  }
  if ((m.ticker_fields & kBidSize) != 0) {
    b.ticker_bid.qty = m.bid.qty;
  }
  if ((m.ticker_fields & kAskPrice) != 0) {
    b.ticker_ask.price = m.ask.price;
  }
  if ((m.ticker_fields & kAskSize) != 0) {
    b.ticker_ask.qty = m.ask.qty;
  }
  if (m.ticker_fields == 0 || b.ticker_fields != (kBidPrice | kBidSize | kAskPrice | kAskSize)) {
    ++ignored_; // nothing of the best levels changed, or a side is not known yet (spot tickers)
    return SyncOutcome::ignored;
  }
  ++b.counters.tickers;
  (void)emit_bbo(m.instrument, 0, b.ticker_bid, b.ticker_ask, recv_ticks, sink);
  return SyncOutcome::passed;
}

SyncOutcome BookSync::on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (m.instrument >= slots_.size()) {
    ++ignored_;
    return SyncOutcome::ignored;
  }
  BookSlot& b = slots_[m.instrument];
  switch (m.kind) {
  case MessageKind::trade:
    b.counters.trades += m.trades.size();
    (void)emit_events(m, recv_ticks, sink);
    return SyncOutcome::passed;
  case MessageKind::ticker:
    return on_ticker(b, m, recv_ticks, sink);
  case MessageKind::book_snapshot:
  case MessageKind::book_update:
    break;
  default:
    ++ignored_;
    return SyncOutcome::ignored;
  }
  const bool restart = m.kind == MessageKind::book_update && m.update_id == 1;
  const bool snapshot = m.kind == MessageKind::book_snapshot || restart;
  if (!snapshot) {
    if (b.state != BookState::live) {
      ++b.counters.dropped_not_live;
      return SyncOutcome::not_live;
    }
    const bool broken = m.update_id != b.last_u + 1;
    if (broken || m.seq <= b.last_seq) {
      ++(broken ? b.counters.sequence_gaps : b.counters.seq_regressions);
      b.state = BookState::syncing;
      b.resubscribe = true;
      emit_status(m.instrument, core::FeedStatus::gap, m.update_id, m.time_ns, recv_ticks, sink);
      return SyncOutcome::sequence_gap;
    }
  } else {
    b.bids.clear();
    b.asks.clear();
    b.counters.restarts += restart ? 1 : 0;
  }
  const std::size_t depth = m.depth == 0 ? max_depth_ : std::min(m.depth, max_depth_);
  b.counters.truncated_levels += detail::apply_levels(b.bids, b.asks, m.bids, m.asks, depth, out_bids_, out_asks_);
  b.last_u = m.update_id;
  b.last_seq = m.seq;
  if (snapshot) {
    (void)emit_snapshot(m.instrument, b.bids, b.asks, m.update_id, m.time_ns, recv_ticks, sink);
    b.state = BookState::live;
    ++b.counters.snapshots_applied;
    emit_status(m.instrument, core::FeedStatus::book_live, m.update_id, m.time_ns, recv_ticks, sink);
    return SyncOutcome::snapshot_applied;
  }
  (void)emit_levels(m.instrument, out_bids_, out_asks_, m.update_id, m.time_ns, recv_ticks, true, sink);
  ++b.counters.applied_updates;
  return SyncOutcome::applied;
}

void BookSync::on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept {
  disconnect_all(recv_ticks, sink, [](BookSlot& s) noexcept {
    s.ticker_fields = 0; // a new connection's tickers start with a snapshot
  });
}

const std::vector<core::Level>& BookSync::bids(core::InstrumentId instrument) const noexcept {
  return instrument < slots_.size() ? slots_[instrument].bids : kNoLevels;
}

const std::vector<core::Level>& BookSync::asks(core::InstrumentId instrument) const noexcept {
  return instrument < slots_.size() ? slots_[instrument].asks : kNoLevels;
}

} // namespace qf::feeds::bybit
