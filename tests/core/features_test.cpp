#include "qf/core/features.hpp"

#include <gtest/gtest.h>

#include "captured_trades.hpp"

#include <cmath>
#include <random>
#include <vector>

namespace qf::core {
namespace {

constexpr double kNs = 1e9;

TEST(features, should_compute_mid_microprice_spread_and_imbalance_from_the_top_of_book) {
  Features f;
  // bid 100.00 x 3, ask 100.10 x 1 (prices in cents, qty in units)
  const Level bids[] = {{10000, 3}, {9990, 5}, {9980, 2}};
  const Level asks[] = {{10010, 1}, {10020, 4}};
  f.on_book(bids, 3, asks, 2, 0.01, 1.0, 1'000'000'000);
  const FeatureValues& v = f.values();
  EXPECT_DOUBLE_EQ(v.mid, 100.05);
  EXPECT_NEAR(v.spread_bps, 0.10 / 100.05 * 1e4, 1e-9);
  EXPECT_NEAR(v.microprice, (100.00 * 1 + 100.10 * 3) / 4.0, 1e-12) << "leans to the thin ask side";
  EXPECT_NEAR(v.imbalance, (10.0 - 5.0) / 15.0, 1e-12);
}

struct MidSample {
  double t_s;
  double r;
  double dt_s;
};

// Brute force over the whole history: sum_i x_i e^{-(T - t_i)/tau} / sum_i w_i e^{-(T - t_i)/tau}.
double naive_ewma(const std::vector<MidSample>& h, double halflife_s, bool squared) {
  const double tau = halflife_s / std::log(2.0);
  const double now = h.back().t_s;
  double num = 0.0;
  double den = 0.0;
  for (const auto& s : h) {
    const double w = std::exp(-(now - s.t_s) / tau);
    num += (squared ? s.r * s.r : s.r) * w;
    den += s.dt_s * w;
  }
  return squared ? std::sqrt(num / den) : num / den;
}

TEST(features, should_match_a_brute_force_recomputation_of_ewma_returns_and_volatility) {
  FeatureConfig config;
  Features f(config);
  std::mt19937_64 rng(5);
  std::exponential_distribution<double> gap_ms(1.0 / 40.0);
  std::normal_distribution<double> move(0.0, 0.5);
  double mid_cents = 6'000'000;
  double t_ms = 1000;
  std::vector<MidSample> history;
  double last_mid = 0.0;
  double last_t = 0.0;
  for (int i = 0; i < 3000; ++i) {
    t_ms += 1.0 + std::floor(gap_ms(rng));
    mid_cents += std::round(move(rng));
    const Level bid{static_cast<std::int64_t>(mid_cents) - 1, 1};
    const Level ask{static_cast<std::int64_t>(mid_cents) + 1, 1};
    const auto t_ns = static_cast<std::uint64_t>(t_ms * 1e6);
    f.on_book(&bid, 1, &ask, 1, 0.01, 1.0, t_ns);
    const double mid = mid_cents * 0.01;
    if (last_mid > 0.0) {
      history.push_back(MidSample{t_ms / 1e3, std::log(mid / last_mid), (t_ms - last_t) / 1e3});
    }
    last_mid = mid;
    last_t = t_ms;
  }
  const FeatureValues& v = f.values();
  EXPECT_NEAR(v.ret_fast, naive_ewma(history, config.fast_halflife_s, false), 1e-9);
  EXPECT_NEAR(v.ret_slow, naive_ewma(history, config.slow_halflife_s, false), 1e-9);
  EXPECT_NEAR(v.realized_vol / naive_ewma(history, config.vol_halflife_s, true), 1.0, 1e-9);
  EXPECT_GT(v.realized_vol, 0.0);
}

struct TradeSample {
  double t_s;
  double price;
  double qty;
  Side side;
};

// Feeds `trades` (in time order) to Features and, every `every` trades, checks trade flow and the
// rolling VWAP against a brute-force recomputation over every trade so far.
void expect_brute_force_flow_and_vwap(const FeatureConfig& config, const std::vector<TradeSample>& trades,
                                      int every) {
  Features f(config);
  for (std::size_t i = 0; i < trades.size(); ++i) {
    const TradeSample& s = trades[i];
    // Both callers' trades have whole-millisecond times.
    f.on_trade(s.price, s.qty, s.side, static_cast<std::uint64_t>(std::llround(s.t_s * 1e3)) * 1'000'000ULL);
    if (i % static_cast<std::size_t>(every) != 0 && i + 1 != trades.size()) {
      continue;
    }
    const double now = s.t_s;
    const double tau = config.flow_halflife_s / std::log(2.0);
    double signed_v = 0.0;
    double total = 0.0;
    double pq = 0.0;
    double q = 0.0;
    const auto now_second = static_cast<std::uint64_t>(std::floor(now + 1e-9));
    for (std::size_t j = 0; j <= i; ++j) {
      const TradeSample& t = trades[j];
      const double w = std::exp(-(now - t.t_s) / tau);
      signed_v += (t.side == Side::bid ? t.qty : -t.qty) * w;
      total += t.qty * w;
      const auto sec = static_cast<std::uint64_t>(std::floor(t.t_s + 1e-9));
      if (sec + config.vwap_window_s > now_second) {
        pq += t.price * t.qty;
        q += t.qty;
      }
    }
    ASSERT_NEAR(f.values().trade_flow, signed_v / total, 1e-9) << "trade " << i;
    ASSERT_NEAR(f.values().vwap, pq / q, 1e-9 * pq / q) << "trade " << i;
  }
}

TEST(features, should_match_brute_force_trade_flow_and_rolling_vwap) {
  FeatureConfig config;
  config.vwap_window_s = 30;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> price(99.0, 101.0);
  std::uniform_real_distribution<double> qty(0.001, 2.0);
  std::exponential_distribution<double> gap_ms(1.0 / 150.0);
  std::vector<TradeSample> trades;
  double t_ms = 5'000;
  for (int i = 0; i < 5000; ++i) {
    // Now and then a silence longer than the VWAP window.
    t_ms += (i % 1000 == 999) ? 45'000.0 : std::floor(gap_ms(rng));
    trades.push_back(TradeSample{t_ms / 1e3, price(rng), qty(rng), (rng() & 1U) != 0 ? Side::bid : Side::ask});
  }
  expect_brute_force_flow_and_vwap(config, trades, 97);
}

TEST(features, should_match_brute_force_trade_flow_and_rolling_vwap_on_the_captured_btcusdt_trades) {
  // Times relative to a whole second before the first trade: the same second boundaries, and
  // small enough that the reference's doubles keep millisecond precision.
  const std::vector<test::CapturedTrade> captured = test::captured_btcusdt_trades();
  ASSERT_FALSE(captured.empty());
  const std::uint64_t base_ns = (captured.front().t_ns / 1'000'000'000ULL - 5) * 1'000'000'000ULL;
  std::vector<TradeSample> trades;
  for (const auto& t : captured) {
    trades.push_back(TradeSample{static_cast<double>(t.t_ns - base_ns) / 1e9, t.price, t.qty,
                                 t.taker_sold ? Side::ask : Side::bid});
  }
  ASSERT_EQ(trades.size(), 9757U); // ../shared/captures/README.md
  FeatureConfig config;
  config.vwap_window_s = 60;
  expect_brute_force_flow_and_vwap(config, trades, 101);
}

TEST(features, should_count_a_late_trade_in_the_vwap_only_while_its_second_is_in_the_window) {
  FeatureConfig config;
  config.vwap_window_s = 10; // seconds 91..100 when the newest trade is in second 100
  Features f(config);
  f.on_trade(100.0, 1.0, Side::bid, 100 * 1'000'000'000ULL);
  f.on_trade(50.0, 1.0, Side::bid, 90 * 1'000'000'000ULL + 5); // second 90: outside
  EXPECT_DOUBLE_EQ(f.values().vwap, 100.0);
  f.on_trade(70.0, 3.0, Side::ask, 91 * 1'000'000'000ULL); // second 91: inside
  EXPECT_DOUBLE_EQ(f.values().vwap, (100.0 + 210.0) / 4.0);
  f.on_trade(100.0, 1.0, Side::bid, 101 * 1'000'000'000ULL); // second 91 leaves the window
  EXPECT_DOUBLE_EQ(f.values().vwap, 100.0);
}

} // namespace
} // namespace qf::core
