#include "qf/core/order_book.hpp"

#include <algorithm>
#include <stdexcept>

namespace qf::core {

OrderBook::OrderBook(const BookConfig& config)
    : window_(static_cast<std::int64_t>(config.window_ticks)), cold_capacity_(config.cold_capacity) {
  if (config.window_ticks < 16) {
    throw std::invalid_argument("order book window must hold at least 16 ticks");
  }
  for (SideBook* b : {&bids_, &asks_}) {
    b->qty.assign(config.window_ticks, 0);
    b->cold.reserve(cold_capacity_);
    b->cold_next.reserve(cold_capacity_);
  }
  scratch_.reserve(config.window_ticks);
}

void OrderBook::clear() noexcept {
  for (SideBook* b : {&bids_, &asks_}) {
    if (b->count != 0) {
      std::fill(b->qty.begin(), b->qty.end(), 0);
    }
    b->cold.clear();
    b->best = -1;
    b->count = 0;
  }
  has_base_ = false;
}



BookResult OrderBook::set_cold(Side side, std::int64_t price, std::int64_t qty) noexcept {
  SideBook& b = book(side);
  const bool bids = side == Side::bid;
  auto it = std::lower_bound(b.cold.begin(), b.cold.end(), price, [bids](const Level& l, std::int64_t p) {
    return bids ? l.price < p : l.price > p;
  });
  const bool found = it != b.cold.end() && it->price == price;
  if (qty == 0) {
    if (found) {
      b.cold.erase(it);
    }
    return BookResult::ok;
  }
  if (found) {
    it->qty = qty;
    return BookResult::ok;
  }
  if (b.cold.size() >= cold_capacity_) {
    ++dropped_;
    return BookResult::cold_full;
  }
  b.cold.insert(it, Level{price, qty}); // within reserved capacity: no allocation
  return BookResult::ok;
}


std::size_t OrderBook::top(Side side, Level* out, std::size_t n) const noexcept {
  const SideBook& b = book(side);
  const bool bids = side == Side::bid;
  std::size_t written = 0;
  // Best first: the cold levels beyond the window's better end, the window, the rest of the cold
  // store. Walking the cold store from its back gives exactly that order on both sides.
  const auto beyond = [&](std::int64_t p) { return bids ? p >= base_ + window_ : p < base_; };
  auto it = b.cold.rbegin();
  for (; it != b.cold.rend() && beyond(it->price) && written < n; ++it) {
    out[written++] = *it;
  }
  std::size_t seen = 0;
  const std::int64_t step = bids ? -1 : 1;
  for (std::int64_t j = b.best; j >= 0 && j < window_ && seen < b.count && written < n; j += step) {
    const std::int64_t q = b.qty[static_cast<std::size_t>(j)];
    if (q != 0) {
      out[written++] = Level{base_ + j, q};
      ++seen;
    }
  }
  for (; it != b.cold.rend() && written < n; ++it) {
    if (!beyond(it->price)) {
      out[written++] = *it;
    }
  }
  return written;
}

bool OrderBook::crossed() const noexcept {
  Level bid{};
  Level ask{};
  return best(Side::bid, bid) && best(Side::ask, ask) && bid.price >= ask.price;
}

std::size_t OrderBook::depth(Side side) const noexcept {
  const SideBook& b = book(side);
  return b.count + b.cold.size();
}

void OrderBook::maybe_recenter() noexcept {
  Level bid{};
  Level ask{};
  const bool has_bid = best(Side::bid, bid);
  const bool has_ask = best(Side::ask, ask);
  const std::int64_t margin = window_ / 8;
  const auto outside_band = [&](std::int64_t p) { return p < base_ + margin || p >= base_ + window_ - margin; };
  if ((has_bid && outside_band(bid.price)) || (has_ask && outside_band(ask.price))) {
    std::int64_t center = 0;
    if (has_bid && has_ask) {
      center = bid.price + (ask.price - bid.price) / 2;
    } else {
      center = has_bid ? bid.price : ask.price;
    }
    recenter(center);
  }
}

void OrderBook::recenter(std::int64_t center) noexcept {
  const std::int64_t new_base = center - window_ / 2;
  if (has_base_ && new_base == base_) {
    return;
  }
  if (!has_base_) {
    base_ = new_base;
    has_base_ = true;
    return;
  }
  rebuild_side(Side::bid, new_base);
  rebuild_side(Side::ask, new_base);
  base_ = new_base;
  ++recenters_;
}

void OrderBook::rebuild_side(Side side, std::int64_t new_base) noexcept {
  SideBook& b = book(side);
  // 1. Take the window's levels out, ascending.
  scratch_.clear();
  if (b.count != 0) {
    for (std::size_t i = 0; i < b.qty.size(); ++i) {
      if (b.qty[i] != 0) {
        scratch_.push_back(Level{base_ + static_cast<std::int64_t>(i), b.qty[i]});
        b.qty[i] = 0;
      }
    }
  }
  b.count = 0;
  b.best = -1;
  // 2. Merge window levels and cold levels (disjoint, both ascending) and redistribute.
  b.cold_next.clear();
  const std::int64_t new_top = new_base + window_;
  auto place = [&](const Level& l) {
    if (l.price >= new_base && l.price < new_top) {
      const auto i = static_cast<std::size_t>(l.price - new_base);
      b.qty[i] = l.qty;
      ++b.count;
      const auto idx = static_cast<std::int64_t>(i);
      if (b.best < 0 || (side == Side::bid ? idx > b.best : idx < b.best)) {
        b.best = idx;
      }
    } else if (b.cold_next.size() < cold_capacity_) {
      b.cold_next.push_back(l);
    } else {
      ++dropped_;
    }
  };
  // Merge the window's levels and the cold store in ascending price (asks' cold store is kept
  // descending, so read it reversed), then store the new cold levels in the side's order.
  if (side == Side::ask) {
    std::reverse(b.cold.begin(), b.cold.end());
  }
  auto w = scratch_.begin();
  auto c = b.cold.begin();
  while (w != scratch_.end() || c != b.cold.end()) {
    if (c == b.cold.end() || (w != scratch_.end() && w->price < c->price)) {
      place(*w++);
    } else {
      place(*c++);
    }
  }
  if (side == Side::ask) {
    std::reverse(b.cold_next.begin(), b.cold_next.end());
  }
  b.cold.swap(b.cold_next);
}

} // namespace qf::core
