#pragma once
// Backtest metrics (replay). Per-interval returns of the equity (the last equity of each interval;
// a silent interval repeats it). Sharpe and Sortino are annualized (365 days of 24 h) only when the
// run covers at least BacktestCriteria::min_annualize_s; shorter runs report them per interval,
// unannualized (`annualized` false). Maximum drawdown on every equity change, with its start (the
// peak), trough and recovery times. A round trip is one instrument's position from leaving flat to
// returning to flat (a fill through zero closes one and opens the next, its fee split by quantity);
// its P&L is its fills' realized P&L minus their fees; win rate, average win / loss, profit factor
// and expectancy count round trips. Exposure time: time with any position open. A block bootstrap
// of the per-interval returns (deterministic seed) gives 95% intervals for Sharpe and drawdown.
// Memory: the returns are kept (reserved at construction, kMaxStoredReturns) for the bootstrap;
// nothing allocates per update.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qf/ipc/state_layout.hpp"

namespace qf::core {

struct BacktestCriteria {
  std::uint64_t min_trades = 10;
  double min_win_rate = 0.45;
  double max_drawdown = 0.20; // strictly below
  double min_annualize_s = 86'400; // Sharpe / Sortino annualized only for runs at least this long
};

inline constexpr std::size_t kMaxStoredReturns = std::size_t{1} << 20; // bootstrap sample cap
inline constexpr std::size_t kBootstrapResamples = 1'000;
inline constexpr std::uint64_t kBootstrapSeed = 20240808;

struct BacktestResult {
  std::uint64_t trades = 0; // fills
  std::uint64_t closing_trades = 0; // fills that realized P&L
  std::uint64_t round_trips = 0, wins = 0;
  double round_trip_pnl = 0;           // sum over closed round trips (realized - fees)
  double avg_win = 0, avg_loss = 0;    // per winning / losing round trip (avg_loss <= 0)
  double expectancy = 0;               // round_trip_pnl / round_trips
  double turnover = 0; // sum of |qty| * price
  double fees = 0;
  double total_return = 0;
  bool annualized = false;             // run >= min_annualize_s
  double sharpe = 0, sortino = 0;      // annualized, or per interval when !annualized
  double max_drawdown = 0;
  std::uint64_t drawdown_start_ns = 0, drawdown_trough_ns = 0, drawdown_recovery_ns = 0; // 0: none / not recovered
  double exposure_s = 0;               // time with any position open
  double sample_period_s = 0;          // intervals * interval
  double win_rate = 0;
  double profit_factor = 0; // gross wins / gross losses of round trips; 0 without losses
  std::uint64_t intervals = 0;
  std::uint64_t interval_ns = 0;
  double sharpe_ci_lo = 0, sharpe_ci_hi = 0;       // bootstrap 2.5 % / 97.5 %, same scale as sharpe
  double drawdown_ci_lo = 0, drawdown_ci_hi = 0;
  std::uint64_t bootstrap_block = 0;
  bool go = false;
};

class BacktestMetrics {
public:
  BacktestMetrics(double initial_equity, std::uint64_t interval_ns, BacktestCriteria c);
  // Every equity change, in time order.
  void on_equity(std::uint64_t now_ns, double equity) noexcept;
  // A fill of `instrument`: signed quantity (buy > 0), notional |qty| * price, its fee and the gross
  // realized P&L it closed.
  void on_fill(std::uint64_t now_ns, std::size_t instrument, double signed_qty, double notional, double fee,
               double realized) noexcept;
  [[nodiscard]] BacktestResult result() const;
  [[nodiscard]] std::uint64_t interval_ns() const noexcept { return interval_ns_; }

private:
  void close_interval(double equity) noexcept;
  void close_round_trip(double pnl) noexcept;

  std::uint64_t interval_ns_;
  BacktestCriteria criteria_;
  double initial_;
  double last_equity_;
  double prev_sample_;
  double peak_;
  std::uint64_t peak_ns_ = 0, last_ns_ = 0;
  double max_dd_ = 0, dd_peak_ = 0;
  std::uint64_t dd_start_ = 0, dd_trough_ = 0, dd_recovery_ = 0;
  std::uint64_t bucket_ = 0;
  bool started_ = false;
  std::vector<double> returns_;
  std::uint64_t n_ = 0;
  double sum_ = 0, sum_sq_ = 0, down_sq_ = 0;
  std::uint64_t trades_ = 0, closing_ = 0, round_trips_ = 0, wins_ = 0, losses_ = 0;
  double turnover_ = 0, fees_ = 0, gross_win_ = 0, gross_loss_ = 0;
  std::array<double, ipc::kMaxInstruments> pos_{};
  std::array<double, ipc::kMaxInstruments> open_pnl_{}; // realized - fees of the open round trip
  std::size_t open_count_ = 0;
  std::uint64_t exposed_since_ = 0;
  double exposure_ns_ = 0;
};

} // namespace qf::core
