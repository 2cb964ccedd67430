#include "qf/feeds/coinbase_advanced/book_sync.hpp"

#include "qf/feeds/emitters.hpp"

namespace qf::feeds::coinbase_advanced {

BookSync::BookSync(std::size_t instruments) : ResubscribeBooks(instruments, "coinbase_advanced::BookSync") {}

SyncReport BookSync::on_unregistered(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  Message numbered;
  numbered.has_sequence = m.unregistered_only && m.has_sequence;
  numbered.sequence = m.sequence;
  numbered.time_ns = m.time_ns;
  return on_message(numbered, recv_ticks, sink);
}

SyncReport BookSync::on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  SyncReport report;
  if (m.has_sequence) {
    ++connection_.messages;
    if (m.sequence != expected_) {
      report.sequence_gap = true;
      ++connection_.sequence_gaps;
      if (m.sequence > expected_) {
        connection_.missed_messages += m.sequence - expected_;
      } else {
        ++connection_.regressions;
      }
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        auto& s = slots_[i];
        s.resubscribe = true; // a syncing book too: the lost message may have been its snapshot
        if (s.state == BookState::live) {
          s.state = BookState::syncing;
          ++s.counters.gaps;
          ++report.gap_books;
          emit_status(static_cast<core::InstrumentId>(i), core::FeedStatus::gap, m.sequence, m.time_ns, recv_ticks,
                      sink);
        }
      }
    }
    expected_ = m.sequence + 1;
  }
  switch (m.kind) {
  case MessageKind::level2:
    for (std::size_t i = 0; i < m.books.size(); ++i) {
      const BookEvent& b = m.books[i];
      if (b.instrument >= slots_.size()) {
        ++ignored_;
        continue;
      }
      auto& s = slots_[b.instrument];
      if (b.snapshot) {
        (void)emit_snapshot(b.instrument, b.bids, b.asks, m.sequence, m.time_ns, recv_ticks, sink);
        s.state = BookState::live;
        ++s.counters.snapshots_applied;
        ++report.snapshots;
        emit_status(b.instrument, core::FeedStatus::book_live, m.sequence, m.time_ns, recv_ticks, sink);
      } else if (s.state != BookState::live) {
        ++s.counters.dropped_not_live;
        ++report.dropped;
      } else {
        (void)emit_levels(b.instrument, b.bids, b.asks, m.sequence, m.time_ns, recv_ticks, true, sink);
        ++s.counters.applied_updates;
        ++report.updates;
      }
    }
    return report;
  case MessageKind::ticker:
    for (const Ticker& t : m.tickers) {
      if (t.instrument >= slots_.size() || !t.has_bbo) {
        ++ignored_;
        continue;
      }
      ++slots_[t.instrument].counters.tickers;
      ++report.passed;
      (void)emit_bbo(t.instrument, 0, t.bid, t.ask, recv_ticks, sink);
    }
    return report;
  case MessageKind::trades:
    for (std::size_t i = m.trades.size(); i-- > 0;) { // newest first in the message
      const Trade& t = m.trades[i];
      if (t.snapshot) {
        ++connection_.snapshot_trades;
        continue;
      }
      if (t.instrument >= slots_.size()) {
        ++ignored_;
        continue;
      }
      ++slots_[t.instrument].counters.trades;
      ++report.passed;
      (void)emit_trade(t.instrument, t.trade_id, t.taker_side, t.price, t.qty, t.time_ns, recv_ticks, sink);
    }
    return report;
  case MessageKind::heartbeat:
    ++connection_.heartbeats;
    connection_.last_heartbeat_counter = m.heartbeat_counter;
    return report;
  default:
    return report; // subscriptions, errors: the session's
  }
}

void BookSync::on_disconnect(std::uint64_t recv_ticks, EventSink sink) noexcept {
  expected_ = 0;
  disconnect_all(recv_ticks, sink, [](SyncSlot<BookSyncCounters>&) noexcept {});
}

} // namespace qf::feeds::coinbase_advanced
