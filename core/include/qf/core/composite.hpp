#pragma once
// CompositeBook: one asset's consolidated book over instruments of several venues (an NBBO).
// Each member hands in its top levels (the engine's top-kBookDepth of its order book, or the
// venue's BBO for a BBO-only instrument) and its book health; the composite merges the included
// members' levels best first (equal prices summed, each member's share kept), names the member
// of the best bid and of the best ask, and lists every member with its health and why it is
// excluded (book not live, no change within stale_after, empty). Prices are compared as the
// venues quote them: no FX conversion (a USDT book and a USD book merge as given). Fixed arrays
// only: nothing allocates after the constructor. A merge runs only when a member's top levels,
// health or exclusion changed (changed() tells the engine to publish).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::core {

// A configured composite: the members are instrument indices of the engine.
struct CompositeSpec {
  std::string asset;                  // "BTC"
  std::vector<std::size_t> members;   // 2..kMaxCompositeMembers instruments, each once
  std::uint64_t stale_after_ns = 5'000'000'000ULL;
};

class CompositeBook {
public:
  struct MemberDecimals {
    int price_decimals = 2;
    int qty_decimals = 8;
  };
  // Throws std::invalid_argument on a bad spec (start-up only). `decimals[i]` are member i's.
  CompositeBook(const CompositeSpec& spec, const std::vector<MemberDecimals>& decimals);

  // Member `m`'s book changed at `now_unix_ns` (levels best first, the venue's fixed point, at
  // most kBookDepth each; zero-quantity levels end a side). True when its top levels differ.
  bool set_top(std::size_t m, const Level* bids, std::size_t n_bids, const Level* asks, std::size_t n_asks,
               std::uint64_t now_unix_ns) noexcept;
  void set_health(std::size_t m, ipc::BookHealth health) noexcept;

  // Re-evaluates every member's exclusion at `now_unix_ns`; when anything changed since the last
  // merge (a top, a health, an exclusion), merges into record() and returns true.
  bool refresh(std::uint64_t now_unix_ns) noexcept;

  [[nodiscard]] const ipc::CompositeInfo& info() const noexcept { return info_; }
  [[nodiscard]] const ipc::CompositeRecord& record() const noexcept { return record_; }
  [[nodiscard]] std::size_t members() const noexcept { return members_; }
  [[nodiscard]] std::uint16_t instrument(std::size_t m) const noexcept { return info_.instrument[m]; }

private:
  struct Member {
    std::array<ipc::PriceLevel, ipc::kBookDepth> bids{}, asks{}; // composite decimals
    std::uint32_t n_bids = 0, n_asks = 0;
    ipc::BookHealth health = ipc::BookHealth::syncing;
    ipc::CompositeExclusion excluded = ipc::CompositeExclusion::not_live;
    std::uint64_t updated_unix_ns = 0;
    std::int64_t price_scale = 1, qty_scale = 1; // venue fixed point -> composite fixed point
  };

  void merge(std::uint64_t now_unix_ns) noexcept;
  void merge_side(bool bids, std::array<ipc::CompositeLevel, ipc::kBookDepth>& out, std::uint32_t& levels,
                  std::uint8_t& best_member) const noexcept;

  ipc::CompositeInfo info_{};
  ipc::CompositeRecord record_{};
  std::array<Member, ipc::kMaxCompositeMembers> member_{};
  std::size_t members_ = 0;
  std::uint64_t stale_after_ns_;
  bool dirty_ = true; // the first refresh publishes
};

} // namespace qf::core
