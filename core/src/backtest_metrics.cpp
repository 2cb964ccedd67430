#include "qf/core/backtest_metrics.hpp"

#include <algorithm>
#include <cmath>

#include "qf/core/risk.hpp"

namespace qf::core {

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
