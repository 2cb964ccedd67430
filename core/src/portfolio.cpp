#include "qf/core/portfolio.hpp"

#include <algorithm>
#include <cmath>

#include "qf/core/risk.hpp"

namespace qf::core {

namespace {
double signed_qty(Side side, double qty) noexcept { return side == Side::bid ? qty : -qty; }
} // namespace

Portfolio::Portfolio(double initial_capital) noexcept
    : initial_(initial_capital), cash_(initial_capital), peak_(initial_capital), day_start_equity_(initial_capital) {}

Fill Portfolio::apply(Fill f) noexcept {
  roll_day(f.unix_ns);
  Position& p = positions_[f.instrument];
  const double delta = signed_qty(f.side, f.qty);
  f.realized = 0;
  if (p.qty != 0 && (p.qty > 0) != (delta > 0)) { // closes some of the position
    const double closed = std::min(std::abs(delta), std::abs(p.qty));
    f.realized = (f.price - p.avg_cost) * closed * (p.qty > 0 ? 1.0 : -1.0);
    const double left = p.qty + delta;
    if (std::abs(delta) > std::abs(p.qty)) {
      p.avg_cost = f.price; // flipped: the remainder opened at this price
    } else if (left == 0) {
      p.avg_cost = 0;
    }
    p.qty = left;
  } else {
    const double total = std::abs(p.qty) + std::abs(delta);
    p.avg_cost = total > 0 ? (p.avg_cost * std::abs(p.qty) + f.price * std::abs(delta)) / total : 0;
    p.qty += delta;
  }
  if (std::abs(p.qty) < 1e-12) {
    p.qty = 0;
    p.avg_cost = 0;
  }
  p.realized += f.realized;
  p.fees += f.fee;
  ++p.fills;
  if (p.mark == 0) {
    p.mark = f.price;
  }
  cash_ -= delta * f.price + f.fee;
  fees_ += f.fee;
  recent_[fill_count_ % kRecentFills] = f;
  ++fill_count_;
  update_peak();
  return f;
}

void Portfolio::mark(std::size_t instrument, double mid, std::uint64_t now_ns) noexcept {
  roll_day(now_ns);
  if (mid > 0) {
    positions_[instrument].mark = mid;
  }
  update_peak();
}

void Portfolio::restore_cash(double cash, double peak, double day_start_equity, std::uint64_t day, double fees,
                             std::uint64_t fills) noexcept {
  fill_count_ = fills;
  recent_ = {};
  cash_ = cash;
  peak_ = peak;
  day_start_equity_ = day_start_equity;
  day_ = day;
  fees_ = fees;
}

void Portfolio::roll_day(std::uint64_t now_ns) noexcept {
  if (now_ns == 0) {
    return;
  }
  const std::uint64_t day = now_ns / kNsPerDay + 1; // 0 stays "not started"
  if (day != day_) {
    day_start_equity_ = equity(); // called before the update that brought the new day
    day_ = day;
  }
}

void Portfolio::update_peak() noexcept { peak_ = std::max(peak_, equity()); }

double Portfolio::equity() const noexcept {
  double e = cash_;
  for (const Position& p : positions_) {
    e += p.qty * p.mark;
  }
  return e;
}
double Portfolio::realized() const noexcept {
  double r = 0;
  for (const Position& p : positions_) {
    r += p.realized;
  }
  return r;
}
double Portfolio::unrealized() const noexcept {
  double u = 0;
  for (const Position& p : positions_) {
    u += p.qty * (p.mark - p.avg_cost);
  }
  return u;
}
double Portfolio::gross_notional() const noexcept {
  double g = 0;
  for (const Position& p : positions_) {
    g += std::abs(p.qty) * p.mark;
  }
  return g;
}
double Portfolio::drawdown() const noexcept { return peak_ > 0 ? std::max(0.0, (peak_ - equity()) / peak_) : 0.0; }

} // namespace qf::core
