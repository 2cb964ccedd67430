#include "qf/core/composite.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace qf::core {

namespace {

constexpr int kMaxDecimalsSpread = 6; // members' decimals may differ by this much (10^6 keeps int64 headroom)

std::int64_t pow10(int n) {
  std::int64_t v = 1;
  for (int i = 0; i < n; ++i) {
    v *= 10;
  }
  return v;
}

// Saturates instead of wrapping: a venue price that large is absurd, never a silent wrap.
std::int64_t scaled(std::int64_t v, std::int64_t scale) noexcept {
  std::int64_t out = 0;
  return __builtin_mul_overflow(v, scale, &out) ? std::numeric_limits<std::int64_t>::max() : out;
}

} // namespace

CompositeBook::CompositeBook(const CompositeSpec& spec, const std::vector<MemberDecimals>& decimals)
    : stale_after_ns_(spec.stale_after_ns) {
  if (spec.asset.empty() || spec.asset.size() >= info_.asset.size()) {
    throw std::invalid_argument("composite asset '" + spec.asset + "' must be 1..15 characters");
  }
  if (spec.members.size() < 2 || spec.members.size() > ipc::kMaxCompositeMembers ||
      decimals.size() != spec.members.size()) {
    throw std::invalid_argument("composite " + spec.asset + ": between 2 and " +
                                std::to_string(ipc::kMaxCompositeMembers) + " members are supported");
  }
  std::memcpy(info_.asset.data(), spec.asset.data(), spec.asset.size());
  members_ = spec.members.size();
  int pd = 0, qd = 0, pd_min = 18, qd_min = 18;
  for (const MemberDecimals& d : decimals) {
    pd = std::max(pd, d.price_decimals);
    qd = std::max(qd, d.qty_decimals);
    pd_min = std::min(pd_min, d.price_decimals);
    qd_min = std::min(qd_min, d.qty_decimals);
  }
  if (pd - pd_min > kMaxDecimalsSpread || qd - qd_min > kMaxDecimalsSpread) {
    throw std::invalid_argument("composite " + spec.asset + ": members' decimals differ by more than " +
                                std::to_string(kMaxDecimalsSpread));
  }
  info_.price_decimals = static_cast<std::int8_t>(pd);
  info_.qty_decimals = static_cast<std::int8_t>(qd);
  info_.members = static_cast<std::uint8_t>(members_);
  info_.stale_after_ms = static_cast<std::uint32_t>(spec.stale_after_ns / 1'000'000ULL);
  for (std::size_t m = 0; m < members_; ++m) {
    for (std::size_t k = 0; k < m; ++k) {
      if (spec.members[k] == spec.members[m]) {
        throw std::invalid_argument("composite " + spec.asset + ": a member is listed twice");
      }
    }
    info_.instrument[m] = static_cast<std::uint16_t>(spec.members[m]);
    member_[m].price_scale = pow10(pd - decimals[m].price_decimals);
    member_[m].qty_scale = pow10(qd - decimals[m].qty_decimals);
  }
  record_.bid_member = ipc::kNoMember;
  record_.ask_member = ipc::kNoMember;
}

bool CompositeBook::set_top(std::size_t m, const Level* bids, std::size_t n_bids, const Level* asks,
                            std::size_t n_asks, std::uint64_t now_unix_ns) noexcept {
  Member& mb = member_[m];
  mb.updated_unix_ns = now_unix_ns;
  const auto copy = [&mb](const Level* in, std::size_t n, std::array<ipc::PriceLevel, ipc::kBookDepth>& out,
                          std::uint32_t& count) {
    std::array<ipc::PriceLevel, ipc::kBookDepth> next{};
    std::uint32_t k = 0;
    for (std::size_t i = 0; i < n && k < ipc::kBookDepth && in[i].qty != 0; ++i) {
      next[k++] = ipc::PriceLevel{scaled(in[i].price, mb.price_scale), scaled(in[i].qty, mb.qty_scale)};
    }
    const bool same = k == count && std::equal(next.begin(), next.begin() + k, out.begin(),
                                               [](const ipc::PriceLevel& a, const ipc::PriceLevel& b) {
                                                 return a.price == b.price && a.qty == b.qty;
                                               });
    out = next;
    count = k;
    return !same;
  };
  const bool bid_changed = copy(bids, n_bids, mb.bids, mb.n_bids);
  const bool ask_changed = copy(asks, n_asks, mb.asks, mb.n_asks);
  const bool changed = bid_changed || ask_changed;
  dirty_ |= changed;
  return changed;
}

