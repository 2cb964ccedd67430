#include "qf/feeds/coinbase/book_sync.hpp"

#include "qf/feeds/emitters.hpp"

namespace qf::feeds::coinbase {

BookSync::BookSync(std::size_t instruments) : ResubscribeBooks(instruments, "coinbase::BookSync") {}

SyncOutcome BookSync::on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (m.instrument >= slots_.size()) {
    ++ignored_;
    return SyncOutcome::ignored;
  }
  ProductSlot& p = slots_[m.instrument];
  switch (m.kind) {
  case MessageKind::snapshot:
    (void)emit_events(m, recv_ticks, sink);
    p.state = BookState::live;
    ++p.counters.snapshots_applied;
    emit_status(m.instrument, core::FeedStatus::book_live, 0, m.time_ns, recv_ticks, sink);
    return SyncOutcome::snapshot_applied;
  case MessageKind::l2update:
    if (p.state != BookState::live) {
      ++p.counters.dropped_not_live;
      return SyncOutcome::not_live;
    }
    (void)emit_events(m, recv_ticks, sink);
    ++p.counters.applied_updates;
    return SyncOutcome::applied;
  case MessageKind::ticker:
    (void)emit_events(m, recv_ticks, sink);
    ++p.counters.tickers;
    return SyncOutcome::passed;
  case MessageKind::match:
    (void)emit_events(m, recv_ticks, sink);
    ++p.counters.trades;
    if (!p.trades_tracked || m.trade_id > p.last_trade_id) {
      p.last_trade_id = m.trade_id;
    }
    p.trades_tracked = true;
    return SyncOutcome::passed;
  case MessageKind::heartbeat:
    ++p.counters.heartbeats;
    if (!p.trades_tracked || m.last_trade_id <= p.last_trade_id) {
      return SyncOutcome::heartbeat_ok; // untracked: no matches subscribed, nothing to compare
    }
    ++p.counters.trade_gaps;
    p.counters.missed_trades += m.last_trade_id - p.last_trade_id;
    p.last_trade_id = m.last_trade_id; // report each gap once
    emit_status(m.instrument, core::FeedStatus::gap, m.last_trade_id, m.time_ns, recv_ticks, sink);
    if (p.state == BookState::live) {
      emit_status(m.instrument, core::FeedStatus::book_live, m.last_trade_id, m.time_ns, recv_ticks, sink);
    }
    return SyncOutcome::trade_gap;
  default:
    ++ignored_;
    return SyncOutcome::ignored;
  }
}

void BookSync::on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept {
  disconnect_all(recv_ticks, sink, [](ProductSlot& p) noexcept {
    p.trades_tracked = false;
    p.last_trade_id = 0;
  });
}

std::uint64_t BookSync::last_trade_id(core::InstrumentId instrument) const noexcept {
  return instrument < slots_.size() ? slots_[instrument].last_trade_id : 0;
}

} // namespace qf::feeds::coinbase
