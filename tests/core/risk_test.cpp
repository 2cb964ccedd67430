#include "qf/core/risk.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "qf/core/backtest_metrics.hpp"
#include "qf/core/paper.hpp"
#include "qf/core/portfolio.hpp"

namespace qf::core {
namespace {

constexpr std::uint64_t kT0 = 1'723'075'200ULL * kNsPerSecond; // 2024-08-08 00:00:00 UTC

// A book view over `bids`/`asks` (prices in cents, quantities at `qty_scale`): the fields every
// trader test sets; the arrays must outlive the view.
template <std::size_t N>
MarketView view_of(const std::array<Level, N>& bids, const std::array<Level, N>& asks, double mid, double vol,
                   double signal, ipc::BookHealth health = ipc::BookHealth::live, double qty_scale = 0.001) {
  MarketView m;
  m.health = health;
  m.mid = mid;
  m.realized_vol = vol;
  m.signal = signal;
  m.bids = bids.data();
  m.n_bids = N;
  m.asks = asks.data();
  m.n_asks = N;
  m.price_scale = 0.01;
  m.qty_scale = qty_scale;
  return m;
}

// A live one-level book at 99.99 / 100.01 (deep), vol 1e-4 per sqrt s: the flipping-signal tests.
struct FlipMarket {
  std::array<Level, 1> bids{{{9'999, 1'000'000'000}}};
  std::array<Level, 1> asks{{{10'001, 1'000'000'000}}};
  MarketView m = view_of(bids, asks, 100.0, 1e-4, 0.0);
};

// The strategy's pacing off (no band, no holding time, no order gap): the planted runaway, and the
// tests of one mechanism that want an order on every due update.
RiskConfig unpaced() {
  RiskConfig c;
  c.sizing.band_notional = 0;
  c.sizing.min_hold_ns = 0;
  c.sizing.min_order_gap_ns = 0;
  return c;
}

// ------------------------------------------------------------------------------------------ sizing

TEST(sizing, should_scale_by_signal_and_inverse_vol_and_round_to_the_lot) {
  SizingParams p;
  p.target_vol_annual = 0.20;
  p.allocation = 0.10;
  // realized vol chosen so that annual vol = 0.40: 0.40 / sqrt(365 * 86400)
  const double rv = 0.40 / std::sqrt(365.0 * 86400.0);
  // notional = 0.5 * (0.2 / 0.4) * 0.1 * 100000 = 2500; qty = 2500 / 50000 = 0.05
  EXPECT_NEAR(vol_target_qty(0.5, rv, 50'000.0, 100'000.0, p, 0.001), 0.05, 1e-12);
  // lot 0.02: 0.05 / 0.02 = 2.5 -> rounds to 3 lots = 0.06 (nearest, half away from zero)
  EXPECT_NEAR(vol_target_qty(0.5, rv, 50'000.0, 100'000.0, p, 0.02), 0.06, 1e-12);
  EXPECT_NEAR(vol_target_qty(-0.5, rv, 50'000.0, 100'000.0, p, 0.001), -0.05, 1e-12);
  // doubling the vol halves the position
  EXPECT_NEAR(vol_target_qty(0.5, 2 * rv, 50'000.0, 100'000.0, p, 0.001), 0.025, 1e-12);
}

TEST(sizing, should_hold_nothing_without_a_vol_estimate_or_mid) {
  SizingParams p;
  EXPECT_EQ(vol_target_qty(1.0, 0.0, 50'000.0, 100'000.0, p, 0.001), 0.0);
  EXPECT_EQ(vol_target_qty(1.0, p.vol_floor / 2, 50'000.0, 100'000.0, p, 0.001), 0.0);
  EXPECT_EQ(vol_target_qty(1.0, 1e-4, 0.0, 100'000.0, p, 0.001), 0.0);
  EXPECT_EQ(vol_target_qty(NAN, 1e-4, 50'000.0, 100'000.0, p, 0.001), 0.0);
}

TEST(sizing, should_not_churn_below_the_rebalance_notional) {
  SizingParams p;
  p.rebalance_notional = 500;
  EXPECT_FALSE(should_rebalance(0.01, 0.0, 50'000.0, p)); // 500: not above
  EXPECT_TRUE(should_rebalance(0.0102, 0.0, 50'000.0, p)); // 510
  EXPECT_FALSE(should_rebalance(0.105, 0.1, 50'000.0, p)); // 250
  EXPECT_TRUE(should_rebalance(-0.1, 0.1, 50'000.0, p));
  EXPECT_NEAR(round_down_to_lot(0.0379, 0.01), 0.03, 1e-12);
  EXPECT_NEAR(round_down_to_lot(-0.0379, 0.01), -0.03, 1e-12);
}

TEST(sizing, should_keep_a_quantity_already_on_the_lot_however_many_lots_it_holds) {
  // 1.14918017 / 1e-8 is 114918016.99999999 in doubles, where an absolute epsilon of 1e-9 lots is
  // below one ulp: the quantity lost its last step (paper_orders_test, a 1.15 BTC market order).
  EXPECT_NEAR(round_down_to_lot(1.14918017, 1e-8), 1.14918017, 1e-15);
  EXPECT_NEAR(round_down_to_lot(-1.14918017, 1e-8), -1.14918017, 1e-15);
  EXPECT_NEAR(round_down_to_lot(12345.678901, 1e-6), 12345.678901, 1e-9);
  EXPECT_NEAR(round_down_to_lot(1.149180169, 1e-8), 1.14918016, 1e-15); // off the lot: still down
}

// ------------------------------------------------------------------------------------------ checks

struct CheckCase {
  const char* name;
  OrderIntent order;
  PreTradeContext ctx;
  Refusal expected;
};

TEST(pre_trade, should_refuse_exactly_when_a_limit_is_crossed_with_the_right_reason) {
  RiskLimits l; // band 50 bps, order 10k, position 20k, gross 50k, daily loss 2k
  const auto ctx = [](double position, double gross, double daily, ipc::BookHealth h = ipc::BookHealth::live,
                      KillMode k = KillMode::none) {
    PreTradeContext c;
    c.health = h;
    c.mid = 100.0;
    c.position = position;
    c.gross_notional = gross;
    c.daily_pnl = daily;
    c.kill = k;
    return c;
  };
  const OrderIntent buy10{Side::bid, 10.0, 100.1};  // 1,000 notional
  const OrderIntent sell10{Side::ask, 10.0, 99.9};
  const std::vector<CheckCase> cases = {
      {"ok", buy10, ctx(0, 0, 0), Refusal::none},
      {"syncing book", buy10, ctx(0, 0, 0, ipc::BookHealth::syncing), Refusal::book_not_live},
      {"gap book", buy10, ctx(0, 0, 0, ipc::BookHealth::gap), Refusal::book_not_live},
      {"crossed book", buy10, ctx(0, 0, 0, ipc::BookHealth::crossed), Refusal::book_not_live},
      {"price at band edge", {Side::bid, 10.0, 100.5}, ctx(0, 0, 0), Refusal::none},
      {"price beyond band", {Side::bid, 10.0, 100.51}, ctx(0, 0, 0), Refusal::price_band},
      {"price below band", {Side::ask, 10.0, 99.49}, ctx(0, 0, 0), Refusal::price_band},
      {"order notional at limit", {Side::bid, 100.0, 100.0}, ctx(0, 0, 0), Refusal::none},
      {"order notional over", {Side::bid, 100.01, 100.0}, ctx(0, 0, 0), Refusal::order_notional},
      {"position at limit", buy10, ctx(190, 19'000, 0), Refusal::none},
      {"position over", buy10, ctx(191, 19'100, 0), Refusal::position_limit},
      {"short position over", sell10, ctx(-191, 19'100, 0), Refusal::position_limit},
      {"reducing a too-large position", sell10, ctx(250, 25'000, 0), Refusal::none},
      {"gross at limit", buy10, ctx(0, 49'000, 0), Refusal::none},
      {"gross over", buy10, ctx(0, 49'001, 0), Refusal::gross_exposure},
      {"daily loss just inside", buy10, ctx(0, 0, -1'999.99), Refusal::none},
      {"daily loss at limit", buy10, ctx(0, 0, -2'000), Refusal::daily_loss},
      {"daily loss but reducing", sell10, ctx(50, 5'000, -3'000), Refusal::none},
      {"halted", sell10, ctx(50, 5'000, 0, ipc::BookHealth::live, KillMode::halt), Refusal::kill_switch},
      {"reduce-only growing", buy10, ctx(50, 5'000, 0, ipc::BookHealth::live, KillMode::reduce_only),
       Refusal::kill_switch},
      {"reduce-only reducing", sell10, ctx(50, 5'000, 0, ipc::BookHealth::live, KillMode::reduce_only), Refusal::none},
      {"reduce-only crossing zero", {Side::ask, 60.0, 99.9}, ctx(50, 5'000, 0, ipc::BookHealth::live,
                                                                 KillMode::reduce_only), Refusal::kill_switch},
  };
  for (const CheckCase& c : cases) {
    EXPECT_EQ(pre_trade_check(c.order, c.ctx, l), c.expected) << c.name;
  }
}

// The trader counts each refusal under its own reason.
TEST(pre_trade, should_count_refusals_by_reason_in_the_trader) {
  RiskConfig c;
  c.sizing.rebalance_notional = 1;
  PaperTrader t(c);
  std::array<Level, 1> bids{{{9'990, 1'000'000}}};
  std::array<Level, 1> asks{{{10'010, 1'000'000}}};
  MarketView m = view_of(bids, asks, 100.0, 1e-4, 1.0, ipc::BookHealth::syncing);
  EXPECT_EQ(t.on_update(0, m, kT0).refused, Refusal::book_not_live);
  EXPECT_EQ(t.on_update(0, m, kT0 + 1).refused, Refusal::book_not_live);
  // a touch 100 bps away from the mid
  asks[0].price = 10'100;
  m.health = ipc::BookHealth::live;
  EXPECT_EQ(t.on_update(0, m, kT0 + 2).refused, Refusal::price_band);
  EXPECT_EQ(t.refusals(Refusal::book_not_live), 2U);
  EXPECT_EQ(t.refusals(Refusal::price_band), 1U);
  EXPECT_EQ(t.refusals(Refusal::position_limit), 0U);
  EXPECT_EQ(t.orders(), 0U);
  EXPECT_EQ(t.portfolio().fill_count(), 0U);
}

// ------------------------------------------------------------------------------------------ rate guard

TEST(rate_guard, should_allow_exactly_the_per_second_and_per_minute_limits) {
  RiskLimits l;
  l.orders_per_s_instrument = 3;
  l.orders_per_min_instrument = 7;
  l.orders_per_s_total = 5;
  l.orders_per_min_total = 100;
  RateGuard g(l);
  EXPECT_TRUE(g.try_acquire(0, kT0));
  EXPECT_TRUE(g.try_acquire(0, kT0 + 1));
  EXPECT_TRUE(g.try_acquire(0, kT0 + 2));
  EXPECT_FALSE(g.try_acquire(0, kT0 + 3)); // 4th in the same second
  EXPECT_TRUE(g.try_acquire(1, kT0 + 4));  // another instrument
  EXPECT_TRUE(g.try_acquire(1, kT0 + 5));
  EXPECT_FALSE(g.try_acquire(2, kT0 + 6)); // 6th overall in the second
  EXPECT_EQ(g.total_last_second(kT0 + 7), 5U);
  // next seconds: 3 + 3 + 1 = 7 per minute for instrument 0
  EXPECT_TRUE(g.try_acquire(0, kT0 + kNsPerSecond));
  EXPECT_TRUE(g.try_acquire(0, kT0 + kNsPerSecond));
  EXPECT_TRUE(g.try_acquire(0, kT0 + kNsPerSecond));
  EXPECT_TRUE(g.try_acquire(0, kT0 + 2 * kNsPerSecond));
  EXPECT_FALSE(g.try_acquire(0, kT0 + 3 * kNsPerSecond)); // 8th within the minute
  EXPECT_EQ(g.last_minute(0, kT0 + 3 * kNsPerSecond), 7U);
  // a minute after the first second, its 3 orders have left the window
  EXPECT_TRUE(g.try_acquire(0, kT0 + 60 * kNsPerSecond));
  EXPECT_EQ(g.last_minute(0, kT0 + 60 * kNsPerSecond), 5U);
}

// A market that flips the signal every event: the guard caps the orders and halts the loop.
TEST(rate_guard, should_stop_a_runaway_signal_by_tripping_the_kill_switch) {
  RiskConfig c = unpaced();
  c.sizing.rebalance_notional = 1;
  c.limits.orders_per_s_instrument = 5;
  c.limits.orders_per_min_instrument = 60;
  PaperTrader t(c);
  FlipMarket fm;
  MarketView& m = fm.m;
  std::uint64_t tripped_at = 0;
  for (int k = 0; k < 10'000; ++k) {
    m.signal = k % 2 == 0 ? 1.0 : -1.0;
    const TradeOutcome o = t.on_update(0, m, kT0 + static_cast<std::uint64_t>(k) * 1'000); // 1 us apart
    if (o.tripped != KillCause::none) {
      EXPECT_EQ(tripped_at, 0U);
      tripped_at = static_cast<std::uint64_t>(k) + 1;
    }
  }
  EXPECT_EQ(t.orders(), 5U); // the per-second limit, never more
  EXPECT_EQ(t.portfolio().fill_count(), 5U);
  EXPECT_EQ(tripped_at, 6U); // the 6th order attempt trips it
  EXPECT_TRUE(t.kill_switch().tripped());
  EXPECT_EQ(t.kill_switch().cause(), KillCause::rate_limit);
  EXPECT_EQ(t.kill_switch().mode(), KillMode::halt);
  EXPECT_EQ(t.refusals(Refusal::rate_limit), 1U); // afterwards the loop does not even try
  // still tripped much later: only a reset releases it
  m.signal = 1.0;
  (void)t.on_update(0, m, kT0 + 3'600 * kNsPerSecond);
  EXPECT_EQ(t.orders(), 5U);
  EXPECT_TRUE(t.reset());
  m.signal = -t.portfolio().position(0).qty > 0 ? 1.0 : -1.0; // the other way: an order is due
  (void)t.on_update(0, m, kT0 + 3'601 * kNsPerSecond);
  EXPECT_EQ(t.orders(), 6U);
}


// The default strategy under the same flipping signal: the band, the holding time and the order
// gap keep it far under the guard, so it never trips (the runaway above, unpaced, does).
TEST(rate_guard, should_keep_the_default_strategy_under_the_guard_with_a_flipping_signal) {
  RiskConfig c; // default pacing: band 2000, hold 10 s, gap 0.5 s
  c.sizing.rebalance_notional = 1;
  PaperTrader t(c);
  FlipMarket fm;
  MarketView& m = fm.m;
  // 120 s of updates 1 ms apart, the signal flipping on each one.
  for (int k = 0; k < 120'000; ++k) {
    m.signal = k % 2 == 0 ? 1.0 : -1.0;
    const TradeOutcome o = t.on_update(0, m, kT0 + static_cast<std::uint64_t>(k) * 1'000'000);
    EXPECT_EQ(o.tripped, KillCause::none);
  }
  EXPECT_FALSE(t.kill_switch().tripped());
  EXPECT_EQ(t.refusals(Refusal::rate_limit), 0U);
  EXPECT_GT(t.orders(), 0U);
  EXPECT_LE(t.orders(), 12U); // one order per 10 s hold at most
}

// A target the exposure limit refuses: the default strategy does not retry it on every update but
// waits its holding time, as after an order (before, a 10-minute SIM run refused 19,851 times).
TEST(rate_guard, should_pace_an_attempt_refused_by_an_exposure_limit_like_an_order) {
  RiskConfig c; // default pacing: hold 10 s, gap 0.5 s
  c.sizing.rebalance_notional = 1;
  c.limits.max_gross_notional = 1.0; // any position is over it
  PaperTrader t(c);
  FlipMarket fm;
  fm.m.signal = 1.0;
  // 15 s of updates 1 ms apart: attempts at 0 s and 10 s only.
  for (int k = 0; k < 15'000; ++k) {
    (void)t.on_update(0, fm.m, kT0 + static_cast<std::uint64_t>(k) * 1'000'000);
  }
  EXPECT_EQ(t.refusals(Refusal::gross_exposure), 2U);
  EXPECT_EQ(t.orders(), 0U);
  EXPECT_FALSE(t.kill_switch().tripped());
}

// ------------------------------------------------------------------------------------------ kill switch

TEST(kill_switch, should_trip_on_drawdown_from_the_peak_not_from_the_start) {
  RiskLimits l; // 15 %
  // rose to 120k, fell to 102k: 15 % from the peak, only +2 % from the start
  EXPECT_EQ(KillSwitch::evaluate(102'000, 120'000, 0, l), KillCause::drawdown);
  EXPECT_EQ(KillSwitch::evaluate(102'001, 120'000, 0, l), KillCause::none);
  // fell 15 % from the start, but the peak is what counts... here the peak is the start
  EXPECT_EQ(KillSwitch::evaluate(85'000, 100'000, 0, l), KillCause::drawdown);
  // down 15 % from the start yet the peak... is never below the start; 14.9 % is not enough
  EXPECT_EQ(KillSwitch::evaluate(85'100, 100'000, 0, l), KillCause::none);
  EXPECT_EQ(KillSwitch::evaluate(99'000, 100'000, -2'000, l), KillCause::daily_loss);
}

// Equity path through the portfolio: one long position marked up then down.
TEST(kill_switch, should_trip_when_the_equity_path_falls_15_percent_below_its_peak) {
  RiskConfig c;
  c.enabled = false; // no strategy orders: only marks move equity
  c.limits.daily_loss_limit = 1e12;
  c.trip_mode = KillMode::reduce_only;
  PaperTrader t(c);
  // 1,000 units bought at 100 with no fee: equity 100k, all in the position
  Fill f;
  f.unix_ns = kT0;
  f.instrument = 0;
  f.side = Side::bid;
  f.qty = 1'000;
  f.price = 100;
  (void)t.portfolio_mut().apply(f);
  MarketView m;
  m.health = ipc::BookHealth::live;
  const auto mark = [&](double mid, std::uint64_t k) {
    m.mid = mid;
    return t.on_update(0, m, kT0 + k * kNsPerSecond);
  };
  EXPECT_EQ(mark(120, 1).tripped, KillCause::none); // peak 120k
  EXPECT_EQ(mark(105, 2).tripped, KillCause::none); // 105k: -12.5 % from the peak, +5 % from the start
  EXPECT_EQ(mark(102.1, 3).tripped, KillCause::none);
  EXPECT_EQ(mark(102, 4).tripped, KillCause::drawdown); // 102k = peak * 0.85
  EXPECT_DOUBLE_EQ(t.portfolio().peak(), 120'000);
  EXPECT_EQ(t.kill_switch().mode(), KillMode::reduce_only);
  EXPECT_EQ(t.kill_switch().since_ns(), kT0 + 4 * kNsPerSecond);
  EXPECT_EQ(mark(130, 5).tripped, KillCause::none); // stays tripped, recovers nothing by itself
  EXPECT_TRUE(t.kill_switch().tripped());
  EXPECT_EQ(t.kill_switch().cause(), KillCause::drawdown);
}

TEST(kill_switch, should_not_trip_when_the_start_to_now_loss_is_15_percent_without_a_peak_drop) {
  RiskConfig c;
  c.enabled = false;
  c.limits.daily_loss_limit = 1e12;
  PaperTrader t(c);
  Fill f;
  f.unix_ns = kT0;
  f.side = Side::bid;
  f.qty = 1'000;
  f.price = 100;
  (void)t.portfolio_mut().apply(f);
  // A restored account whose peak was re-based after a reset at 80k: now 80k -> 79k is -1 %
  MarketView m;
  m.health = ipc::BookHealth::live;
  m.mid = 80;
  (void)t.on_update(0, m, kT0 + 1);
  EXPECT_TRUE(t.kill_switch().tripped()); // -20 % from the peak of 100k
  EXPECT_TRUE(t.reset());                 // peak re-based on 80k
  m.mid = 79;
  EXPECT_EQ(t.on_update(0, m, kT0 + 2).tripped, KillCause::none); // -21 % from the start, -1.25 % from peak
  EXPECT_FALSE(t.kill_switch().tripped());
}

TEST(kill_switch, should_refuse_growing_orders_in_reduce_only_and_close_at_market_in_flatten) {
  RiskConfig c = unpaced();
  c.sizing.rebalance_notional = 1;
  c.paper.taker_fee_bps = 0;
  PaperTrader t(c);
  std::array<Level, 1> bids{{{9'999, 1'000'000'000}}};
  std::array<Level, 1> asks{{{10'001, 1'000'000'000}}};
  MarketView m = view_of(bids, asks, 100.0, 1e-4, 1.0);
  (void)t.on_update(0, m, kT0);
  const double long_qty = t.portfolio().position(0).qty;
  ASSERT_GT(long_qty, 0);
  EXPECT_TRUE(t.kill(KillMode::reduce_only, kT0 + 1));
  m.signal = 1.0; // wants more: refused by not even trying beyond the position
  (void)t.on_update(0, m, kT0 + 2 * kNsPerSecond);
  EXPECT_DOUBLE_EQ(t.portfolio().position(0).qty, long_qty);
  m.signal = 0.0; // wants out: reducing is allowed
  (void)t.on_update(0, m, kT0 + 3 * kNsPerSecond);
  EXPECT_LT(std::abs(t.portfolio().position(0).qty), long_qty);
  // go long again, then flatten: closes at market (the bid) whatever the signal
  EXPECT_TRUE(t.reset());
  m.signal = 1.0;
  (void)t.on_update(0, m, kT0 + 4 * kNsPerSecond);
  ASSERT_GT(t.portfolio().position(0).qty, 0);
  EXPECT_TRUE(t.kill(KillMode::flatten, kT0 + 5 * kNsPerSecond));
  const TradeOutcome o = t.on_update(0, m, kT0 + 5 * kNsPerSecond);
  EXPECT_TRUE(o.filled);
  EXPECT_EQ(t.portfolio().position(0).qty, 0.0);
  EXPECT_EQ(t.portfolio().recent(0).side, Side::ask);
  EXPECT_DOUBLE_EQ(t.portfolio().recent(0).price, 99.99);
  EXPECT_EQ(t.kill_switch().cause(), KillCause::command);
  // halted: nothing at all
  EXPECT_TRUE(t.kill(KillMode::halt, kT0 + 6 * kNsPerSecond));
  const std::uint64_t orders = t.orders();
  (void)t.on_update(0, m, kT0 + 7 * kNsPerSecond);
  EXPECT_EQ(t.orders(), orders);
}

// ------------------------------------------------------------------------------------------ paper fills

TEST(paper, should_walk_the_book_for_the_exact_average_price_and_fee) {
  // asks 100.00 x 1.0, 100.50 x 2.0, 101.00 x 5.0 (price 2 decimals, qty 3 decimals)
  const std::array<Level, 3> asks{{{10'000, 1'000}, {10'050, 2'000}, {10'100, 5'000}}};
  const ExecResult r = walk_book(Side::bid, 2.5, asks.data(), asks.size(), 0.01, 0.001, 0.0, 10);
  // 1.0 * 100 + 1.5 * 100.5 = 250.75; avg 100.3; fee 10 bps of 250.75 = 0.25075
  EXPECT_DOUBLE_EQ(r.filled_qty, 2.5);
  EXPECT_DOUBLE_EQ(r.avg_price, 100.3);
  EXPECT_NEAR(r.fee, 0.25075, 1e-12);
  EXPECT_EQ(r.levels, 2U);
  // IOC limit at 100.50 for 10: fills the first two levels only, the rest is cancelled
  const ExecResult l = walk_book(Side::bid, 10.0, asks.data(), asks.size(), 0.01, 0.001, 100.5, 10);
  EXPECT_DOUBLE_EQ(l.filled_qty, 3.0);
  EXPECT_NEAR(l.avg_price, (100.0 + 201.0) / 3.0, 1e-12);
  // a sell walks the bids downward; a limit above the best bid fills nothing
  const std::array<Level, 2> bids{{{9'990, 1'000}, {9'980, 1'000}}};
  EXPECT_DOUBLE_EQ(walk_book(Side::ask, 2.0, bids.data(), 2, 0.01, 0.001, 0.0, 0).avg_price, 99.85);
  EXPECT_EQ(walk_book(Side::ask, 2.0, bids.data(), 2, 0.01, 0.001, 99.95, 0).filled_qty, 0.0);
}

TEST(paper, should_run_a_manual_order_through_the_strategy_checks_counters_and_book) {
  RiskConfig c;
  c.enabled = false; // no strategy: only the manual orders trade
  PaperTrader t(c);
  std::array<Level, 2> bids{{{9'999, 1'000}, {9'998, 1'000}}};
  std::array<Level, 2> asks{{{10'001, 1'000}, {10'002, 1'000}}};
  MarketView m = view_of(bids, asks, 100.0, 1e-4, 0.0);
  TradeOutcome out;
  // market buy 1.5: 1.0 @ 100.01 + 0.5 @ 100.02
  const OrderOutcome o = t.place(0, m, Side::bid, 1.5, 0.0, kT0, out);
  EXPECT_EQ(o.refused, Refusal::none);
  EXPECT_EQ(o.order_id, 1U);
  EXPECT_DOUBLE_EQ(o.exec.filled_qty, 1.5);
  EXPECT_NEAR(o.exec.avg_price, (100.01 + 0.5 * 100.02) / 1.5, 1e-12);
  EXPECT_TRUE(out.filled);
  EXPECT_DOUBLE_EQ(t.portfolio().position(0).qty, 1.5);
  // a limit is judged at its own price: 2% above the mid is outside the 50 bps band
  TradeOutcome out2;
  EXPECT_EQ(t.place(0, m, Side::bid, 0.1, 102.0, kT0 + 1, out2).refused, Refusal::price_band);
  EXPECT_EQ(t.refusals(Refusal::price_band), 1U); // the trader's own counters, as for the strategy
  // an IOC limit at the best bid sells that level only
  TradeOutcome out3;
  const OrderOutcome l = t.place(0, m, Side::ask, 5.0, 99.99, kT0 + 2, out3);
  EXPECT_DOUBLE_EQ(l.exec.filled_qty, 1.0);
  EXPECT_DOUBLE_EQ(t.portfolio().position(0).qty, 0.5);
  // the kill switch and the rate guard stop manual orders too
  (void)t.kill(KillMode::halt, kT0 + 3);
  TradeOutcome out4;
  EXPECT_EQ(t.place(0, m, Side::bid, 0.1, 0.0, kT0 + 3, out4).refused, Refusal::kill_switch);
  (void)t.reset();
  ASSERT_EQ(t.set_limit(ipc::RiskLimitId::orders_per_s_instrument, 2), nullptr);
  TradeOutcome out5;
  EXPECT_EQ(t.place(0, m, Side::bid, 0.1, 0.0, kT0 + 4, out5).refused, Refusal::rate_limit); // 3rd this second
  EXPECT_EQ(out5.tripped, KillCause::rate_limit);
  EXPECT_EQ(t.orders(), 2U);
}

TEST(paper, should_round_a_manual_order_down_to_the_lot_and_refuse_one_below_it) {
  RiskConfig c;
  c.enabled = false;
  PaperTrader t(c);
  t.set_lot(0, 0.01); // a lot of 0.01 over a 0.001 quantity step
  std::array<Level, 2> bids{{{9'999, 1'000'000}, {9'998, 1'000'000}}};
  std::array<Level, 2> asks{{{10'001, 1'000'000}, {10'002, 1'000'000}}};
  const MarketView m = view_of(bids, asks, 100.0, 1e-4, 0.0);
  TradeOutcome out;
  const OrderOutcome o = t.place(0, m, Side::bid, 0.037, 0.0, kT0, out);
  EXPECT_EQ(o.refused, Refusal::none);
  EXPECT_DOUBLE_EQ(o.qty, 0.03); // sent: 3 lots, not 0.037
  EXPECT_DOUBLE_EQ(o.exec.filled_qty, 0.03);
  EXPECT_DOUBLE_EQ(t.portfolio().position(0).qty, 0.03);
  TradeOutcome out2;
  const OrderOutcome exact = t.place(0, m, Side::ask, 0.03, 0.0, kT0 + 1, out2); // a whole number of lots
  EXPECT_DOUBLE_EQ(exact.qty, 0.03);
  TradeOutcome out3;
  const OrderOutcome below = t.place(0, m, Side::bid, 0.009, 0.0, kT0 + 2, out3);
  EXPECT_EQ(below.refused, Refusal::below_lot);
  EXPECT_EQ(below.order_id, 0U);
  EXPECT_EQ(below.qty, 0.0);
  EXPECT_EQ(t.refusals(Refusal::below_lot), 1U);
  EXPECT_EQ(t.orders(), 2U); // the refused one never reached the rate guard or the book
  EXPECT_DOUBLE_EQ(t.portfolio().position(0).qty, 0.0);
  EXPECT_DOUBLE_EQ(t.lot(1, m), 0.001); // no lot set: the instrument's quantity step
}

TEST(paper, should_validate_a_limit_change_and_keep_the_old_value_when_refused) {
  PaperTrader t(RiskConfig{});
  EXPECT_EQ(t.set_limit(ipc::RiskLimitId::max_order_notional, 1234.5), nullptr);
  EXPECT_DOUBLE_EQ(t.config().limits.max_order_notional, 1234.5);
  EXPECT_STREQ(t.set_limit(ipc::RiskLimitId::max_order_notional, -1), "must be > 0");
  EXPECT_STREQ(t.set_limit(ipc::RiskLimitId::max_drawdown, 1.5), "must be in [0.000001, 1]");
  EXPECT_STREQ(t.set_limit(ipc::RiskLimitId::orders_per_min_total, 2.5), "whole number 1..1000000");
  EXPECT_STREQ(t.set_limit(ipc::RiskLimitId::price_band_bps, std::nan("")), "must be > 0");
  EXPECT_STREQ(t.set_limit(ipc::RiskLimitId::none, 1), "unknown limit");
  EXPECT_DOUBLE_EQ(t.config().limits.max_order_notional, 1234.5);
  EXPECT_DOUBLE_EQ(t.config().limits.max_drawdown, 0.15);
  EXPECT_EQ(t.config().limits.orders_per_min_total, 200U);
}

TEST(paper, should_account_average_cost_realized_pnl_cash_and_fees) {
  Portfolio p(10'000);
  const auto fill = [&](Side s, double q, double px, double fee) {
    Fill f;
    f.unix_ns = kT0;
    f.side = s;
    f.qty = q;
    f.price = px;
    f.fee = fee;
    return p.apply(f);
  };
  (void)fill(Side::bid, 2, 100, 0.2);  // long 2 @ 100
  (void)fill(Side::bid, 2, 110, 0.22); // long 4 @ 105
  EXPECT_DOUBLE_EQ(p.position(0).avg_cost, 105);
  const Fill sold = fill(Side::ask, 3, 120, 0.36); // realize 3 * 15 = 45
  EXPECT_DOUBLE_EQ(sold.realized, 45);
  EXPECT_DOUBLE_EQ(p.position(0).qty, 1);
  const Fill flipped = fill(Side::ask, 3, 90, 0.27); // closes 1 at -15, opens short 2 @ 90
  EXPECT_DOUBLE_EQ(flipped.realized, -15);
  EXPECT_DOUBLE_EQ(p.position(0).qty, -2);
  EXPECT_DOUBLE_EQ(p.position(0).avg_cost, 90);
  p.mark(0, 95, kT0); // short 2 from 90 marked at 95: -10
  EXPECT_DOUBLE_EQ(p.unrealized(), -10);
  EXPECT_DOUBLE_EQ(p.realized(), 30);
  EXPECT_NEAR(p.fees(), 1.05, 1e-12);
  // cash: 10000 - 200 - 220 + 360 + 270 - fees
  EXPECT_NEAR(p.cash(), 10'000 - 200 - 220 + 360 + 270 - 1.05, 1e-9);
  EXPECT_NEAR(p.equity(), p.cash() - 2 * 95, 1e-9);
  EXPECT_NEAR(p.realized() + p.unrealized() - p.fees(), p.equity() - 10'000, 1e-9);
  EXPECT_EQ(p.fill_count(), 4U);
  EXPECT_DOUBLE_EQ(p.recent(0).price, 90);
  EXPECT_DOUBLE_EQ(p.recent(3).price, 100);
}

TEST(paper, should_keep_the_pnl_identity_after_every_fill_of_a_long_random_session) {
  RiskConfig c = unpaced();
  c.sizing.rebalance_notional = 50;
  c.limits.orders_per_s_instrument = 1'000;
  c.limits.orders_per_min_instrument = 100'000;
  c.limits.orders_per_s_total = 1'000;
  c.limits.orders_per_min_total = 100'000;
  c.limits.max_drawdown = 1.0;
  c.limits.daily_loss_limit = 1e12;
  PaperTrader t(c);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> step(0.0, 2.0);
  std::uniform_real_distribution<double> sig(-1.0, 1.0);
  std::int64_t mid_ticks = 5'000'000; // 50,000.00
  std::uint64_t checked = 0;
  for (int k = 0; k < 200'000; ++k) {
    mid_ticks += static_cast<std::int64_t>(std::llround(step(rng)));
    const std::array<Level, 3> bids{{{mid_ticks - 1, 50'000}, {mid_ticks - 3, 100'000}, {mid_ticks - 8, 500'000}}};
    const std::array<Level, 3> asks{{{mid_ticks + 1, 50'000}, {mid_ticks + 3, 100'000}, {mid_ticks + 8, 500'000}}};
    MarketView m = view_of(bids, asks, static_cast<double>(mid_ticks) * 0.01, 5e-5, sig(rng), ipc::BookHealth::live, 1e-5);
    const TradeOutcome o = t.on_update(static_cast<std::uint16_t>(k % 3), m, kT0 + static_cast<std::uint64_t>(k) * 10'000'000);
    if (o.filled) {
      const Portfolio& p = t.portfolio();
      ASSERT_NEAR(p.realized() + p.unrealized() - p.fees(), p.equity() - p.initial_capital(), 1e-6) << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1'000U);
}

TEST(paper, should_fill_a_delayed_order_against_the_book_when_its_latency_has_passed) {
  RiskConfig c = unpaced();
  c.sizing.rebalance_notional = 1;
  c.paper.latency_ns = 5'000'000; // 5 ms
  c.paper.taker_fee_bps = 0;
  PaperTrader t(c);
  std::array<Level, 1> bids{{{9'999, 1'000'000'000}}};
  std::array<Level, 1> asks{{{10'001, 1'000'000'000}}};
  MarketView m = view_of(bids, asks, 100.0, 1e-4, 1.0);
  EXPECT_FALSE(t.on_update(0, m, kT0).filled);
  EXPECT_EQ(t.orders(), 1U);
  EXPECT_EQ(t.on_update(0, m, kT0 + 4'999'999).refused, Refusal::pending);
  asks[0].price = 10'003; // the book moved while the order travelled
  m.mid = 100.01;
  EXPECT_TRUE(t.on_update(0, m, kT0 + 5'000'000).filled);
  EXPECT_DOUBLE_EQ(t.portfolio().recent(0).price, 100.03);
}

// ------------------------------------------------------------------------------------------ backtest

TEST(backtest, should_match_an_independent_computation_on_a_hand_checkable_series) {
  // Initial equity 100; equity at the end of five 1-minute intervals: 110, 99, 108.9, 108.9, 119.79
  const std::vector<double> curve = {110, 99, 108.9, 108.9, 119.79};
  const std::uint64_t minute = 60 * kNsPerSecond;
  BacktestCriteria annualize;
  annualize.min_annualize_s = 300; // the run is 5 minutes: long enough here
  BacktestMetrics b(100, minute, annualize);
  for (std::size_t k = 0; k < curve.size(); ++k) {
    b.on_equity(kT0 + k * minute + 1, curve[k]); // one update in each interval
  }
  b.on_equity(kT0 + curve.size() * minute + 1, curve.back()); // closes the last interval
  // Fills of instrument 0, fee 1 each (open to flat round trips):
  //   +10 at t=0; -10 at 60 s realizing +11 (trip 1: 11 - 2 = +9);
  //   -10 at 120 s; +20 at 180 s through zero realizing -5 (trip 2: -5 - 1 - 0.5 = -6.5; the other
  //   half of that fee opens trip 3); -10 at 240 s realizing +4 (trip 3: 4 - 0.5 - 1 = +2.5).
  b.on_fill(kT0, 0, 10, 1'000, 1, 0);
  b.on_fill(kT0 + minute, 0, -10, 1'000, 1, 11);
  b.on_fill(kT0 + 2 * minute, 0, -10, 1'000, 1, 0);
  b.on_fill(kT0 + 3 * minute, 0, 20, 2'000, 1, -5);
  b.on_fill(kT0 + 4 * minute, 0, -10, 1'000, 1, 4);
  const BacktestResult r = b.result();
  // returns: +10 %, -10 %, +10 %, 0, +10 %
  const std::vector<double> ret = {0.10, -0.10, 0.10, 0.0, 0.10};
  double mean = 0;
  for (double x : ret) {
    mean += x;
  }
  mean /= 5;                                          // 0.04
  double ss = 0;
  double down = 0;
  for (double x : ret) {
    ss += (x - mean) * (x - mean);
    down += x < 0 ? x * x : 0;
  }
  const double sd = std::sqrt(ss / 4);             // sample stdev
  const double dd = std::sqrt(down / 5);           // downside deviation
  const double ann = std::sqrt(365.0 * 24 * 60);   // per-minute returns
  EXPECT_EQ(r.intervals, 5U);
  EXPECT_TRUE(r.annualized);
  EXPECT_NEAR(r.sample_period_s, 300.0, 1e-9);
  EXPECT_NEAR(r.sharpe, mean / sd * ann, 1e-6);
  EXPECT_NEAR(r.sortino, mean / dd * ann, 1e-6);
  EXPECT_NEAR(r.max_drawdown, 0.10, 1e-12);        // 110 -> 99
  EXPECT_EQ(r.drawdown_start_ns, kT0 + 1);          // the 110 peak
  EXPECT_EQ(r.drawdown_trough_ns, kT0 + minute + 1);
  EXPECT_EQ(r.drawdown_recovery_ns, kT0 + 4 * minute + 1); // 119.79 is the first >= 110
  EXPECT_NEAR(r.total_return, 0.1979, 1e-12);
  EXPECT_EQ(r.trades, 5U);
  EXPECT_NEAR(r.turnover, 6'000, 1e-9);
  EXPECT_NEAR(r.fees, 5, 1e-12);
  EXPECT_EQ(r.round_trips, 3U);
  EXPECT_NEAR(r.win_rate, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(r.avg_win, (9 + 2.5) / 2, 1e-12);
  EXPECT_NEAR(r.avg_loss, -6.5, 1e-12);
  EXPECT_NEAR(r.profit_factor, 11.5 / 6.5, 1e-12);
  EXPECT_NEAR(r.expectancy, 5.0 / 3.0, 1e-12);
  // The identity: round trips sum to realized minus fees, to the cent (flat at the end).
  EXPECT_NEAR(r.round_trip_pnl, (11 - 5 + 4) - 5.0, 0.005);
  // Exposure: open 0..60 s and 120..240 s.
  EXPECT_NEAR(r.exposure_s, 180.0, 1e-9);
  EXPECT_FALSE(r.go); // 5 trades < 10
}

TEST(backtest, should_not_annualize_a_run_shorter_than_the_minimum_horizon) {
  // The same five 1-minute returns, default minimum horizon (one day): per interval, unannualized.
  const std::vector<double> curve = {110, 99, 108.9, 108.9, 119.79};
  const std::uint64_t minute = 60 * kNsPerSecond;
  BacktestMetrics b(100, minute, BacktestCriteria{});
  for (std::size_t k = 0; k < curve.size(); ++k) {
    b.on_equity(kT0 + k * minute + 1, curve[k]);
  }
  b.on_equity(kT0 + curve.size() * minute + 1, curve.back());
  const BacktestResult r = b.result();
  EXPECT_FALSE(r.annualized);
  // Python: r=[.1,-.1,.1,0,.1]; statistics.mean(r)/statistics.stdev(r) = 0.04/0.0894427191
  EXPECT_NEAR(r.sharpe, 0.4472135955, 1e-9);
  // downside deviation sqrt(0.01 / 5) = 0.04472135955: 0.04 / 0.0447... = 0.894427191
  EXPECT_NEAR(r.sortino, 0.894427191, 1e-9);
  EXPECT_NEAR(r.sample_period_s, 300.0, 1e-9);
}

TEST(backtest, should_give_a_deterministic_bootstrap_interval_around_the_estimate) {
  BacktestMetrics b(100, kNsPerSecond, BacktestCriteria{});
  std::mt19937_64 g(7);
  std::normal_distribution<double> d(0.0001, 0.001);
  double equity = 100;
  for (int k = 0; k <= 400; ++k) {
    b.on_equity(kT0 + static_cast<std::uint64_t>(k) * kNsPerSecond, equity);
    equity *= 1 + d(g);
  }
  const BacktestResult r = b.result();
  const BacktestResult again = b.result();
  EXPECT_EQ(r.bootstrap_block, 20U); // sqrt(400)
  EXPECT_EQ(r.sharpe_ci_lo, again.sharpe_ci_lo); // fixed seed: the same interval every time
  EXPECT_EQ(r.drawdown_ci_hi, again.drawdown_ci_hi);
  EXPECT_LT(r.sharpe_ci_lo, r.sharpe);
  EXPECT_GT(r.sharpe_ci_hi, r.sharpe);
  EXPECT_LE(r.drawdown_ci_lo, r.drawdown_ci_hi);
  EXPECT_GT(r.drawdown_ci_hi, 0.0);
  // A constant return has no spread: the interval collapses onto the drawdown of 0.
  BacktestMetrics c(100, kNsPerSecond, BacktestCriteria{});
  for (int k = 0; k <= 100; ++k) {
    c.on_equity(kT0 + static_cast<std::uint64_t>(k) * kNsPerSecond, 100 * std::pow(1.001, k));
  }
  EXPECT_EQ(c.result().drawdown_ci_lo, 0.0);
  EXPECT_EQ(c.result().drawdown_ci_hi, 0.0);
}

TEST(backtest, should_say_go_only_within_the_criteria) {
  BacktestCriteria loose;
  loose.min_trades = 5;
  BacktestMetrics b2(100, 60 * kNsPerSecond, loose);
  b2.on_equity(kT0, 100);
  // five round trips of one fill in and one out: one loss, four wins
  for (int k = 0; k < 5; ++k) {
    b2.on_fill(kT0, 0, 1, 1, 0, 0);
    b2.on_fill(kT0, 0, -1, 1, 0, k == 0 ? -1.0 : 1.0);
  }
  EXPECT_TRUE(b2.result().go); // 10 trades, 80 % wins, no drawdown
  b2.on_equity(kT0 + 1, 79.9);  // 20.1 % drawdown: no-go
  EXPECT_FALSE(b2.result().go);
}

TEST(backtest, should_repeat_the_equity_over_silent_intervals) {
  BacktestMetrics b(100, kNsPerSecond, BacktestCriteria{});
  b.on_equity(kT0, 100);
  b.on_equity(kT0 + 1 * kNsPerSecond, 101); // closes [0,1) at 100: return 0
  b.on_equity(kT0 + 4 * kNsPerSecond, 101); // closes [1,2) at 101, [2,3) and [3,4) at 101
  const BacktestResult r = b.result();
  EXPECT_EQ(r.intervals, 4U);
  // returns 0, +1 %, 0, 0: mean 0.0025, sample sd sqrt((3 * 0.0025^2 + 0.0075^2) / 3) = 0.005
  EXPECT_FALSE(r.annualized); // 4 s < one day: per interval
  EXPECT_NEAR(r.sharpe, 0.0025 / 0.005, 1e-9);
}

} // namespace
} // namespace qf::core
