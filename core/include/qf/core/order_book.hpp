#pragma once
// OrderBook: one instrument's price levels, prices and quantities in int64 fixed point (one
// price unit = one tick). Hot path: a flat quantity array per side indexed by tick offset over
// a window of `window_ticks` prices around the touch, with the best index kept incrementally.
// Prices outside the window (deep snapshot levels, stray far updates) live in a sorted,
// fixed-capacity cold array per side. When the touch drifts into the outer eighth of the
// window, the window is re-centred on the mid and levels move between window and cold store
// (O(window + cold), rare). Everything is allocated in the constructor; a full cold store is
// reported (cold_full) and the level is dropped, never grown. Single thread (the core thread).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qf/core/event.hpp"

namespace qf::core {

struct BookConfig {
  std::uint32_t window_ticks = 1U << 14; // prices in the flat window
  std::uint32_t cold_capacity = 8192;    // levels per side outside the window
};

enum class BookResult : std::uint8_t {
  ok,
  cold_full, // a level outside the window did not fit the cold store and was dropped
};

class OrderBook {
public:
  explicit OrderBook(const BookConfig& config = {});

  // Sets the quantity at a price; 0 deletes (deleting an unknown level is a no-op).
  [[nodiscard]] BookResult set(Side side, std::int64_t price, std::int64_t qty) noexcept;
  // Empties both sides (snapshot replace: clear, then set every snapshot level).
  void clear() noexcept;

  [[nodiscard]] bool best(Side side, Level& out) const noexcept;
  // Up to n best levels of a side, best first; returns how many were written.
  std::size_t top(Side side, Level* out, std::size_t n) const noexcept;
  [[nodiscard]] bool crossed() const noexcept;
  [[nodiscard]] std::size_t depth(Side side) const noexcept;

  // Moves the window so `center` sits in its middle; levels move between window and cold store.
  void recenter(std::int64_t center) noexcept;
  [[nodiscard]] std::int64_t window_base() const noexcept { return base_; }
  [[nodiscard]] std::uint64_t recenters() const noexcept { return recenters_; }
  [[nodiscard]] std::uint64_t dropped_levels() const noexcept { return dropped_; }

private:
  struct SideBook {
    std::vector<std::int64_t> qty; // window_ticks entries, index = price - base_
    // Far from the window first, near last: bids ascending, asks descending. The busy cold
    // levels are the ones next to the window, so inserts and deletes shift little.
    std::vector<Level> cold;       // capacity reserved up front
    std::vector<Level> cold_next;  // recenter's output buffer, same capacity
    std::int64_t best = -1;        // window index of the best level, -1 when the window is empty
    std::size_t count = 0;         // non-zero window entries
  };

  [[nodiscard]] SideBook& book(Side side) noexcept { return side == Side::bid ? bids_ : asks_; }
  [[nodiscard]] const SideBook& book(Side side) const noexcept { return side == Side::bid ? bids_ : asks_; }
  [[nodiscard]] bool in_window(std::int64_t price) const noexcept {
    return price >= base_ && price < base_ + window_;
  }
  void set_window(Side side, std::size_t index, std::int64_t qty) noexcept;
  [[nodiscard]] BookResult set_cold(Side side, std::int64_t price, std::int64_t qty) noexcept;
  void rebuild_side(Side side, std::int64_t new_base) noexcept;
  void maybe_recenter() noexcept;

  std::int64_t window_;
  std::size_t cold_capacity_;
  std::int64_t base_ = 0;
  bool has_base_ = false;
  SideBook bids_;
  SideBook asks_;
  std::vector<Level> scratch_; // recenter: the window's levels, ascending
  std::uint64_t recenters_ = 0;
  std::uint64_t dropped_ = 0;
};

// Hot path, inline so the side folds away at call sites.

inline BookResult OrderBook::set(Side side, std::int64_t price, std::int64_t qty) noexcept {
  if (!has_base_) {
    if (qty == 0) {
      return BookResult::ok; // deleting from an empty book
    }
    base_ = price - window_ / 2;
    has_base_ = true;
  }
  if (in_window(price)) {
    SideBook& b = book(side);
    const std::int64_t best_before = b.best;
    set_window(side, static_cast<std::size_t>(price - base_), qty);
    // Only a moved touch can call for a new window, and only when the side's new best is in
    // the window's outer eighth or the window side emptied (a best in the cold store was
    // already handled when it became best). Most updates are behind the touch.
    if (b.best != best_before &&
        (b.best < window_ / 8 || b.best >= window_ - window_ / 8)) {
      maybe_recenter();
    }
    return BookResult::ok;
  }
  const BookResult result = set_cold(side, price, qty);
  maybe_recenter();
  return result;
}

inline void OrderBook::set_window(Side side, std::size_t index, std::int64_t qty) noexcept {
  SideBook& b = book(side);
  std::int64_t& slot = b.qty[index];
  const auto i = static_cast<std::int64_t>(index);
  if (qty != 0) {
    if (slot == 0) {
      ++b.count;
    }
    slot = qty;
    if (b.best < 0 || (side == Side::bid ? i > b.best : i < b.best)) {
      b.best = i;
    }
    return;
  }
  if (slot == 0) {
    return; // unknown level: normal on every venue
  }
  slot = 0;
  --b.count;
  if (i != b.best) {
    return;
  }
  if (b.count == 0) {
    b.best = -1;
    return;
  }
  // The best level went away: walk to the next one (levels cluster at the touch).
  if (side == Side::bid) {
    std::int64_t j = i - 1;
    while (b.qty[static_cast<std::size_t>(j)] == 0) {
      --j;
    }
    b.best = j;
  } else {
    std::int64_t j = i + 1;
    while (b.qty[static_cast<std::size_t>(j)] == 0) {
      ++j;
    }
    b.best = j;
  }
}

inline bool OrderBook::best(Side side, Level& out) const noexcept {
  const SideBook& b = book(side);
  // The cold store's back holds its level nearest the better end: the highest bid, the lowest ask.
  const bool cold_beats_window =
      !b.cold.empty() && (side == Side::bid ? b.cold.back().price >= base_ + window_ : b.cold.back().price < base_);
  if (cold_beats_window) {
    out = b.cold.back();
    return true;
  }
  if (b.best >= 0) {
    out = Level{base_ + b.best, b.qty[static_cast<std::size_t>(b.best)]};
    return true;
  }
  if (!b.cold.empty()) {
    out = b.cold.back();
    return true;
  }
  return false;
}

} // namespace qf::core
