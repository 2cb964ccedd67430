#include "qf/core/features.hpp"

#include <algorithm>

namespace qf::core {

Features::Features(const FeatureConfig& config) noexcept
    : config_(config), tau_fast_(tau_ns(config.fast_halflife_s)), tau_slow_(tau_ns(config.slow_halflife_s)),
      tau_vol_(tau_ns(config.vol_halflife_s)), tau_flow_(tau_ns(config.flow_halflife_s)) {
  config_.vwap_window_s = std::clamp<std::uint32_t>(config_.vwap_window_s, 1, kMaxVwapSeconds);
  config_.imbalance_levels = std::clamp<std::uint32_t>(config_.imbalance_levels, 1, kMaxLevels);
}

void Features::on_book(const Level* bids, std::size_t n_bids, const Level* asks, std::size_t n_asks,
                       double price_scale, double qty_scale, std::uint64_t t_ns) noexcept {
  if (n_bids == 0 || n_asks == 0) {
    return; // one-sided book: keep the last values
  }
  const double bid = static_cast<double>(bids[0].price) * price_scale;
  const double ask = static_cast<double>(asks[0].price) * price_scale;
  const double bid_qty = static_cast<double>(bids[0].qty) * qty_scale;
  const double ask_qty = static_cast<double>(asks[0].qty) * qty_scale;
  const double mid = 0.5 * (bid + ask);
  v_.mid = mid;
  v_.spread_bps = mid > 0.0 ? (ask - bid) / mid * 1e4 : 0.0;
  // Microprice: the touch weighted toward the side with less size (the likely next move).
  v_.microprice = bid_qty + ask_qty > 0.0 ? (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty) : mid;
  double bid_depth = 0.0;
  double ask_depth = 0.0;
  const std::size_t levels = config_.imbalance_levels;
  for (std::size_t i = 0; i < std::min(levels, n_bids); ++i) {
    bid_depth += static_cast<double>(bids[i].qty);
  }
  for (std::size_t i = 0; i < std::min(levels, n_asks); ++i) {
    ask_depth += static_cast<double>(asks[i].qty);
  }
  v_.imbalance = bid_depth + ask_depth > 0.0 ? (bid_depth - ask_depth) / (bid_depth + ask_depth) : 0.0;
  on_mid(mid, t_ns);
  v_.updated_ns = t_ns;
}

void Features::on_mid(double mid, std::uint64_t t_ns) noexcept {
  if (last_mid_ns_ == 0 || mid <= 0.0 || last_mid_ <= 0.0) {
    last_mid_ = mid;
    last_mid_ns_ = t_ns;
    return;
  }
  if (t_ns <= last_mid_ns_) {
    if (mid != last_mid_) {
      // Same timestamp: fold the move into the previous interval's return.
      last_mid_ = mid;
    }
    return;
  }
  const double dt = static_cast<double>(t_ns - last_mid_ns_);
  const double r = std::log(mid / last_mid_);
  const auto step = [dt](double& num, double& den, double tau, double x, double w) {
    const double decay = std::exp(-dt / tau);
    num = num * decay + x;
    den = den * decay + w;
  };
  const double dt_s = dt * 1e-9;
  step(fast_num_, fast_den_, tau_fast_, r, dt_s);
  step(slow_num_, slow_den_, tau_slow_, r, dt_s);
  step(var_num_, var_den_, tau_vol_, r * r, dt_s);
  v_.ret_fast = fast_den_ > 0.0 ? fast_num_ / fast_den_ : 0.0;
  v_.ret_slow = slow_den_ > 0.0 ? slow_num_ / slow_den_ : 0.0;
  v_.realized_vol = var_den_ > 0.0 ? std::sqrt(var_num_ / var_den_) : 0.0;
  last_mid_ = mid;
  last_mid_ns_ = t_ns;
}

void Features::on_trade(double price, double qty, Side aggressor, std::uint64_t t_ns) noexcept {
  // Trade flow: exponentially decayed signed and total volume.
  if (last_flow_ns_ != 0 && t_ns > last_flow_ns_) {
    const double decay = std::exp(-static_cast<double>(t_ns - last_flow_ns_) / tau_flow_);
    flow_signed_ *= decay;
    flow_total_ *= decay;
  }
  if (t_ns > last_flow_ns_) {
    last_flow_ns_ = t_ns;
  }
  flow_signed_ += aggressor == Side::bid ? qty : -qty;
  flow_total_ += qty;
  v_.trade_flow = flow_total_ > 0.0 ? flow_signed_ / flow_total_ : 0.0;

  // VWAP over the last vwap_window_s whole seconds, the current one included. Slot s % window
  // holds second s; slots are emptied as time reaches them again (at most `window` per call).
  const std::uint64_t second = t_ns / 1'000'000'000ULL;
  const std::uint64_t window = config_.vwap_window_s;
  if (second > newest_second_ || q_sum_ == 0.0) {
    const std::uint64_t gap = second > newest_second_ ? second - newest_second_ : 0;
    if (gap >= window) {
      for (std::uint64_t k = 0; k < window; ++k) {
        buckets_[k] = Bucket{};
      }
      pq_sum_ = 0.0;
      q_sum_ = 0.0;
    } else {
      for (std::uint64_t s = newest_second_ + 1; s <= second; ++s) {
        Bucket& b = buckets_[s % window];
        pq_sum_ -= b.pq;
        q_sum_ -= b.q;
        b = Bucket{};
      }
    }
    newest_second_ = std::max(newest_second_, second);
  }
  if (second + window > newest_second_) { // a late trade still inside the window counts
    Bucket& b = buckets_[second % window];
    b.second = second;
    b.pq += price * qty;
    b.q += qty;
    pq_sum_ += price * qty;
    q_sum_ += qty;
  }
  v_.vwap = q_sum_ > 0.0 ? pq_sum_ / q_sum_ : price;
  v_.updated_ns = t_ns;
}

} // namespace qf::core
