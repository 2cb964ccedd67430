#include "qf/core/risk.hpp"

#include <algorithm>
#include <cmath>

namespace qf::core {

namespace {
constexpr double kSecondsPerYear = 365.0 * 86'400.0; // crypto trades every day

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
  return std::trunc(qty / lot + (qty >= 0 ? 1e-9 : -1e-9)) * lot;
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

// ---------------------------------------------------------------------------------------------

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
  if (!should_rebalance(target, position, m.mid, config_.sizing)) {
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
  if (config_.paper.latency_ns > 0) {
    pend = Pending{true, side, qty, 0.0, now_ns + config_.paper.latency_ns, orders_};
    return out;
  }
  execute(i, m, side, qty, 0.0, orders_, now_ns, out);
  return out;
}

// ---------------------------------------------------------------------------------------------

BacktestMetrics::BacktestMetrics(double initial_equity, std::uint64_t interval_ns, BacktestCriteria c) noexcept
    : interval_ns_(interval_ns == 0 ? kNsPerSecond : interval_ns), criteria_(c), initial_(initial_equity),
      last_equity_(initial_equity), prev_sample_(initial_equity), peak_(initial_equity) {}

void BacktestMetrics::close_interval(double equity) noexcept {
  if (prev_sample_ > 0) {
    const double r = equity / prev_sample_ - 1.0;
    ++n_;
    sum_ += r;
    sum_sq_ += r * r;
    down_sq_ += r < 0 ? r * r : 0.0;
  }
  prev_sample_ = equity;
}

void BacktestMetrics::on_equity(std::uint64_t now_ns, double equity) noexcept {
  const std::uint64_t bucket = now_ns / interval_ns_;
  if (!started_) {
    started_ = true;
    bucket_ = bucket;
  }
  // Close every interval that ended before this update; a silent one repeats the equity
  // (bounded: a gap of more than a day adds at most a day of flat intervals).
  const std::uint64_t gaps = std::min<std::uint64_t>(bucket - bucket_, kNsPerDay / interval_ns_ + 1);
  for (std::uint64_t k = 0; k < gaps; ++k) {
    close_interval(last_equity_);
  }
  bucket_ = bucket;
  last_equity_ = equity;
  peak_ = std::max(peak_, equity);
  if (peak_ > 0) {
    max_dd_ = std::max(max_dd_, (peak_ - equity) / peak_);
  }
}

void BacktestMetrics::on_fill(double notional, double fee, bool closing, double net) noexcept {
  ++trades_;
  turnover_ += notional;
  fees_ += fee;
  if (closing) {
    ++closing_;
    if (net > 0) {
      ++wins_;
      gross_win_ += net;
    } else {
      gross_loss_ -= net;
    }
  }
}

BacktestResult BacktestMetrics::result() const noexcept {
  BacktestResult r;
  r.trades = trades_;
  r.closing_trades = closing_;
  r.wins = wins_;
  r.turnover = turnover_;
  r.fees = fees_;
  r.total_return = initial_ > 0 ? last_equity_ / initial_ - 1.0 : 0.0;
  r.max_drawdown = max_dd_;
  r.win_rate = closing_ > 0 ? static_cast<double>(wins_) / static_cast<double>(closing_) : 0.0;
  r.profit_factor = gross_loss_ > 0 ? gross_win_ / gross_loss_ : 0.0;
  r.intervals = n_;
  r.interval_ns = interval_ns_;
  const double per_year = kSecondsPerYear * 1e9 / static_cast<double>(interval_ns_);
  if (n_ >= 2) {
    const double n = static_cast<double>(n_);
    const double mean = sum_ / n;
    const double var = (sum_sq_ - n * mean * mean) / (n - 1.0);
    const double sd = var > 0 ? std::sqrt(var) : 0.0;
    const double dd = std::sqrt(down_sq_ / n);
    r.sharpe = sd > 0 ? mean / sd * std::sqrt(per_year) : 0.0;
    r.sortino = dd > 0 ? mean / dd * std::sqrt(per_year) : 0.0;
  }
  r.go = r.trades >= criteria_.min_trades && r.win_rate >= criteria_.min_win_rate &&
         r.max_drawdown < criteria_.max_drawdown;
  return r;
}

} // namespace qf::core
