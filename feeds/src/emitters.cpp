#include "qf/feeds/emitters.hpp"

namespace qf::feeds {

namespace {

using core::Event;
using core::EventKind;
using core::InstrumentId;
using core::Level;
using core::Side;

[[nodiscard]] Event make_event(EventKind kind, InstrumentId instrument, std::uint64_t seq,
                               std::uint64_t recv_ticks) noexcept {
  Event e{};
  e.kind = kind;
  e.instrument = instrument;
  e.seq = seq;
  e.recv_ticks = recv_ticks;
  return e;
}

} // namespace

std::size_t emit_levels(InstrumentId instrument, std::span<const Level> bids, std::span<const Level> asks,
                        std::uint64_t seq, std::uint64_t exchange_ns, std::uint64_t recv_ticks, bool flag_last,
                        EventSink sink) noexcept {
  const std::size_t total = bids.size() + asks.size();
  std::size_t n = 0;
  const auto side = [&](std::span<const Level> levels, Side s) noexcept {
    for (const Level& level : levels) {
      Event e = make_event(EventKind::book_level, instrument, seq, recv_ticks);
      e.side = s;
      e.level.price = level.price;
      e.level.qty = level.qty;
      e.level.exchange_ns = exchange_ns;
      if (++n == total && flag_last) {
        e.flags = core::kFlagLastInMessage;
      }
      sink(e);
    }
  };
  side(bids, Side::bid);
  side(asks, Side::ask);
  return n;
}

std::size_t emit_snapshot(InstrumentId instrument, std::span<const Level> bids, std::span<const Level> asks,
                          std::uint64_t seq, std::uint64_t exchange_ns, std::uint64_t recv_ticks,
                          EventSink sink) noexcept {
  Event begin = make_event(EventKind::snapshot_begin, instrument, seq, recv_ticks);
  begin.level.exchange_ns = exchange_ns;
  sink(begin);
  const std::size_t n = emit_levels(instrument, bids, asks, seq, exchange_ns, recv_ticks, false, sink);
  Event end = make_event(EventKind::snapshot_end, instrument, seq, recv_ticks);
  end.level.exchange_ns = exchange_ns;
  end.flags = core::kFlagLastInMessage;
  sink(end);
  return n + 2;
}

std::size_t emit_bbo(InstrumentId instrument, std::uint64_t seq, Level bid, Level ask, std::uint64_t recv_ticks,
                     EventSink sink) noexcept {
  Event e = make_event(EventKind::bbo, instrument, seq, recv_ticks);
  e.flags = core::kFlagLastInMessage;
  e.bbo.bid_price = bid.price;
  e.bbo.bid_qty = bid.qty;
  e.bbo.ask_price = ask.price;
  e.bbo.ask_qty = ask.qty;
  sink(e);
  return 1;
}

std::size_t emit_trade(InstrumentId instrument, std::uint64_t trade_id, Side taker_side, std::int64_t price,
                       std::int64_t qty, std::uint64_t exchange_ns, std::uint64_t recv_ticks, EventSink sink) noexcept {
  Event e = make_event(EventKind::trade, instrument, trade_id, recv_ticks);
  e.flags = core::kFlagLastInMessage;
  e.side = taker_side;
  e.level.price = price;
  e.level.qty = qty;
  e.level.exchange_ns = exchange_ns;
  sink(e);
  return 1;
}

void emit_status(InstrumentId instrument, core::FeedStatus status, std::uint64_t seq, std::uint64_t exchange_ns,
                 std::uint64_t recv_ticks, EventSink sink) noexcept {
  Event e = make_event(EventKind::status, instrument, seq, recv_ticks);
  e.status = status;
  e.flags = core::kFlagLastInMessage;
  e.level.exchange_ns = exchange_ns;
  sink(e);
}

} // namespace qf::feeds
