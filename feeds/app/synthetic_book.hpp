#pragma once
// The synthetic market and the replayed book the resubscribe venues of qf-venue (Kraken, OKX)
// share, written once: one instrument's whole book (price -> qty, both sides), seeded around a
// fair price and moved by a random walk (a trade now and then taking from the best level, the fair
// price drifting and the levels it crosses going, a few levels set or removed near the touch, both
// sides kept 40 to 80 deep so the venue's top N is always full), and a message's levels applied to
// the book as a replaying venue follows its capture (qty 0 deletes, then kept to the depth its
// clients keep). What a venue sends about a step (its messages, sequence numbers, checksums) is
// its own. RatePacer paces the synthetic markets' steps (Coinbase, Kraken, OKX). Service thread
// only (cold: the market generator).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "venue.hpp"

namespace qf::feeds::venue {

using Bids = std::map<std::int64_t, std::int64_t, std::greater<>>;
using Asks = std::map<std::int64_t, std::int64_t>;
using Levels = std::vector<std::pair<std::int64_t, std::int64_t>>; // price, qty

struct SyntheticBook {
  std::string symbol;
  int price_decimals = 1;
  int qty_decimals = 8;
  Bids bids;
  Asks asks;
  // synthetic
  std::int64_t fair = 0;
  std::uint64_t trade_id = 0;
  std::int64_t last_price = 0;
};

// A step's trade (already taken from the book).
struct SyntheticTrade {
  bool taker_buy = false;
  std::int64_t price = 0;
  std::int64_t qty = 0;
  std::uint64_t trade_id = 0;
};

inline constexpr std::size_t kSyntheticLevels = 40; // a side of the synthetic book, at least

[[nodiscard]] inline std::int64_t random_qty(std::mt19937_64& rng) {
  return static_cast<std::int64_t>(1'000 + rng() % 500'000'000);
}

// The top `depth` levels of a side.
template <class Map> Levels top(const Map& side, std::size_t depth) {
  Levels out;
  for (auto it = side.begin(); it != side.end() && out.size() < depth; ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

// The levels of `now` that `held` lacks or holds at another size, then a size 0 for each held
// level no longer in the book. `held` becomes `now`.
template <class Map> Levels held_diff(Map& held, const Map& now) {
  Levels out;
  for (const auto& [p, q] : now) {
    const auto it = held.find(p);
    if (it == held.end() || it->second != q) {
      out.emplace_back(p, q);
    }
  }
  for (const auto& [p, q] : held) {
    if (now.count(p) == 0) {
      out.emplace_back(p, 0);
    }
  }
  held = now;
  return out;
}

// A fresh synthetic book for `symbol`: BTC ticks at 0.1 around 60000.0, ETH at 0.01 around
// 2500.00, SOL at 0.01 around 150.00 (the Binance and Coinbase sides' prices, so a composite book
// over the SIM venues is one market), anything else at 0.01 around 100.00; sizes at 8 decimals.
[[nodiscard]] inline SyntheticBook seed_book(const std::string& symbol, std::mt19937_64& rng) {
  SyntheticBook b;
  b.symbol = symbol;
  b.price_decimals = symbol.starts_with("BTC") ? 1 : 2;
  b.fair = symbol.starts_with("BTC")   ? 600'000
           : symbol.starts_with("ETH") ? 250'000
           : symbol.starts_with("SOL") ? 15'000
                                       : 10'000;
  b.trade_id = 1'000'000 + rng() % 1'000'000;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(kSyntheticLevels); ++i) {
    b.bids[b.fair - 1 - i * static_cast<std::int64_t>(1 + rng() % 3)] = random_qty(rng);
    b.asks[b.fair + i * static_cast<std::int64_t>(1 + rng() % 3)] = random_qty(rng);
  }
  b.last_price = b.fair;
  return b;
}

// One random-walk step of `b`: a trade (one step in four; returned, its size already taken from
// the best level) or a few level changes near the touch.
inline std::optional<SyntheticTrade> step_book(SyntheticBook& b, std::mt19937_64& rng) {
  std::optional<SyntheticTrade> trade;
  if (rng() % 4 == 0) { // a trade takes from the best level on the taker's opposite side
    const bool taker_buy = (rng() & 1U) != 0;
    const auto best = taker_buy ? *b.asks.begin() : *b.bids.begin();
    const std::int64_t qty = 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(best.second));
    ++b.trade_id;
    b.last_price = best.first;
    trade = SyntheticTrade{taker_buy, best.first, qty, b.trade_id};
    if (qty == best.second) {
      taker_buy ? (void)b.asks.erase(best.first) : (void)b.bids.erase(best.first);
    } else {
      (taker_buy ? b.asks[best.first] : b.bids[best.first]) = best.second - qty;
    }
  } else {
    if (rng() % 3 == 0) { // the fair price moves; levels it crosses go
      b.fair = std::max<std::int64_t>(b.fair + ((rng() & 1U) != 0 ? 1 : -1), 200);
      while (!b.bids.empty() && b.bids.begin()->first >= b.fair) {
        b.bids.erase(b.bids.begin());
      }
      while (!b.asks.empty() && b.asks.begin()->first < b.fair) {
        b.asks.erase(b.asks.begin());
      }
    }
    std::geometric_distribution<std::int64_t> offset_dist(0.2);
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
      const std::int64_t offset = std::min<std::int64_t>(offset_dist(rng), 60);
      if ((rng() & 1U) != 0) {
        const std::int64_t p = b.fair - 1 - offset;
        if (b.bids.count(p) != 0 && rng() % 3 == 0) {
          b.bids.erase(p);
        } else {
          b.bids[p] = random_qty(rng);
        }
      } else {
        const std::int64_t p = b.fair + offset;
        if (b.asks.count(p) != 0 && rng() % 3 == 0) {
          b.asks.erase(p);
        } else {
          b.asks[p] = random_qty(rng);
        }
      }
    }
  }
  // Keep both sides deep (so the top levels are always full) and bounded.
  while (b.bids.size() < kSyntheticLevels) {
    b.bids[b.bids.empty() ? b.fair - 1 : std::prev(b.bids.end())->first - 1] = random_qty(rng);
  }
  while (b.asks.size() < kSyntheticLevels) {
    b.asks[b.asks.empty() ? b.fair : std::prev(b.asks.end())->first + 1] = random_qty(rng);
  }
  while (b.bids.size() > 2 * kSyntheticLevels) {
    b.bids.erase(std::prev(b.bids.end()));
  }
  while (b.asks.size() > 2 * kSyntheticLevels) {
    b.asks.erase(std::prev(b.asks.end()));
  }
  return trade;
}

// A replayed book message on the venue's book: a snapshot replaces it; levels apply (qty 0
// deletes); each side is then kept to `depth` levels, as the venue's clients keep it.
inline void apply_levels(SyntheticBook& b, bool snapshot, const Levels& bids, const Levels& asks, std::size_t depth) {
  if (snapshot) {
    b.bids.clear();
    b.asks.clear();
  }
  for (const auto& [p, q] : bids) {
    q == 0 ? (void)b.bids.erase(p) : (void)(b.bids[p] = q);
  }
  for (const auto& [p, q] : asks) {
    q == 0 ? (void)b.asks.erase(p) : (void)(b.asks[p] = q);
  }
  while (b.bids.size() > depth) {
    b.bids.erase(std::prev(b.bids.end()));
  }
  while (b.asks.size() > depth) {
    b.asks.erase(std::prev(b.asks.end()));
  }
}

// `rate` messages a second in total since the first pump (0: 64 steps a pump while anyone is
// subscribed, as fast as the clients take them); `messages` is what the venue's steps have sent.
class RatePacer {
public:
  explicit RatePacer(double rate) : rate_(rate) {}

  // Steps until the messages due at now_ns are out (at most 4096 steps). Returns the ns until the
  // next one is due (0: at once), or `idle` at the unlimited rate with nobody subscribed.
  template <class Step>
  [[nodiscard]] std::int64_t pump(Host& host, std::uint64_t now_ns, const std::uint64_t& messages, std::int64_t idle,
                                  Step&& step) {
    if (start_ns_ == 0) {
      start_ns_ = now_ns;
    }
    if (rate_ <= 0) {
      if (!host.has_sessions()) {
        return idle;
      }
      for (int i = 0; i < 64; ++i) {
        step();
      }
      return 0;
    }
    const auto due = static_cast<std::uint64_t>(static_cast<double>(now_ns - start_ns_) / 1e9 * rate_) + 1;
    for (int guard = 0; messages < due && guard < 4096; ++guard) {
      step();
    }
    const auto next_ns = start_ns_ + static_cast<std::uint64_t>(static_cast<double>(messages) / rate_ * 1e9);
    return next_ns > now_ns ? static_cast<std::int64_t>(next_ns - now_ns) : 0;
  }

private:
  double rate_;
  std::uint64_t start_ns_ = 0;
};

} // namespace qf::feeds::venue
