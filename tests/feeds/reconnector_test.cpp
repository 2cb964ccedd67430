#include "qf/feeds/reconnector.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace qf::feeds {
namespace {

using Step = Reconnector::Step;

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kNow = 1'000'000 * kMs; // an arbitrary monotonic time

ReconnectConfig config() {
  ReconnectConfig c;
  c.reconnect_min_ms = 100;
  c.reconnect_max_ms = 1000;
  c.stale_after_ms = 500;
  c.max_connection_age_s = 60;
  c.instrument_stale_after_ms = 2000;
  return c;
}

// The delay of the next connect after `closes` failed connections in a row (none lived 30 s).
std::uint64_t delay_after(std::size_t closes, std::mt19937_64& rng) {
  Reconnector r(config(), rng);
  std::uint64_t now = kNow;
  for (std::size_t i = 0; i < closes; ++i) {
    r.closed(0, now);
    now = r.next_connect_ns();
  }
  r.closed(0, now);
  return r.next_connect_ns() - now;
}

TEST(reconnector, should_wait_uniformly_up_to_a_ceiling_that_doubles_and_is_capped) {
  std::mt19937_64 rng(7);
  // Ceilings: 100, 200, 400, 800, then the 1000 ms cap.
  const std::uint64_t ceilings[] = {100 * kMs, 200 * kMs, 400 * kMs, 800 * kMs, 1000 * kMs, 1000 * kMs};
  for (std::size_t n = 0; n < std::size(ceilings); ++n) {
    std::uint64_t lo = ~0ULL;
    std::uint64_t hi = 0;
    for (int k = 0; k < 2000; ++k) {
      const std::uint64_t d = delay_after(n, rng);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    EXPECT_GE(lo, 1U) << "attempt " << n; // never a busy retry
    EXPECT_LE(hi, ceilings[n]) << "attempt " << n;
    // Full jitter: the whole range is used, not just its top.
    EXPECT_LT(lo, ceilings[n] / 20) << "attempt " << n;
    EXPECT_GT(hi, ceilings[n] - ceilings[n] / 20) << "attempt " << n;
  }
}

TEST(reconnector, should_draw_the_same_delays_from_the_same_seed) {
  std::mt19937_64 a(42);
  std::mt19937_64 b(42);
  for (std::size_t n = 0; n < 8; ++n) {
    EXPECT_EQ(delay_after(n, a), delay_after(n, b));
  }
}

TEST(reconnector, should_reset_the_backoff_after_a_connection_that_lived_30_seconds) {
  std::mt19937_64 rng(1);
  Reconnector r(config(), rng);
  for (int i = 0; i < 5; ++i) {
    r.closed(0, kNow);
  }
  EXPECT_EQ(r.attempt(), 5U);
  r.closed(kNow - 29'000 * kMs, kNow); // lived 29 s: still backing off
  EXPECT_EQ(r.attempt(), 6U);
  r.closed(kNow - 31'000 * kMs, kNow); // lived 31 s: the backoff starts over
  EXPECT_EQ(r.attempt(), 1U);
  EXPECT_LE(r.next_connect_ns() - kNow, 100 * kMs);
}

TEST(reconnector, should_reconnect_at_once_after_a_close_it_asked_for_and_back_off_after_the_next) {
  std::mt19937_64 rng(3);
  Reconnector r(config(), rng);
  r.reconnect_at_once(); // serverShutdown
  r.closed(0, kNow);
  EXPECT_EQ(r.next_connect_ns(), kNow);
  EXPECT_EQ(r.attempt(), 0U);
  r.closed(0, kNow); // an unrequested close backs off again
  EXPECT_GT(r.next_connect_ns(), kNow);
  EXPECT_EQ(r.attempt(), 1U);
}

TEST(reconnector, should_connect_only_when_idle_and_due) {
  std::mt19937_64 rng(5);
  Reconnector r(config(), rng);
  EXPECT_EQ(r.step(true, false, 0, 0, kNow), Step::wait); // nothing scheduled
  r.closed(0, kNow);
  const std::uint64_t due = r.next_connect_ns();
  EXPECT_EQ(r.step(true, false, 0, 0, due - 1), Step::wait);
  EXPECT_EQ(r.step(true, false, 0, 0, due), Step::connect);
  EXPECT_EQ(r.step(false, false, 0, 0, due), Step::wait); // connecting
  r.opening();
  EXPECT_EQ(r.next_connect_ns(), 0U);
  EXPECT_EQ(r.step(true, false, 0, 0, due), Step::wait);
}

TEST(reconnector, should_back_off_a_refused_open_unless_its_close_already_did) {
  std::mt19937_64 rng(9);
  Reconnector r(config(), rng);
  r.opening();
  r.refused(kNow);
  const std::uint64_t first = r.next_connect_ns();
  EXPECT_GT(first, kNow);
  EXPECT_EQ(r.attempt(), 1U);
  r.refused(kNow); // on_closed scheduled already: no second draw
  EXPECT_EQ(r.next_connect_ns(), first);
  EXPECT_EQ(r.attempt(), 1U);
}

TEST(reconnector, should_report_a_silent_connection_stale_once_and_reconnect_it_at_once) {
  std::mt19937_64 rng(11);
  Reconnector r(config(), rng);
  const std::uint64_t opened = kNow - 10'000 * kMs;
  EXPECT_EQ(r.step(false, true, kNow - 500 * kMs, opened, kNow), Step::healthy); // exactly the limit
  EXPECT_EQ(r.step(false, true, kNow - 501 * kMs, opened, kNow), Step::stale);
  EXPECT_EQ(r.silent_ns(), 501 * kMs);
  EXPECT_EQ(r.step(false, true, kNow - 600 * kMs, opened, kNow), Step::healthy); // reported once
  r.closed(opened, kNow);
  EXPECT_EQ(r.next_connect_ns(), kNow);
  r.opening(); // a new connection can go stale again
  EXPECT_EQ(r.step(false, true, kNow - 501 * kMs, kNow, kNow), Step::stale);
}

TEST(reconnector, should_renew_a_connection_past_its_age_limit_at_once) {
  std::mt19937_64 rng(13);
  Reconnector r(config(), rng);
  EXPECT_EQ(r.step(false, true, kNow, kNow - 60'000 * kMs, kNow), Step::healthy);
  EXPECT_EQ(r.step(false, true, kNow, kNow - 60'001 * kMs, kNow), Step::too_old);
  r.closed(kNow - 60'001 * kMs, kNow);
  EXPECT_EQ(r.next_connect_ns(), kNow);
  EXPECT_EQ(r.attempt(), 0U);
}

TEST(reconnector, should_mark_an_instrument_stale_past_its_limit) {
  std::mt19937_64 rng(17);
  const Reconnector r(config(), rng);
  EXPECT_FALSE(r.instrument_stale(kNow - 2000 * kMs, kNow));
  EXPECT_TRUE(r.instrument_stale(kNow - 2001 * kMs, kNow));
  EXPECT_FALSE(r.instrument_stale(kNow + 5 * kMs, kNow)); // an update stamped after now is fresh
}

TEST(reconnector, should_tell_a_reconnect_from_the_first_open) {
  std::mt19937_64 rng(19);
  Reconnector r(config(), rng);
  EXPECT_FALSE(r.ever_opened());
  EXPECT_FALSE(r.opened());
  EXPECT_TRUE(r.ever_opened());
  EXPECT_TRUE(r.opened());
}

} // namespace
} // namespace qf::feeds