void CompositeBook::set_health(std::size_t m, ipc::BookHealth health) noexcept {
  if (member_[m].health != health) {
    member_[m].health = health;
    dirty_ = true;
  }
}

bool CompositeBook::refresh(std::uint64_t now_unix_ns) noexcept {
  for (std::size_t m = 0; m < members_; ++m) {
    Member& mb = member_[m];
    ipc::CompositeExclusion e = ipc::CompositeExclusion::none;
    if (mb.health != ipc::BookHealth::live) {
      e = ipc::CompositeExclusion::not_live;
    } else if (mb.updated_unix_ns == 0 ||
               (now_unix_ns > mb.updated_unix_ns && now_unix_ns - mb.updated_unix_ns > stale_after_ns_)) {
      e = ipc::CompositeExclusion::stale;
    } else if (mb.n_bids == 0 && mb.n_asks == 0) {
      e = ipc::CompositeExclusion::empty;
    }
    if (e != mb.excluded) {
      mb.excluded = e;
      dirty_ = true;
    }
  }
  if (!dirty_) {
    return false;
  }
  dirty_ = false;
  merge(now_unix_ns);
  return true;
}

void CompositeBook::merge_side(bool bids, std::array<ipc::CompositeLevel, ipc::kBookDepth>& out,
                               std::uint32_t& levels, std::uint8_t& best_member) const noexcept {
  std::array<std::uint32_t, ipc::kMaxCompositeMembers> cursor{};
  levels = 0;
  best_member = ipc::kNoMember;
  out = {};
  while (levels < ipc::kBookDepth) {
    // The best price at the members' cursors (k-way merge of lists sorted best first).
    bool found = false;
    std::int64_t best = 0;
    for (std::size_t m = 0; m < members_; ++m) {
      const Member& mb = member_[m];
      if (mb.excluded != ipc::CompositeExclusion::none || cursor[m] == (bids ? mb.n_bids : mb.n_asks)) {
        continue;
      }
      const std::int64_t p = (bids ? mb.bids : mb.asks)[cursor[m]].price;
      if (!found || (bids ? p > best : p < best)) {
        best = p;
        found = true;
      }
    }
    if (!found) {
      break;
    }
    ipc::CompositeLevel& level = out[levels];
    level.price = best;
    std::int64_t largest = 0;
    for (std::size_t m = 0; m < members_; ++m) {
      const Member& mb = member_[m];
      if (mb.excluded != ipc::CompositeExclusion::none || cursor[m] == (bids ? mb.n_bids : mb.n_asks)) {
        continue;
      }
      const ipc::PriceLevel& l = (bids ? mb.bids : mb.asks)[cursor[m]];
      if (l.price == best) {
        level.qty += l.qty;
        level.member_qty[m] = l.qty;
        ++cursor[m];
        if (levels == 0 && l.qty > largest) {
          largest = l.qty;
          best_member = static_cast<std::uint8_t>(m);
        }
      }
    }
    ++levels;
  }
}

void CompositeBook::merge(std::uint64_t now_unix_ns) noexcept {
  ipc::CompositeRecord& r = record_;
  merge_side(true, r.bids, r.bid_levels, r.bid_member);
  merge_side(false, r.asks, r.ask_levels, r.ask_member);
  r.included = 0;
  for (std::size_t m = 0; m < members_; ++m) {
    const Member& mb = member_[m];
    ipc::CompositeMemberState& s = r.member[m];
    s.health = mb.health;
    s.excluded = mb.excluded;
    s.bid_price = mb.n_bids > 0 ? mb.bids[0].price : 0;
    s.bid_qty = mb.n_bids > 0 ? mb.bids[0].qty : 0;
    s.ask_price = mb.n_asks > 0 ? mb.asks[0].price : 0;
    s.ask_qty = mb.n_asks > 0 ? mb.asks[0].qty : 0;
    s.updated_unix_ns = mb.updated_unix_ns;
    r.included = static_cast<std::uint8_t>(r.included + (mb.excluded == ipc::CompositeExclusion::none ? 1 : 0));
  }
  r.crossed = r.bid_levels > 0 && r.ask_levels > 0 && r.bids[0].price >= r.asks[0].price ? 1 : 0;
  ++r.updates;
  r.updated_unix_ns = now_unix_ns;
}

} // namespace qf::core
