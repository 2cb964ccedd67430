#include "qf/core/order_book.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <vector>

namespace qf::core {
namespace {

// The reference: two ordered maps, obviously correct, slow.
struct ReferenceBook {
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;

  void set(Side side, std::int64_t price, std::int64_t qty) {
    if (side == Side::bid) {
      qty == 0 ? (void)bids.erase(price) : (void)(bids[price] = qty);
    } else {
      qty == 0 ? (void)asks.erase(price) : (void)(asks[price] = qty);
    }
  }
  std::vector<Level> top(Side side, std::size_t n) const {
    std::vector<Level> out;
    const auto take = [&](const auto& m) {
      for (const auto& [p, q] : m) {
        if (out.size() == n) {
          break;
        }
        out.push_back(Level{p, q});
      }
    };
    side == Side::bid ? take(bids) : take(asks);
    return out;
  }
};

std::vector<Level> top_of(const OrderBook& book, Side side, std::size_t n) {
  std::vector<Level> out(n);
  out.resize(book.top(side, out.data(), n));
  return out;
}

// Compares best, crossed, and (when `full`) top-20 and depth of both sides.
void expect_same(const OrderBook& book, const ReferenceBook& ref, bool full, std::uint64_t op) {
  for (const Side side : {Side::bid, Side::ask}) {
    const auto expected = ref.top(side, full ? 20 : 1);
    Level best{};
    const bool has = book.best(side, best);
    ASSERT_EQ(has, !expected.empty()) << "op " << op;
    if (has) {
      ASSERT_EQ(best, expected.front()) << "op " << op << " side " << static_cast<int>(side);
    }
    if (full) {
      ASSERT_EQ(top_of(book, side, 20), expected) << "op " << op;
      ASSERT_EQ(book.depth(side), side == Side::bid ? ref.bids.size() : ref.asks.size()) << "op " << op;
    }
  }
  const bool ref_crossed = !ref.bids.empty() && !ref.asks.empty() && ref.bids.begin()->first >= ref.asks.begin()->first;
  ASSERT_EQ(book.crossed(), ref_crossed) << "op " << op;
}

// Random walk of a mid; levels mostly near it, some far away (deep snapshot levels, strays),
// 30% deletes (many of unknown levels), occasional snapshot replaces.
void run_differential(const BookConfig& config, std::uint64_t ops, std::uint64_t seed) {
  OrderBook book(config);
  ReferenceBook ref;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> near(0.0, static_cast<double>(config.window_ticks) / 16.0);
  std::uniform_int_distribution<std::int64_t> far(-20 * static_cast<std::int64_t>(config.window_ticks),
                                                   20 * static_cast<std::int64_t>(config.window_ticks));
  std::uniform_int_distribution<int> pct(0, 99);
  std::uniform_int_distribution<std::int64_t> qty(1, 1'000'000);
  std::int64_t mid = 1'000'000;
  for (std::uint64_t op = 0; op < ops; ++op) {
    if (pct(rng) < 2) {
      mid += static_cast<std::int64_t>(std::lround(near(rng))); // the market moves
    }
    if (op % 100'000 == 99'999) { // snapshot replace
      // Snapshot replace: both books cleared, then the same levels applied to each.
      ref = ReferenceBook{};
      std::mt19937_64 replay(seed + op);
      book.clear();
      for (int i = 1; i <= 300; ++i) {
        const std::int64_t qb = 1 + static_cast<std::int64_t>(replay() % 1'000'000);
        const std::int64_t qa = 1 + static_cast<std::int64_t>(replay() % 1'000'000);
        ASSERT_EQ(book.set(Side::bid, mid - i * 3, qb), BookResult::ok);
        ASSERT_EQ(book.set(Side::ask, mid + i * 3, qa), BookResult::ok);
        ref.set(Side::bid, mid - i * 3, qb);
        ref.set(Side::ask, mid + i * 3, qa);
      }
      expect_same(book, ref, true, op);
      continue;
    }
    const Side side = pct(rng) < 50 ? Side::bid : Side::ask;
    std::int64_t offset = pct(rng) < 3 ? far(rng) : std::abs(std::lround(near(rng))) + 1;
    std::int64_t price = side == Side::bid ? mid - offset : mid + offset;
    const std::int64_t q = pct(rng) < 30 ? 0 : qty(rng);
    ASSERT_EQ(book.set(side, price, q), BookResult::ok) << "cold store sized to never fill here";
    ref.set(side, price, q);
    expect_same(book, ref, op % 997 == 0, op);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
  expect_same(book, ref, true, ops);
  EXPECT_GT(book.recenters(), 0U) << "the walk must have moved the window";
}

TEST(order_book, should_match_a_map_reference_over_two_million_random_operations) {
  run_differential(BookConfig{1U << 14, 1U << 16}, 2'000'000, 7);
}

TEST(order_book, should_match_a_map_reference_with_a_tiny_window_that_recenters_constantly) {
  run_differential(BookConfig{64, 1U << 16}, 1'000'000, 11);
}

TEST(order_book, should_treat_deleting_an_unknown_level_as_a_no_op) {
  OrderBook book;
  EXPECT_EQ(book.set(Side::bid, 100, 0), BookResult::ok);
  ASSERT_EQ(book.set(Side::bid, 100, 5), BookResult::ok);
  EXPECT_EQ(book.set(Side::bid, 99, 0), BookResult::ok);
  EXPECT_EQ(book.set(Side::bid, 1'000'000'000, 0), BookResult::ok) << "far outside the window";
  Level best{};
  ASSERT_TRUE(book.best(Side::bid, best));
  EXPECT_EQ(best, (Level{100, 5}));
  EXPECT_EQ(book.depth(Side::bid), 1U);
}

TEST(order_book, should_report_a_crossed_book) {
  OrderBook book;
  ASSERT_EQ(book.set(Side::bid, 100, 1), BookResult::ok);
  ASSERT_EQ(book.set(Side::ask, 101, 1), BookResult::ok);
  EXPECT_FALSE(book.crossed());
  ASSERT_EQ(book.set(Side::bid, 101, 1), BookResult::ok);
  EXPECT_TRUE(book.crossed()) << "bid equal to ask is crossed";
  ASSERT_EQ(book.set(Side::bid, 101, 0), BookResult::ok);
  EXPECT_FALSE(book.crossed());
}

TEST(order_book, should_list_the_top_levels_best_first_across_window_and_cold_store) {
  OrderBook book(BookConfig{64, 16});
  for (const std::int64_t p : {1000, 998, 990, 500, 20}) { // 500 and 20 are far below the window
    ASSERT_EQ(book.set(Side::bid, p, p), BookResult::ok);
  }
  const auto top = top_of(book, Side::bid, 10);
  ASSERT_EQ(top.size(), 5U);
  EXPECT_EQ(top[0].price, 1000);
  EXPECT_EQ(top[3].price, 500);
  EXPECT_EQ(top[4].price, 20);
  EXPECT_EQ(top_of(book, Side::bid, 2).size(), 2U);
}

TEST(order_book, should_drop_and_count_a_level_when_the_cold_store_is_full) {
  OrderBook book(BookConfig{64, 2});
  ASSERT_EQ(book.set(Side::ask, 1000, 1), BookResult::ok);
  EXPECT_EQ(book.set(Side::ask, 5000, 1), BookResult::ok);
  EXPECT_EQ(book.set(Side::ask, 6000, 1), BookResult::ok);
  EXPECT_EQ(book.set(Side::ask, 7000, 1), BookResult::cold_full);
  EXPECT_EQ(book.dropped_levels(), 1U);
  EXPECT_EQ(book.depth(Side::ask), 3U);
  EXPECT_EQ(book.set(Side::ask, 6000, 9), BookResult::ok) << "updating a stored cold level still works";
}

TEST(order_book, should_be_empty_after_clear_and_rebuild_from_a_snapshot) {
  OrderBook book;
  ASSERT_EQ(book.set(Side::bid, 100, 1), BookResult::ok);
  ASSERT_EQ(book.set(Side::ask, 1'000'000, 1), BookResult::ok);
  book.clear();
  Level l{};
  EXPECT_FALSE(book.best(Side::bid, l));
  EXPECT_FALSE(book.best(Side::ask, l));
  EXPECT_EQ(book.depth(Side::ask), 0U);
  ASSERT_EQ(book.set(Side::ask, 7'000'000, 3), BookResult::ok);
  ASSERT_TRUE(book.best(Side::ask, l));
  EXPECT_EQ(l, (Level{7'000'000, 3}));
}

} // namespace
} // namespace qf::core
