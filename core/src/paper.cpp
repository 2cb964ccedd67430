#include "qf/core/paper.hpp"

#include <algorithm>
#include <cmath>

namespace qf::core {

ExecResult walk_book(Side side, double qty, const Level* levels, std::size_t n, double price_scale, double qty_scale,
                     double limit, double fee_bps) noexcept {
  ExecResult r;
  double remaining = qty;
  double cost = 0;
  for (std::size_t i = 0; i < n && remaining > 0; ++i) {
    if (levels[i].qty <= 0) {
      break;
    }
    const double price = static_cast<double>(levels[i].price) * price_scale;
    if (limit > 0 && (side == Side::bid ? price > limit : price < limit)) {
      break;
    }
    const double take = std::min(remaining, static_cast<double>(levels[i].qty) * qty_scale);
    cost += take * price;
    remaining -= take;
    r.filled_qty += take;
    ++r.levels;
  }
  if (r.filled_qty > 0) {
    r.avg_price = cost / r.filled_qty;
    r.fee = cost * fee_bps * 1e-4;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

PaperTrader::PaperTrader(const RiskConfig& c) noexcept
    : config_(c), portfolio_(c.paper.initial_capital), rate_(c.limits) {}

Refusal PaperTrader::refuse(Refusal r, TradeOutcome& out) noexcept {
  ++refusals_[static_cast<std::size_t>(r)];
  out.refused = r;
  return r;
}

bool PaperTrader::kill(KillMode mode, std::uint64_t now_ns) noexcept {
  const KillMode before = kill_.mode();
  (void)kill_.trip(KillCause::command, mode, now_ns);
  return kill_.mode() != before;
}

bool PaperTrader::reset() noexcept {
  const bool was = kill_.tripped();
  kill_.reset();
  portfolio_.rebase_peak();
  return was;
}

void PaperTrader::execute(std::uint16_t i, const MarketView& m, Side side, double qty, double limit, std::uint64_t id,
                          std::uint64_t now_ns, TradeOutcome& out) noexcept {
  const Level* levels = side == Side::bid ? m.asks : m.bids;
  const std::size_t n = side == Side::bid ? m.n_asks : m.n_bids;
  const ExecResult r = walk_book(side, qty, levels, n, m.price_scale, m.qty_scale, limit, config_.paper.taker_fee_bps);
  if (r.filled_qty <= 0) {
    return;
  }
  Fill f;
  f.unix_ns = now_ns;
  f.order_id = id;
  f.instrument = i;
  f.side = side;
  f.qty = r.filled_qty;
  f.price = r.avg_price;
  f.fee = r.fee;
  (void)portfolio_.apply(f);
  portfolio_.mark(i, m.mid, now_ns);
  out.filled = true;
  out.marked = true;
}

TradeOutcome PaperTrader::on_update(std::uint16_t i, const MarketView& m, std::uint64_t now_ns) noexcept {
  TradeOutcome out;
  if (m.mid > 0) {
    portfolio_.mark(i, m.mid, now_ns);
    out.marked = true;
  }
  // An order on its way reaches the book once its latency has passed.
  Pending& pend = pending_[i];
  if (pend.active && now_ns >= pend.due_ns) {
    pend.active = false;
    if (m.health == ipc::BookHealth::live) {
      execute(i, m, pend.side, pend.qty, pend.limit, pend.id, now_ns, out);
    }
  }
  // Automatic trips, measured from the equity peak and the UTC day's start.
  const KillCause cause =
      KillSwitch::evaluate(portfolio_.equity(), portfolio_.peak(), portfolio_.daily_pnl(), config_.limits);
  if (cause != KillCause::none && kill_.trip(cause, config_.trip_mode, now_ns)) {
    out.tripped = cause;
  }
  if (!config_.enabled && !kill_.tripped()) {
    return out;
  }
  const double position = portfolio_.position(i).qty;
  const double lot = lots_[i] > 0 ? lots_[i] : m.qty_scale;
  if (kill_.mode() == KillMode::flatten) {
    // Close at market; no sizing, no rate guard (it must not block getting out).
    targets_[i] = 0;
    if (position != 0 && !pend.active && m.health == ipc::BookHealth::live) {
      ++orders_;
      execute(i, m, position > 0 ? Side::ask : Side::bid, std::abs(position), 0.0, orders_, now_ns, out);
    }
    return out;
  }
  if (kill_.mode() == KillMode::halt || !config_.enabled) {
    return out;
  }
  double target = vol_target_qty(m.signal, m.realized_vol, m.mid, portfolio_.initial_capital(), config_.sizing, lot);
  const double max_qty = m.mid > 0 ? round_down_to_lot(config_.limits.max_position_notional / m.mid, lot) : 0.0;
  target = std::clamp(target, -max_qty, max_qty);
  if (kill_.mode() == KillMode::reduce_only) {
    target = position > 0 ? std::clamp(target, 0.0, position) : std::clamp(target, position, 0.0);
  }
  targets_[i] = target;
  // The band: the anchor follows the target only when it moved more than band_notional.
  const SizingParams& sz = config_.sizing;
  if (std::abs(target - anchors_[i]) * m.mid > sz.band_notional || target == 0 || kill_.mode() == KillMode::reduce_only) {
    anchors_[i] = target;
  }
  target = anchors_[i];
  if (!should_rebalance(target, position, m.mid, sz)) {
    return out;
  }
  // Pacing: minimum holding time per instrument, minimum gap between any two orders.
  if ((last_order_ns_[i] != 0 && now_ns < last_order_ns_[i] + sz.min_hold_ns) ||
      (any_order_ && now_ns < last_any_order_ns_ + sz.min_order_gap_ns)) {
    return out;
  }
  if (pend.active) {
    refuse(Refusal::pending, out);
    return out;
  }
  const Side side = target > position ? Side::bid : Side::ask;
  // One order at most max_order_notional: large moves take several orders.
  const double cap = round_down_to_lot(config_.limits.max_order_notional / m.mid, lot);
  const double qty = std::min(std::abs(target - position), cap);
  if (qty <= 0) {
    return out;
  }
  Level touch{};
  const Level* far = side == Side::bid ? m.asks : m.bids;
  const std::size_t nfar = side == Side::bid ? m.n_asks : m.n_bids;
  if (nfar > 0) {
    touch = far[0];
  }
  const OrderIntent o{side, qty, static_cast<double>(touch.price) * m.price_scale};
  PreTradeContext c;
  c.health = m.health;
  c.mid = m.mid;
  c.position = position;
  c.gross_notional = portfolio_.gross_notional();
  c.daily_pnl = portfolio_.daily_pnl();
  c.kill = kill_.mode();
  if (const Refusal r = pre_trade_check(o, c, config_.limits); r != Refusal::none) {
    refuse(r, out);
    return out;
  }
  if (!rate_.try_acquire(i, now_ns)) {
    refuse(Refusal::rate_limit, out);
    if (kill_.trip(KillCause::rate_limit, KillMode::halt, now_ns)) {
      out.tripped = KillCause::rate_limit; // a runaway loop stops itself
    }
    return out;
  }
  ++orders_;
  last_order_ns_[i] = now_ns == 0 ? 1 : now_ns;
  last_any_order_ns_ = now_ns;
  any_order_ = true;
  if (config_.paper.latency_ns > 0) {
    pend = Pending{true, side, qty, 0.0, now_ns + config_.paper.latency_ns, orders_};
    return out;
  }
  execute(i, m, side, qty, 0.0, orders_, now_ns, out);
  return out;
}

} // namespace qf::core
