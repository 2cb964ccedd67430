// OrderBook against a std::map book (the usual reference) on the same stream of operations.
// Both books start from a 1000-level snapshot per side (Binance's depth limit=1000, one level
// every 2 ticks), then messages shaped like depth diffs (a block of bids, then a block of
// asks) near a random-walking mid, 30% deletes, 2% far-away levels;
// after each operation both bests are read, as the core loop does. Target: >= 5x std::map.
#include <benchmark/benchmark.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include "qf/core/order_book.hpp"

namespace {

using qf::core::Side;

struct Op {
  Side side;
  std::int64_t price;
  std::int64_t qty;
};

constexpr std::int64_t kStartMid = 6'183'763; // BTCUSDT in cents

template <typename SetFn>
void load_snapshot(SetFn&& set) {
  for (std::int64_t i = 1; i <= 1000; ++i) {
    set(Side::bid, kStartMid - 2 * i, i);
    set(Side::ask, kStartMid + 2 * i, i);
  }
}

const std::vector<Op>& ops() {
  static const std::vector<Op> stream = [] {
    std::vector<Op> v;
    std::mt19937_64 rng(3);
    std::normal_distribution<double> near(0.0, 40.0);
    std::uniform_int_distribution<int> pct(0, 99);
    std::int64_t mid = kStartMid;
    // Messages shaped like Binance depth diffs: a block of bid levels, then a block of asks.
    std::uniform_int_distribution<int> block(1, 12);
    while (v.size() < (1U << 20)) {
      if (pct(rng) < 20) {
        mid += static_cast<std::int64_t>(std::lround(near(rng) / 8.0));
      }
      for (const Side side : {Side::bid, Side::ask}) {
        for (int k = block(rng); k > 0 && v.size() < (1U << 20); --k) {
          const std::int64_t offset =
              pct(rng) < 2 ? 100'000 + pct(rng) * 1000 : std::abs(std::lround(near(rng))) + 1;
          v.push_back(Op{side, side == Side::bid ? mid - offset : mid + offset, pct(rng) < 30 ? 0 : 1 + pct(rng)});
        }
      }
    }
    return v;
  }();
  return stream;
}

void BM_QfOrderBook(benchmark::State& state) {
  const auto& stream = ops();
  qf::core::OrderBook book;
  load_snapshot([&](Side side, std::int64_t p, std::int64_t q) { (void)book.set(side, p, q); });
  std::size_t i = 0;
  for (auto _ : state) {
    const Op& op = stream[i++ & (stream.size() - 1)];
    benchmark::DoNotOptimize(book.set(op.side, op.price, op.qty));
    qf::core::Level bid{};
    qf::core::Level ask{};
    benchmark::DoNotOptimize(book.best(Side::bid, bid));
    benchmark::DoNotOptimize(book.best(Side::ask, ask));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_StdMapBook(benchmark::State& state) {
  const auto& stream = ops();
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;
  load_snapshot([&](Side side, std::int64_t p, std::int64_t q) {
    side == Side::bid ? (void)(bids[p] = q) : (void)(asks[p] = q);
  });
  std::size_t i = 0;
  for (auto _ : state) {
    const Op& op = stream[i++ & (stream.size() - 1)];
    if (op.side == Side::bid) {
      op.qty == 0 ? (void)bids.erase(op.price) : (void)(bids[op.price] = op.qty);
    } else {
      op.qty == 0 ? (void)asks.erase(op.price) : (void)(asks[op.price] = op.qty);
    }
    if (!bids.empty()) {
      benchmark::DoNotOptimize(bids.begin()->second);
    }
    if (!asks.empty()) {
      benchmark::DoNotOptimize(asks.begin()->second);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_QfOrderBook)->Name("book/update_and_best/qf_order_book");
BENCHMARK(BM_StdMapBook)->Name("book/update_and_best/std_map");

} // namespace

BENCHMARK_MAIN();
