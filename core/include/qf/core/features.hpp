#pragma once
// Features: one instrument's incremental market features, O(1) per update, fixed memory.
// Book-derived (on every book or BBO change): mid, microprice, spread in bps, top-N depth
// imbalance. Trade-derived: trade-flow imbalance (time-decayed signed volume / volume) and a
// rolling VWAP over whole seconds (a ring of per-second buckets). Mid-derived, in event time
// with irregular spacing handled exactly (decay = exp(-dt / tau)):
//   ret_fast, ret_slow  EWMA of mid log returns per second, with the fast and slow half-lives;
//   realized_vol        sqrt(EWMA(r^2) / EWMA(dt)): volatility per sqrt(second).
// All prices here are doubles scaled from fixed point by the caller. Single thread.

#include <array>
#include <cmath>
#include <cstdint>

#include "qf/core/event.hpp"
#include "qf/core/order_book.hpp"

namespace qf::core {

struct FeatureConfig {
  double fast_halflife_s = 5.0;
  double slow_halflife_s = 60.0;
  double vol_halflife_s = 60.0;
  double flow_halflife_s = 10.0;
  std::uint32_t vwap_window_s = 300; // at most kMaxVwapSeconds
  std::uint32_t imbalance_levels = 5;
};

struct FeatureValues {
  double mid = 0.0;
  double microprice = 0.0;
  double spread_bps = 0.0;
  double imbalance = 0.0;  // (bid depth - ask depth) / sum over the top N levels, in [-1, 1]
  double trade_flow = 0.0; // (buy volume - sell volume) / volume, time-decayed, in [-1, 1]
  double ret_fast = 0.0;   // per second
  double ret_slow = 0.0;   // per second
  double realized_vol = 0.0; // per sqrt(second)
  double vwap = 0.0;
  std::uint64_t updated_ns = 0;
};

class Features {
public:
  static constexpr std::uint32_t kMaxVwapSeconds = 3600;
  static constexpr std::size_t kMaxLevels = 20;

  explicit Features(const FeatureConfig& config = {}) noexcept;

  // Top of book changed. Levels best first; scale turns fixed point into doubles.
  void on_book(const Level* bids, std::size_t n_bids, const Level* asks, std::size_t n_asks, double price_scale,
               double qty_scale, std::uint64_t t_ns) noexcept;
  // A trade; `aggressor` is the taker side (bid = buyer initiated).
  void on_trade(double price, double qty, Side aggressor, std::uint64_t t_ns) noexcept;

  [[nodiscard]] const FeatureValues& values() const noexcept { return v_; }

private:
  void on_mid(double mid, std::uint64_t t_ns) noexcept;
  [[nodiscard]] static double tau_ns(double halflife_s) noexcept { return halflife_s * 1e9 / std::log(2.0); }

  FeatureConfig config_;
  FeatureValues v_;
  double tau_fast_, tau_slow_, tau_vol_, tau_flow_;
  // EWMA state: numerators and denominators, so irregular spacing weighs time correctly.
  double fast_num_ = 0.0, fast_den_ = 0.0;
  double slow_num_ = 0.0, slow_den_ = 0.0;
  double var_num_ = 0.0, var_den_ = 0.0;
  double flow_signed_ = 0.0, flow_total_ = 0.0;
  std::uint64_t last_mid_ns_ = 0;
  std::uint64_t last_flow_ns_ = 0;
  double last_mid_ = 0.0;
  // VWAP: per-second buckets of price*qty and qty.
  struct Bucket {
    std::uint64_t second = 0;
    double pq = 0.0;
    double q = 0.0;
  };
  std::array<Bucket, kMaxVwapSeconds> buckets_{};
  double pq_sum_ = 0.0, q_sum_ = 0.0;
  std::uint64_t newest_second_ = 0;
};

} // namespace qf::core
