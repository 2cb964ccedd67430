#pragma once
// The kept top-of-book of the checksum venues (Kraken, OKX) and Bybit, written once: a side as a
// vector sorted best first, a message's absolute levels applied to it (qty 0 deletes; an unknown level's
// delete is normal), then truncated to the venue's depth, the levels pushed out appended as qty-0
// deletes so the core's book stays the venue's. Private to feeds/src. Feed thread, noexcept; the
// vectors are reserved by the caller (depth + the levels of one message), so nothing allocates.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "qf/core/event.hpp"

namespace qf::feeds::detail {

// Applies one absolute level to a side kept sorted by `better` (best first).
template <typename Better> void apply_level(std::vector<core::Level>& side, core::Level level, Better better) noexcept {
  const auto it = std::lower_bound(side.begin(), side.end(), level.price,
                                   [&](const core::Level& l, std::int64_t price) { return better(l.price, price); });
  const bool found = it != side.end() && it->price == level.price;
  if (level.qty == 0) {
    if (found) {
      side.erase(it);
    }
  } else if (found) {
    it->qty = level.qty;
  } else {
    side.insert(it, level); // within the reserved capacity: no allocation
  }
}

// Levels beyond `depth` leave the side and are appended to `deletes` as qty-0 levels.
inline std::size_t truncate(std::vector<core::Level>& side, std::size_t depth,
                            std::vector<core::Level>& deletes) noexcept {
  if (side.size() <= depth) {
    return 0;
  }
  const std::size_t n = side.size() - depth;
  for (std::size_t i = depth; i < side.size(); ++i) {
    deletes.push_back(core::Level{side[i].price, 0});
  }
  side.resize(depth);
  return n;
}

// One message's levels into the kept book (bids descending, asks ascending), truncated to depth;
// `out_bids` / `out_asks` become the message's levels followed by the truncated deletes (the
// events to publish). Returns the number of levels truncated.
inline std::size_t apply_levels(std::vector<core::Level>& bids, std::vector<core::Level>& asks,
                                std::span<const core::Level> message_bids, std::span<const core::Level> message_asks,
                                std::size_t depth, std::vector<core::Level>& out_bids,
                                std::vector<core::Level>& out_asks) noexcept {
  out_bids.clear();
  out_asks.clear();
  for (const core::Level& l : message_bids) {
    apply_level(bids, l, [](std::int64_t a, std::int64_t b) { return a > b; });
    out_bids.push_back(l);
  }
  for (const core::Level& l : message_asks) {
    apply_level(asks, l, [](std::int64_t a, std::int64_t b) { return a < b; });
    out_asks.push_back(l);
  }
  return truncate(bids, depth, out_bids) + truncate(asks, depth, out_asks);
}

} // namespace qf::feeds::detail
