// The client's pure parts: URL parsing and the shared REST budget (driven with explicit time).
#include <gtest/gtest.h>

#include <stdexcept>

#include "qf/feeds/net/rest_budget.hpp"
#include "qf/feeds/net/url.hpp"

namespace qf::feeds::net {
namespace {

constexpr std::uint64_t kS = 1'000'000'000ULL;

TEST(url, should_split_scheme_host_port_and_path) {
  const Url a = parse_url("wss://stream.binance.com:9443/stream?streams=btcusdt@trade");
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.host, "stream.binance.com");
  EXPECT_EQ(a.port, 9443);
  EXPECT_EQ(a.path, "/stream?streams=btcusdt@trade");
  const Url b = parse_url("http://127.0.0.1:18080");
  EXPECT_FALSE(b.tls);
  EXPECT_EQ(b.port, 18080);
  EXPECT_EQ(b.path, "/");
  EXPECT_EQ(parse_url("https://api.binance.com").port, 443);
  EXPECT_EQ(parse_url("ws://localhost").port, 80);
  EXPECT_EQ(parse_url("https://api.binance.com/x").text(), "https://api.binance.com:443/x");
  EXPECT_EQ(parse_url("ws://127.0.0.1:5").text(), "ws://127.0.0.1:5/");
}

TEST(url, should_join_a_path_onto_a_base) {
  EXPECT_EQ(join(parse_url("ws://127.0.0.1:1"), "/api/v3/depth?symbol=X").path, "/api/v3/depth?symbol=X");
  EXPECT_EQ(join(parse_url("wss://h/market"), "/ws/x").path, "/market/ws/x");
}

TEST(url, should_refuse_bad_urls_naming_them) {
  for (const char* bad : {"ftp://x", "wss://", "ws://h:0", "ws://h:70000", "ws://h:12ab", "stream.binance.com"}) {
    try {
      (void)parse_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(rest_budget, should_grant_ten_seconds_of_weight_then_refill_at_the_rate) {
  RestBudget b({1200, 100}, 0); // 20 weight/s, bucket 200
  int granted = 0;
  while (b.try_acquire(50, 0)) {
    ++granted;
  }
  EXPECT_EQ(granted, 4);
  EXPECT_FALSE(b.try_acquire(50, 2 * kS)); // 40 refilled
  EXPECT_TRUE(b.try_acquire(50, 5 * kS / 2)); // 50 refilled
  EXPECT_EQ(b.counters().granted, 5U);
  EXPECT_EQ(b.counters().weight_used, 250U);
}

TEST(rest_budget, should_limit_requests_in_flight) {
  RestBudget b({100'000, 2}, 0);
  EXPECT_TRUE(b.try_acquire(1, 0));
  EXPECT_TRUE(b.try_acquire(1, 0));
  EXPECT_FALSE(b.try_acquire(1, 0));
  b.release();
  EXPECT_TRUE(b.try_acquire(1, 0));
  EXPECT_EQ(b.in_flight(), 2);
}

TEST(rest_budget, should_grant_nothing_during_a_back_off) {
  RestBudget b({1200, 4}, 0);
  b.back_off_until(30 * kS);
  EXPECT_FALSE(b.try_acquire(1, 29 * kS));
  EXPECT_TRUE(b.try_acquire(1, 30 * kS));
  EXPECT_EQ(b.counters().back_offs, 1U);
}

TEST(rest_budget, should_keep_a_fifty_instrument_storm_within_the_rate) {
  // 50 instruments all want a snapshot at once; requests complete at once. Count grants per
  // second over simulated time: after the initial bucket, never above the refill rate.
  RestBudget b({1200, 4}, 0);
  int pending = 50;
  int per_second[181] = {};
  for (std::uint64_t ms = 0; ms <= 180'000 && pending > 0; ms += 10) {
    while (pending > 0 && b.try_acquire(50, ms * 1'000'000)) {
      --pending;
      ++per_second[ms / 1000];
      b.release();
    }
  }
  EXPECT_EQ(pending, 0) << "2500 weight: the bucket's 200, then 115 s at 20/s";
  EXPECT_LE(per_second[0], 4 + 1); // the bucket (200 = 4 requests) plus at most one refill
  for (int s = 1; s <= 180; ++s) {
    EXPECT_LE(per_second[s], 1) << "second " << s; // 20 weight/s: one 50-weight request per 2.5 s
  }
}

TEST(rest_budget, should_use_binance_documented_weights) {
  EXPECT_EQ(snapshot_weight(false, 100), 5);
  EXPECT_EQ(snapshot_weight(false, 1000), 50);
  EXPECT_EQ(snapshot_weight(false, 5000), 250);
  EXPECT_EQ(snapshot_weight(true, 1000), 20);
  EXPECT_EQ(snapshot_weight(true, 50), 2);
}

} // namespace
} // namespace qf::feeds::net
