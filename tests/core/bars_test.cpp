#include "qf/core/bars.hpp"

#include <gtest/gtest.h>

#include "captured_trades.hpp"

#include <cmath>
#include <random>
#include <vector>

namespace qf::core {
namespace {

constexpr std::uint64_t kSecond = 1'000'000'000ULL;

struct Trade {
  std::uint64_t t;
  double price;
  double qty;
};

// Naive bars: every interval from the first trade's to the last closed one, flat when empty.
std::vector<Bar> naive_bars(const std::vector<Trade>& trades, std::uint64_t interval, std::uint64_t open_start) {
  std::vector<Bar> bars;
  std::uint64_t start = trades.front().t - trades.front().t % interval;
  double prev_close = trades.front().price;
  std::size_t i = 0;
  for (; start < open_start; start += interval) {
    Bar b{start, prev_close, prev_close, prev_close, prev_close, 0.0, 0};
    bool first = true;
    while (i < trades.size() && trades[i].t < start + interval) {
      const auto& t = trades[i++];
      if (first) {
        b.open = b.high = b.low = t.price;
        first = false;
      }
      b.high = std::max(b.high, t.price);
      b.low = std::min(b.low, t.price);
      b.close = t.price;
      b.volume += t.qty;
      ++b.trades;
    }
    prev_close = b.close;
    bars.push_back(b);
  }
  return bars;
}

double naive_rsi(const std::vector<double>& closes, int period) {
  if (static_cast<int>(closes.size()) < period + 1) {
    return std::nan("");
  }
  double gain = 0.0;
  double loss = 0.0;
  for (int i = 1; i <= period; ++i) {
    const double d = closes[static_cast<std::size_t>(i)] - closes[static_cast<std::size_t>(i - 1)];
    gain += std::max(d, 0.0);
    loss += std::max(-d, 0.0);
  }
  gain /= period;
  loss /= period;
  for (std::size_t i = static_cast<std::size_t>(period) + 1; i < closes.size(); ++i) {
    const double d = closes[i] - closes[i - 1];
    gain = (gain * (period - 1) + std::max(d, 0.0)) / period;
    loss = (loss * (period - 1) + std::max(-d, 0.0)) / period;
  }
  return loss == 0.0 ? (gain == 0.0 ? 50.0 : 100.0) : 100.0 - 100.0 / (1.0 + gain / loss);
}

double naive_z(const std::vector<double>& closes, std::size_t n) {
  if (closes.size() < n) {
    return std::nan("");
  }
  double mean = 0.0;
  for (std::size_t i = closes.size() - n; i < closes.size(); ++i) {
    mean += closes[i];
  }
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (std::size_t i = closes.size() - n; i < closes.size(); ++i) {
    var += (closes[i] - mean) * (closes[i] - mean);
  }
  var /= static_cast<double>(n);
  return var <= 1e-18 ? 0.0 : (closes.back() - mean) / std::sqrt(var);
}

double naive_atr(const std::vector<Bar>& bars, int period) {
  if (static_cast<int>(bars.size()) < period) {
    return std::nan("");
  }
  double atr = 0.0;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    double tr = bars[i].high - bars[i].low;
    if (i > 0) {
      const double prev = bars[i - 1].close;
      tr = std::max({tr, std::fabs(bars[i].high - prev), std::fabs(bars[i].low - prev)});
    }
    atr = static_cast<int>(i) < period ? atr + tr / period : (atr * (period - 1) + tr) / period;
  }
  return atr;
}

// Feeds `trades` through a BarBuilder and checks every closed bar, and the indicators every 50
// bars, against the naive recomputations above.
void expect_naive_bars_and_indicators(const std::vector<Trade>& trades, std::size_t min_bars) {
  BarBuilder builder(kSecond);
  std::vector<Bar> got;
  std::vector<BarIndicators> got_ind;
  for (const auto& t : trades) {
    builder.on_trade(t.t, t.price, t.qty, [&](const Bar& b, const BarIndicators& ind) {
      got.push_back(b);
      got_ind.push_back(ind);
    });
  }
  const std::vector<Bar> want = naive_bars(trades, kSecond, builder.current().start_ns);
  ASSERT_EQ(got.size(), want.size());
  std::vector<double> closes;
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].start_ns, want[i].start_ns) << i;
    ASSERT_DOUBLE_EQ(got[i].open, want[i].open) << i;
    ASSERT_DOUBLE_EQ(got[i].high, want[i].high) << i;
    ASSERT_DOUBLE_EQ(got[i].low, want[i].low) << i;
    ASSERT_DOUBLE_EQ(got[i].close, want[i].close) << i;
    ASSERT_NEAR(got[i].volume, want[i].volume, 1e-9) << i;
    ASSERT_EQ(got[i].trades, want[i].trades) << i;
    closes.push_back(want[i].close);
    const std::vector<Bar> so_far(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    if (i % 50 == 0 || i + 1 == want.size()) {
      const double rsi = naive_rsi(closes, 14);
      const double z = naive_z(closes, 20);
      const double atr = naive_atr(so_far, 14);
      EXPECT_TRUE(std::isnan(rsi) ? std::isnan(got_ind[i].rsi) : std::fabs(rsi - got_ind[i].rsi) < 1e-9) << i;
      EXPECT_TRUE(std::isnan(z) ? std::isnan(got_ind[i].bollinger_z) : std::fabs(z - got_ind[i].bollinger_z) < 1e-6) << i;
      EXPECT_TRUE(std::isnan(atr) ? std::isnan(got_ind[i].atr) : std::fabs(atr - got_ind[i].atr) < 1e-9) << i;
    }
  }
  EXPECT_GE(builder.closed_bars(), min_bars);
}

