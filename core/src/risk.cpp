#include "qf/core/risk.hpp"

#include <algorithm>
#include <cmath>

namespace qf::core {

namespace {
double signed_qty(Side side, double qty) noexcept { return side == Side::bid ? qty : -qty; }

// True when an order of `delta` (signed) moves `position` toward zero without crossing it.
bool reduces(double position, double delta) noexcept {
  return position != 0 && delta != 0 && (position > 0) != (delta > 0) && std::abs(delta) <= std::abs(position) + 1e-12;
}
} // namespace

double round_down_to_lot(double qty, double lot) noexcept {
  if (lot <= 0) {
    return qty;
  }
  // A quantity already on the lot may divide to just under a whole number: forgive that, relative
  // to the number of lots (an absolute epsilon is below one ulp past about 1e7 lots).
  const double lots = qty / lot;
  return std::trunc(lots + std::copysign(std::max(1e-9, std::abs(lots) * 1e-12), lots)) * lot;
}

double vol_target_qty(double signal, double realized_vol, double mid, double capital, const SizingParams& p,
                      double lot) noexcept {
  if (!(mid > 0) || !(realized_vol >= p.vol_floor) || !std::isfinite(signal) || !std::isfinite(realized_vol)) {
    return 0.0;
  }
  const double annual_vol = realized_vol * std::sqrt(kSecondsPerYear);
  const double notional = signal * (p.target_vol_annual / annual_vol) * p.allocation * capital;
  const double qty = notional / mid;
  return lot > 0 ? std::round(qty / lot) * lot : qty;
}

bool should_rebalance(double target, double position, double mid, const SizingParams& p) noexcept {
  return std::abs(target - position) * mid > p.rebalance_notional;
}

Refusal pre_trade_check(const OrderIntent& o, const PreTradeContext& c, const RiskLimits& l) noexcept {
  const double delta = signed_qty(o.side, o.qty);
  const bool reducing = reduces(c.position, delta);
  if (c.kill == KillMode::halt || ((c.kill == KillMode::reduce_only || c.kill == KillMode::flatten) && !reducing)) {
    return Refusal::kill_switch;
  }
  if (c.health != ipc::BookHealth::live) {
    return Refusal::book_not_live;
  }
  if (!(c.mid > 0) || !(o.price > 0) || std::abs(o.price - c.mid) / c.mid * 1e4 > l.price_band_bps) {
    return Refusal::price_band;
  }
  const double notional = o.qty * c.mid;
  if (notional > l.max_order_notional) {
    return Refusal::order_notional;
  }
  const double after = c.position + delta;
  if (!reducing && std::abs(after) * c.mid > l.max_position_notional) {
    return Refusal::position_limit;
  }
  const double gross_after = c.gross_notional - std::abs(c.position) * c.mid + std::abs(after) * c.mid;
  if (!reducing && gross_after > l.max_gross_notional) {
    return Refusal::gross_exposure;
  }
  if (!reducing && c.daily_pnl <= -l.daily_loss_limit) {
    return Refusal::daily_loss;
  }
  return Refusal::none;
}

// ---------------------------------------------------------------------------------------------

std::uint32_t RateGuard::Window::in_second(std::uint64_t s) const noexcept {
  const std::size_t i = s % 60;
  return second[i] == s ? count[i] : 0;
}
std::uint32_t RateGuard::Window::in_minute(std::uint64_t s) const noexcept {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < 60; ++i) {
    if (second[i] != 0 && second[i] + 60 > s && second[i] <= s) {
      n += count[i];
    }
  }
  return n;
}
void RateGuard::Window::add(std::uint64_t s) noexcept {
  const std::size_t i = s % 60;
  if (second[i] != s) {
    second[i] = s;
    count[i] = 0;
  }
  ++count[i];
}

bool RateGuard::try_acquire(std::size_t instrument, std::uint64_t now_ns) noexcept {
  const std::uint64_t s = now_ns / kNsPerSecond + 1; // +1: second 0 marks an unused bucket
  Window& w = per_[instrument];
  if (w.in_second(s) + 1 > limits_.orders_per_s_instrument || w.in_minute(s) + 1 > limits_.orders_per_min_instrument ||
      total_.in_second(s) + 1 > limits_.orders_per_s_total || total_.in_minute(s) + 1 > limits_.orders_per_min_total) {
    return false;
  }
  w.add(s);
  total_.add(s);
  return true;
}
std::uint32_t RateGuard::last_second(std::size_t i, std::uint64_t now_ns) const noexcept {
  return per_[i].in_second(now_ns / kNsPerSecond + 1);
}
std::uint32_t RateGuard::last_minute(std::size_t i, std::uint64_t now_ns) const noexcept {
  return per_[i].in_minute(now_ns / kNsPerSecond + 1);
}
std::uint32_t RateGuard::total_last_second(std::uint64_t now_ns) const noexcept {
  return total_.in_second(now_ns / kNsPerSecond + 1);
}
std::uint32_t RateGuard::total_last_minute(std::uint64_t now_ns) const noexcept {
  return total_.in_minute(now_ns / kNsPerSecond + 1);
}

// ---------------------------------------------------------------------------------------------

bool KillSwitch::trip(KillCause cause, KillMode mode, std::uint64_t now_ns) noexcept {
  if (mode == KillMode::none) {
    return false;
  }
  if (tripped()) {
    if (cause == KillCause::command) {
      mode_ = mode; // an operator may change the mode; the first cause stays
    }
    return false;
  }
  mode_ = mode;
  cause_ = cause;
  since_ns_ = now_ns;
  ++trips_;
  return true;
}

KillCause KillSwitch::evaluate(double equity, double peak, double daily_pnl, const RiskLimits& l) noexcept {
  if (peak > 0 && (peak - equity) / peak >= l.max_drawdown) {
    return KillCause::drawdown;
  }
  if (daily_pnl <= -l.daily_loss_limit) {
    return KillCause::daily_loss;
  }
  return KillCause::none;
}

} // namespace qf::core
