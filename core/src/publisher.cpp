#include "qf/core/publisher.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "qf/core/paper.hpp"

namespace qf::core {

Publisher::Publisher(StateSections state, const ipc::TscClock& clock) : state_(state), clock_(clock) {
  if (state_.instruments == nullptr || state_.records == nullptr || state_.feeds == nullptr ||
      state_.latency == nullptr || state_.events == nullptr) {
    throw std::invalid_argument("engine: every state section is required");
  }
}

void Publisher::features(std::size_t i, const FeatureValues& f, const BarIndicators& indicators,
                         const BarBuilder& bars_1s, const BarBuilder& bars_1m, std::uint64_t now_unix_ns) noexcept {
  const auto bar = [](const Bar& b, std::uint32_t closed) {
    return ipc::BarValues{b.start_ns, b.open, b.high, b.low, b.close, b.volume, b.trades, closed};
  };
  ipc::FeatureRecord r{};
  r.mid = f.mid;
  r.microprice = f.microprice;
  r.spread_bps = f.spread_bps;
  r.imbalance = f.imbalance;
  r.trade_flow = f.trade_flow;
  r.ret_fast = f.ret_fast;
  r.ret_slow = f.ret_slow;
  r.realized_vol = f.realized_vol;
  r.vwap = f.vwap;
  r.rsi = indicators.rsi;
  r.bollinger_z = indicators.bollinger_z;
  r.atr = indicators.atr;
  r.bar_1s = bar(bars_1s.last_closed(), bars_1s.closed_bars() > 0 ? 1U : 0U);
  r.bar_1m = bar(bars_1m.last_closed(), bars_1m.closed_bars() > 0 ? 1U : 0U);
  r.updated_unix_ns = now_unix_ns;
  state_.records[i].features.store(r);
}

void Publisher::health(std::size_t i, ipc::BookHealth health, const HealthCounters& c,
                       std::uint64_t dropped_levels) noexcept {
  ipc::HealthRecord r{};
  r.health = health;
  r.book_updates = c.book_updates;
  r.trades = c.trades;
  r.gaps = c.gaps;
  r.resyncs = c.resyncs;
  r.crossed = c.crossed;
  r.dropped_levels = dropped_levels;
  r.last_update_mono_ns = c.last_update_mono_ns;
  state_.records[i].health.store(r);
}

void Publisher::position(std::size_t i, const PaperTrader& trader, std::uint64_t now_unix_ns) noexcept {
  const Position& p = trader.portfolio().position(i);
  ipc::PositionRecord r{};
  r.qty = p.qty;
  r.avg_cost = p.avg_cost;
  r.mark = p.mark;
  r.realized = p.realized;
  r.unrealized = p.qty * (p.mark - p.avg_cost);
  r.fees = p.fees;
  r.target = trader.target(i);
  r.fills = p.fills;
  r.updated_unix_ns = now_unix_ns;
  state_.records[i].position.store(r);
}

void Publisher::portfolio(const PaperTrader& trader, std::uint64_t now_unix_ns) noexcept {
  if (state_.control == nullptr) {
    return;
  }
  const Portfolio& p = trader.portfolio();
  ipc::PortfolioRecord r{};
  r.initial_capital = p.initial_capital();
  r.cash = p.cash();
  r.equity = p.equity();
  r.peak_equity = p.peak();
  r.drawdown = p.drawdown();
  r.daily_pnl = p.daily_pnl();
  r.day_start_equity = p.day_start_equity();
  r.realized = p.realized();
  r.unrealized = p.unrealized();
  r.fees = p.fees();
  r.gross_exposure = p.gross_notional();
  r.fills = p.fill_count();
  r.orders = trader.orders();
  r.updated_unix_ns = now_unix_ns;
  state_.control->portfolio.store(r);
}

void Publisher::risk(const PaperTrader& t, std::uint64_t now_unix_ns) noexcept {
  if (state_.control == nullptr) {
    return;
  }
  const RiskLimits& l = t.config().limits;
  ipc::RiskRecord r{};
  r.kill_mode = static_cast<ipc::KillModeCode>(t.kill_switch().mode());
  r.kill_cause = static_cast<ipc::KillCauseCode>(t.kill_switch().cause());
  r.enabled = t.config().enabled ? 1 : 0;
  r.refusal_reasons = static_cast<std::uint8_t>(kRefusalCount);
  r.kill_since_unix_ns = t.kill_switch().since_ns();
  r.kill_trips = t.kill_switch().trips();
  r.max_drawdown = l.max_drawdown;
  r.daily_loss_limit = l.daily_loss_limit;
  r.max_order_notional = l.max_order_notional;
  r.max_position_notional = l.max_position_notional;
  r.max_gross_notional = l.max_gross_notional;
  r.price_band_bps = l.price_band_bps;
  r.orders_per_s_instrument = l.orders_per_s_instrument;
  r.orders_per_min_instrument = l.orders_per_min_instrument;
  r.orders_per_s_total = l.orders_per_s_total;
  r.orders_per_min_total = l.orders_per_min_total;
  r.orders_last_s = t.rate_guard().total_last_second(now_unix_ns);
  r.orders_last_min = t.rate_guard().total_last_minute(now_unix_ns);
  for (std::size_t k = 0; k < kRefusalCount; ++k) {
    r.refusals[k] = t.refusals(static_cast<Refusal>(k));
  }
  r.updated_unix_ns = now_unix_ns;
  state_.control->risk.store(r);
}

void Publisher::fills(const Portfolio& p) noexcept {
  if (state_.control == nullptr) {
    return;
  }
  const std::uint64_t n = p.fill_count();
  for (std::uint64_t k = n - std::min<std::uint64_t>(n - fills_published_, kRecentFills); k < n; ++k) {
    const Fill& fl = p.recent(static_cast<std::size_t>(n - 1 - k));
    ipc::FillRecord r{};
    r.unix_ns = fl.unix_ns;
    r.order_id = fl.order_id;
    r.instrument = fl.instrument;
    r.side = fl.side == Side::bid ? 0 : 1;
    r.qty = fl.qty;
    r.price = fl.price;
    r.fee = fl.fee;
    r.realized = fl.realized;
    state_.control->append_fill(r);
  }
  fills_published_ = n;
}

void Publisher::note(ipc::NotableKind kind, std::uint16_t instrument, const char* text,
                     std::uint64_t now_unix_ns) noexcept {
  ipc::NotableEvent n{};
  n.unix_ns = now_unix_ns;
  n.instrument = instrument;
  n.kind = kind;
  std::snprintf(n.text.data(), n.text.size(), "%s", text);
  state_.events->append(n);
}

void Publisher::acknowledge(const ipc::ControlCommand& command, ipc::ControlResult result, const char* text,
                            std::uint64_t now_unix_ns) noexcept {
  acknowledge_order(command, result, text, OrderOutcome{}, now_unix_ns);
}

void Publisher::acknowledge_order(const ipc::ControlCommand& command, ipc::ControlResult result, const char* text,
                                  const OrderOutcome& order, std::uint64_t now_unix_ns) noexcept {
  if (state_.control != nullptr) {
    ipc::ControlAck a{};
    a.id = command.id;
    a.unix_ns = now_unix_ns;
    a.action = command.action;
    a.result = result;
    a.instrument = command.instrument;
    a.refusal = static_cast<std::uint8_t>(order.refused);
    a.pending = order.pending ? 1 : 0;
    a.order_id = order.order_id;
    a.filled_qty = order.exec.filled_qty;
    a.avg_price = order.exec.avg_price;
    a.fee = order.exec.fee;
    a.qty = order.qty;
    std::snprintf(a.text.data(), a.text.size(), "%s", text);
    state_.control->append(a);
  }
  char line[84];
  std::snprintf(line, sizeof line, "control %s: %s (%s)", ipc::to_string(command.action), ipc::to_string(result),
                text);
  note(ipc::NotableKind::control, command.instrument, line, now_unix_ns);
}

} // namespace qf::core