TEST(bars, should_match_naive_bars_and_indicators_on_random_trades) {
  std::mt19937_64 rng(21);
  std::exponential_distribution<double> gap_ms(1.0 / 300.0);
  std::normal_distribution<double> move(0.0, 0.05);
  std::uniform_real_distribution<double> qty(0.01, 3.0);
  std::vector<Trade> trades;
  double price = 100.0;
  double t_ms = 1'700'000'000'000.0;
  for (int i = 0; i < 20'000; ++i) {
    t_ms += std::floor(gap_ms(rng)) + (i % 2000 == 1999 ? 7'000.0 : 0.0); // some empty seconds
    price += move(rng);
    trades.push_back(Trade{static_cast<std::uint64_t>(t_ms) * 1'000'000ULL, price, qty(rng)});
  }
  expect_naive_bars_and_indicators(trades, 1000);
}

TEST(bars, should_match_naive_bars_and_indicators_on_the_captured_btcusdt_trades) {
  std::vector<Trade> trades;
  for (const auto& t : test::captured_btcusdt_trades()) {
    trades.push_back(Trade{t.t_ns, t.price, t.qty});
  }
  ASSERT_EQ(trades.size(), 9757U); // ../shared/captures/README.md
  expect_naive_bars_and_indicators(trades, 300); // 346 s of trading
}

TEST(bars, should_close_flat_bars_for_silent_intervals_and_cap_them_after_a_long_silence) {
  BarBuilder builder(kSecond);
  int closed = 0;
  const auto count = [&](const Bar&, const BarIndicators&) { ++closed; };
  builder.on_trade(10 * kSecond, 5.0, 1.0, count);
  builder.on_trade(13 * kSecond + 5, 6.0, 1.0, count); // closes 10, 11, 12
  EXPECT_EQ(closed, 3);
  EXPECT_DOUBLE_EQ(builder.last_closed().close, 5.0);
  EXPECT_EQ(builder.last_closed().volume, 0.0);
  builder.on_trade(1000 * kSecond, 7.0, 1.0, count);
  EXPECT_EQ(closed, 3 + 1 + BarBuilder::kMaxFillBars);
  EXPECT_EQ(builder.skipped_bars(), 1000U - 14U - BarBuilder::kMaxFillBars);
}

} // namespace
} // namespace qf::core
