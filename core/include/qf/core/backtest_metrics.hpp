#pragma once
// Backtest metrics (replay): online, O(1) memory. Per-interval returns of the equity (Sharpe and
// Sortino annualized over 365 days of 24 h), the maximum drawdown seen on every equity change,
// and the round trips of the fills (win rate, profit factor, turnover, fees), with a go / no-go
// against the configured criteria.

#include <cstdint>

namespace qf::core {

struct BacktestCriteria {
  std::uint64_t min_trades = 10;
  double min_win_rate = 0.45;
  double max_drawdown = 0.20; // strictly below
};

struct BacktestResult {
  std::uint64_t trades = 0; // fills
  std::uint64_t closing_trades = 0, wins = 0;
  double turnover = 0; // sum of |qty| * price
  double fees = 0;
  double total_return = 0;
  double sharpe = 0, sortino = 0; // annualized (365 days of 24 h) from per-interval returns
  double max_drawdown = 0;
  double win_rate = 0;
  double profit_factor = 0; // gross wins / gross losses; 0 without losses or wins
  std::uint64_t intervals = 0;
  std::uint64_t interval_ns = 0;
  bool go = false;
};

class BacktestMetrics {
public:
  BacktestMetrics(double initial_equity, std::uint64_t interval_ns, BacktestCriteria c) noexcept;
  // Every equity change, in time order: max drawdown sees each; returns use the last equity of
  // each interval (an interval without an update repeats the previous equity).
  void on_equity(std::uint64_t now_ns, double equity) noexcept;
  // A fill: net = realized - fee counts toward win rate and profit factor when the fill closed
  // some position (closing).
  void on_fill(double notional, double fee, bool closing, double net) noexcept;
  [[nodiscard]] BacktestResult result() const noexcept;
  [[nodiscard]] std::uint64_t interval_ns() const noexcept { return interval_ns_; }

private:
  void close_interval(double equity) noexcept;

  std::uint64_t interval_ns_;
  BacktestCriteria criteria_;
  double initial_;
  double last_equity_;
  double prev_sample_;
  double peak_;
  double max_dd_ = 0;
  std::uint64_t bucket_ = 0;
  bool started_ = false;
  std::uint64_t n_ = 0;
  double sum_ = 0, sum_sq_ = 0, down_sq_ = 0;
  std::uint64_t trades_ = 0, closing_ = 0, wins_ = 0;
  double turnover_ = 0, fees_ = 0, gross_win_ = 0, gross_loss_ = 0;
};

} // namespace qf::core
