#include "qf/core/backtest_metrics.hpp"

#include <algorithm>
#include <cmath>

#include "qf/core/risk.hpp"

namespace qf::core {
namespace {

constexpr double kFlat = 1e-12; // |position| below this is flat

struct Moments {
  double mean = 0, sd = 0, down = 0;
};

Moments moments(const double* r, std::size_t n) noexcept {
  Moments m;
  if (n < 2) {
    return m;
  }
  double sum = 0, down_sq = 0;
  for (std::size_t k = 0; k < n; ++k) {
    sum += r[k];
    down_sq += r[k] < 0 ? r[k] * r[k] : 0.0;
  }
  m.mean = sum / static_cast<double>(n);
  double ss = 0;
  for (std::size_t k = 0; k < n; ++k) {
    ss += (r[k] - m.mean) * (r[k] - m.mean);
  }
  m.sd = std::sqrt(ss / static_cast<double>(n - 1));
  m.down = std::sqrt(down_sq / static_cast<double>(n));
  return m;
}

double max_drawdown_of(const double* r, std::size_t n) noexcept {
  double equity = 1, peak = 1, dd = 0;
  for (std::size_t k = 0; k < n; ++k) {
    equity *= 1.0 + r[k];
    peak = std::max(peak, equity);
    dd = std::max(dd, (peak - equity) / peak);
  }
  return dd;
}

// splitmix64: a fixed, portable sequence (std distributions differ between libraries).
std::uint64_t next(std::uint64_t& s) noexcept {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double percentile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

} // namespace

BacktestMetrics::BacktestMetrics(double initial_equity, std::uint64_t interval_ns, BacktestCriteria c)
    : interval_ns_(interval_ns == 0 ? kNsPerSecond : interval_ns), criteria_(c), initial_(initial_equity),
      last_equity_(initial_equity), prev_sample_(initial_equity), peak_(initial_equity), dd_peak_(initial_equity) {
  returns_.reserve(kMaxStoredReturns);
}

void BacktestMetrics::close_interval(double equity) noexcept {
  if (prev_sample_ > 0) {
    const double r = equity / prev_sample_ - 1.0;
    ++n_;
    sum_ += r;
    sum_sq_ += r * r;
    down_sq_ += r < 0 ? r * r : 0.0;
    if (returns_.size() < kMaxStoredReturns) {
      returns_.push_back(r); // reserved: never allocates
    }
  }
  prev_sample_ = equity;
}

void BacktestMetrics::on_equity(std::uint64_t now_ns, double equity) noexcept {
  const std::uint64_t bucket = now_ns / interval_ns_;
  if (!started_) {
    started_ = true;
    bucket_ = bucket;
    peak_ns_ = now_ns;
  }
  // Close every interval that ended before this update; a silent one repeats the equity
  // (bounded: a gap of more than a day adds at most a day of flat intervals).
  const std::uint64_t gaps = std::min<std::uint64_t>(bucket - bucket_, kNsPerDay / interval_ns_ + 1);
  for (std::uint64_t k = 0; k < gaps; ++k) {
    close_interval(last_equity_);
  }
  bucket_ = bucket;
  last_equity_ = equity;
  last_ns_ = now_ns;
  if (equity > peak_) {
    peak_ = equity;
    peak_ns_ = now_ns;
  }
  if (max_dd_ > 0 && dd_recovery_ == 0 && equity >= dd_peak_) {
    dd_recovery_ = now_ns; // back to the peak the deepest drawdown fell from
  }
  if (peak_ > 0 && (peak_ - equity) / peak_ > max_dd_) {
    max_dd_ = (peak_ - equity) / peak_;
    dd_peak_ = peak_;
    dd_start_ = peak_ns_;
    dd_trough_ = now_ns;
    dd_recovery_ = 0;
  }
}

void BacktestMetrics::close_round_trip(double pnl) noexcept {
  ++round_trips_;
  if (pnl > 0) {
    ++wins_;
    gross_win_ += pnl;
  } else {
    ++losses_;
    gross_loss_ -= pnl;
  }
}

void BacktestMetrics::on_fill(std::uint64_t now_ns, std::size_t instrument, double signed_qty, double notional,
                              double fee, double realized) noexcept {
  ++trades_;
  turnover_ += notional;
  fees_ += fee;
  closing_ += realized != 0.0 ? 1 : 0;
  if (instrument >= pos_.size()) {
    return;
  }
  const double before = pos_[instrument];
  const double after = before + signed_qty;
  const bool was_open = std::abs(before) > kFlat;
  const bool is_open = std::abs(after) > kFlat;
  const bool crossed = was_open && is_open && (before > 0) != (after > 0);
  if (was_open && (!is_open || crossed)) {
    // The closing part of the fill pays its share of the fee; the rest opens the next round trip.
    const double close_share = std::abs(signed_qty) > 0 ? std::min(1.0, std::abs(before) / std::abs(signed_qty)) : 1.0;
    close_round_trip(open_pnl_[instrument] + realized - fee * close_share);
    open_pnl_[instrument] = crossed ? -fee * (1.0 - close_share) : 0.0;
  } else {
    open_pnl_[instrument] += realized - fee;
  }
  pos_[instrument] = is_open ? after : 0.0;
  const std::size_t open_before = open_count_;
  open_count_ = open_count_ - (was_open ? 1 : 0) + (is_open ? 1 : 0);
  if (open_before == 0 && open_count_ > 0) {
    exposed_since_ = now_ns;
  } else if (open_before > 0 && open_count_ == 0) {
    exposure_ns_ += static_cast<double>(now_ns - exposed_since_);
  }
}

BacktestResult BacktestMetrics::result() const {
  BacktestResult r;
  r.trades = trades_;
  r.closing_trades = closing_;
  r.round_trips = round_trips_;
  r.wins = wins_;
  r.round_trip_pnl = gross_win_ - gross_loss_;
  r.avg_win = wins_ > 0 ? gross_win_ / static_cast<double>(wins_) : 0.0;
  r.avg_loss = losses_ > 0 ? -gross_loss_ / static_cast<double>(losses_) : 0.0;
  r.expectancy = round_trips_ > 0 ? r.round_trip_pnl / static_cast<double>(round_trips_) : 0.0;
  r.turnover = turnover_;
  r.fees = fees_;
  r.total_return = initial_ > 0 ? last_equity_ / initial_ - 1.0 : 0.0;
  r.max_drawdown = max_dd_;
  r.drawdown_start_ns = max_dd_ > 0 ? dd_start_ : 0;
  r.drawdown_trough_ns = max_dd_ > 0 ? dd_trough_ : 0;
  r.drawdown_recovery_ns = dd_recovery_;
  r.exposure_s = (exposure_ns_ + (open_count_ > 0 && last_ns_ > exposed_since_
                                      ? static_cast<double>(last_ns_ - exposed_since_) : 0.0)) / 1e9;
  r.win_rate = round_trips_ > 0 ? static_cast<double>(wins_) / static_cast<double>(round_trips_) : 0.0;
  r.profit_factor = gross_loss_ > 0 ? gross_win_ / gross_loss_ : 0.0;
  r.intervals = n_;
  r.interval_ns = interval_ns_;
  r.sample_period_s = static_cast<double>(n_) * static_cast<double>(interval_ns_) / 1e9;
  r.annualized = r.sample_period_s >= criteria_.min_annualize_s;
  const double scale =
      r.annualized ? std::sqrt(kSecondsPerYear * 1e9 / static_cast<double>(interval_ns_)) : 1.0;
  if (n_ >= 2) {
    const double n = static_cast<double>(n_);
    const double mean = sum_ / n;
    const double var = (sum_sq_ - n * mean * mean) / (n - 1.0);
    const double sd = var > 0 ? std::sqrt(var) : 0.0;
    const double dd = std::sqrt(down_sq_ / n);
    r.sharpe = sd > 0 ? mean / sd * scale : 0.0;
    r.sortino = dd > 0 ? mean / dd * scale : 0.0;
  }
  // Block bootstrap: resample blocks of sqrt(n) consecutive returns (keeps short-range dependence).
  const std::size_t m = returns_.size();
  if (m >= 2) {
    const std::size_t block = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(m)))));
    r.bootstrap_block = block;
    std::vector<double> sample(m), sharpes, dds;
    sharpes.reserve(kBootstrapResamples);
    dds.reserve(kBootstrapResamples);
    std::uint64_t seed = kBootstrapSeed;
    for (std::size_t b = 0; b < kBootstrapResamples; ++b) {
      for (std::size_t k = 0; k < m;) {
        const std::size_t start = static_cast<std::size_t>(next(seed) % (m - block + 1));
        for (std::size_t j = 0; j < block && k < m; ++j, ++k) {
          sample[k] = returns_[start + j];
        }
      }
      const Moments mo = moments(sample.data(), m);
      sharpes.push_back(mo.sd > 0 ? mo.mean / mo.sd * scale : 0.0);
      dds.push_back(max_drawdown_of(sample.data(), m));
    }
    r.sharpe_ci_lo = percentile(sharpes, 0.025);
    r.sharpe_ci_hi = percentile(sharpes, 0.975);
    r.drawdown_ci_lo = percentile(dds, 0.025);
    r.drawdown_ci_hi = percentile(dds, 0.975);
  }
  r.go = r.trades >= criteria_.min_trades && r.win_rate >= criteria_.min_win_rate &&
         r.max_drawdown < criteria_.max_drawdown;
  return r;
}

} // namespace qf::core
