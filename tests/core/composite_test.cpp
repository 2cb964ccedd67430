// The composite book (core/composite.hpp) through the real Engine into a real state segment, read
// back with StateReader, against a brute-force reference: each venue's book kept in a std::map
// from the events themselves, scaled to the composite's decimals by hand, merged over the members
// that are live and fresh, after every event of a random two-venue run.
#include "qf/core/engine.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "engine_fixture.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_reader.hpp"

#include "alloc_count.hpp" // every operator new of this binary is counted (qf_alloc_count)

using qf::alloc::g_allocations;

namespace qf::core {
namespace {

constexpr std::uint64_t kStaleNs = 2'000'000'000ULL;

using test::marker;
using test::status;
Event level(std::uint16_t instrument, Side side, std::int64_t price, std::int64_t qty, bool last) {
  return test::level(instrument, side, price, qty, 0, last);
}

// Member 0: binance-spot BTCUSDT, 2 price / 8 qty decimals; member 1: coinbase BTC-USD with 1 / 6,
// so the composite is at 2 / 8 and member 1's prices x10, quantities x100. Instrument 2 (ETH) is no
// member.
class composite : public ::testing::Test {
protected:
  void SetUp() override {
    instance_ = "cmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
    segment_ = std::make_unique<test::TestSegment>(instance_, ipc::EngineMode::sim);
    clock_ = std::make_unique<ipc::TscClock>(ipc::TscClock::calibrate(std::chrono::milliseconds(5)));
    CoreConfig config;
    config.risk.enabled = false;
    config.composites.push_back({"BTC", {0, 1}, kStaleNs});
    engine_ = std::make_unique<Engine>(config,
                                       std::vector<InstrumentSpec>{{"binance-spot", "BTCUSDT", 2, 8, 0},
                                                                   {"coinbase", "BTC-USD", 1, 6, 1},
                                                                   {"coinbase", "ETH-USD", 2, 8, 1}},
                                       segment_->sections, *clock_);
    segment_->owner->set_state(ipc::SegmentState::running);
    reader_ = std::make_unique<ipc::StateReader>(instance_);
  }
  ipc::CompositeSnapshot read() {
    reader_->read(snap_);
    EXPECT_TRUE(ipc::has_engine(snap_.status)) << snap_.message; // stalled too: this test beats no heartbeat
    EXPECT_EQ(snap_.composites.size(), 1U);
    return snap_.composites.empty() ? ipc::CompositeSnapshot{} : snap_.composites[0];
  }
  void apply(const Event& e) {
    engine_->apply(e, now_, 0);
    engine_->refresh_composites(now_); // what the agent's housekeeping does
  }
  // A one-message book: `bids` then `asks` as (price, qty), venue fixed point.
  void book(std::uint16_t id, std::vector<std::pair<std::int64_t, std::int64_t>> bids,
            std::vector<std::pair<std::int64_t, std::int64_t>> asks) {
    apply(marker(id, EventKind::snapshot_begin));
    for (const auto& [p, q] : bids) {
      engine_->apply(level(id, Side::bid, p, q, false), now_, 0);
    }
    for (const auto& [p, q] : asks) {
      engine_->apply(level(id, Side::ask, p, q, false), now_, 0);
    }
    apply(marker(id, EventKind::snapshot_end));
  }

  static inline int counter_ = 0;
  std::string instance_;
  std::uint64_t now_ = 1'723'161'255'000'000'000ULL;
  std::unique_ptr<test::TestSegment> segment_;
  std::unique_ptr<ipc::TscClock> clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ipc::StateReader> reader_;
  ipc::StateSnapshot snap_;
};

TEST_F(composite, should_publish_its_info_and_exclude_members_that_are_not_live_yet) {
  const ipc::CompositeSnapshot c = read();
  EXPECT_EQ(ipc::text_of(c.info.asset), "BTC");
  EXPECT_EQ(c.info.members, 2);
  EXPECT_EQ(c.info.price_decimals, 2);
  EXPECT_EQ(c.info.qty_decimals, 8);
  EXPECT_EQ(c.info.stale_after_ms, 2000U);
  EXPECT_EQ(c.info.instrument[0], 0);
  EXPECT_EQ(c.info.instrument[1], 1);
  EXPECT_EQ(c.record.included, 0);
  EXPECT_EQ(c.record.member[0].excluded, ipc::CompositeExclusion::not_live);
  EXPECT_EQ(c.record.bid_member, ipc::kNoMember);
  EXPECT_EQ(c.record.bid_levels, 0U);
}

TEST_F(composite, should_exclude_an_unhealthy_or_stale_venue_and_take_it_back_when_healthy) {
  book(0, {{10'000, 5}}, {{10'010, 7}});
  book(1, {{1'002, 3}}, {{1'003, 4}}); // 10'020 / 10'030 in composite units: the best bid
  apply(status(0, FeedStatus::book_live));
  apply(status(1, FeedStatus::book_live));
  ipc::CompositeSnapshot c = read();
  EXPECT_EQ(c.record.included, 2);
  EXPECT_EQ(c.record.bids[0].price, 10'020);
  EXPECT_EQ(c.record.bids[0].qty, 300);
  EXPECT_EQ(c.record.bid_member, 1);
  EXPECT_EQ(c.record.asks[0].price, 10'010);
  EXPECT_EQ(c.record.ask_member, 0);
  EXPECT_EQ(c.record.crossed, 1); // a bid on one venue above the ask of another

  apply(status(1, FeedStatus::disconnected));
  c = read();
  EXPECT_EQ(c.record.included, 1);
  EXPECT_EQ(c.record.member[1].excluded, ipc::CompositeExclusion::not_live);
  EXPECT_EQ(c.record.member[1].health, ipc::BookHealth::disconnected);
  EXPECT_EQ(c.record.bids[0].price, 10'000);
  EXPECT_EQ(c.record.bid_member, 0);
  EXPECT_EQ(c.record.bid_levels, 1U);
  EXPECT_EQ(c.record.crossed, 0);

  apply(status(1, FeedStatus::book_live));
  c = read();
  EXPECT_EQ(c.record.included, 2);
  EXPECT_EQ(c.record.bid_member, 1);

  // Venue 0 keeps updating, venue 1 goes quiet past stale_after: excluded as stale, without an event of its own.
  now_ += kStaleNs / 2;
  book(0, {{10'001, 5}}, {{10'010, 7}});
  now_ += kStaleNs / 2 + 1;
  apply(level(0, Side::bid, 10'002, 1, true));
  c = read();
  EXPECT_EQ(c.record.member[1].excluded, ipc::CompositeExclusion::stale);
  EXPECT_EQ(c.record.bids[0].price, 10'002);
  // Housekeeping alone turns the other one stale too.
  now_ += kStaleNs + 1;
  engine_->refresh_composites(now_);
  c = read();
  EXPECT_EQ(c.record.included, 0);
  EXPECT_EQ(c.record.bid_levels, 0U);
  // An update brings venue 1 back.
  apply(level(1, Side::ask, 1'004, 9, true));
  c = read();
  EXPECT_EQ(c.record.member[1].excluded, ipc::CompositeExclusion::none);
  EXPECT_EQ(c.record.bids[0].price, 10'020);
  EXPECT_EQ(c.record.asks[1].price, 10'040);
  EXPECT_EQ(c.record.asks[1].qty, 900);
}

// The brute-force reference of one venue.
struct RefVenue {
  std::map<std::int64_t, std::int64_t, std::greater<>> bids; // venue fixed point
  std::map<std::int64_t, std::int64_t> asks;
  ipc::BookHealth health = ipc::BookHealth::syncing;
  std::uint64_t updated = 0;
  std::int64_t price_scale = 1, qty_scale = 1;
};

ipc::BookHealth health_of(FeedStatus s) {
  switch (s) {
  case FeedStatus::book_live: return ipc::BookHealth::live;
  case FeedStatus::gap: return ipc::BookHealth::gap;
  case FeedStatus::stale: return ipc::BookHealth::stale;
  case FeedStatus::disconnected: return ipc::BookHealth::disconnected;
  default: return ipc::BookHealth::syncing;
  }
}

ipc::CompositeExclusion exclusion(const RefVenue& v, std::uint64_t now) {
  if (v.health != ipc::BookHealth::live) {
    return ipc::CompositeExclusion::not_live;
  }
  if (v.updated == 0 || now - v.updated > kStaleNs) {
    return ipc::CompositeExclusion::stale;
  }
  return v.bids.empty() && v.asks.empty() ? ipc::CompositeExclusion::empty : ipc::CompositeExclusion::none;
}

// A member's top 10 in composite units: what its contribution can be.
template <typename Map> std::vector<std::pair<std::int64_t, std::int64_t>> top(const Map& m, const RefVenue& v) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& [p, q] : m) {
    if (out.size() == ipc::kBookDepth) {
      break;
    }
    out.emplace_back(p * v.price_scale, q * v.qty_scale);
  }
  return out;
}

struct RefLevel {
  std::int64_t qty = 0;
  std::array<std::int64_t, 2> member{};
};

template <typename Compare>
void expect_side(const std::array<RefVenue, 2>& ref, std::uint64_t now, bool bids,
                 const std::array<ipc::CompositeLevel, ipc::kBookDepth>& got, std::uint32_t levels,
                 std::uint8_t best_member, std::size_t step) {
  std::map<std::int64_t, RefLevel, Compare> merged;
  for (std::size_t m = 0; m < 2; ++m) {
    if (exclusion(ref[m], now) != ipc::CompositeExclusion::none) {
      continue;
    }
    const auto levels_of = bids ? top(ref[m].bids, ref[m]) : top(ref[m].asks, ref[m]);
    for (const auto& [p, q] : levels_of) {
      merged[p].qty += q;
      merged[p].member[m] = q;
    }
  }
  const std::size_t expected = std::min<std::size_t>(merged.size(), ipc::kBookDepth);
  ASSERT_EQ(levels, expected) << "step " << step << (bids ? " bids" : " asks");
  std::size_t i = 0;
  for (const auto& [p, l] : merged) {
    if (i == expected) {
      break;
    }
    ASSERT_EQ(got[i].price, p) << "step " << step << " level " << i;
    ASSERT_EQ(got[i].qty, l.qty) << "step " << step << " level " << i;
    ASSERT_EQ(got[i].member_qty[0], l.member[0]) << "step " << step << " level " << i;
    ASSERT_EQ(got[i].member_qty[1], l.member[1]) << "step " << step << " level " << i;
    if (i == 0) {
      const std::uint8_t want = l.member[1] > l.member[0] ? 1 : 0;
      ASSERT_EQ(best_member, want) << "step " << step;
    }
    ++i;
  }
  if (expected == 0) {
    ASSERT_EQ(best_member, ipc::kNoMember) << "step " << step;
  }
}

TEST_F(composite, should_equal_a_brute_force_merge_of_the_venue_books_after_every_event) {
  std::array<RefVenue, 2> ref;
  ref[1].price_scale = 10;
  ref[1].qty_scale = 100;
  // Venue 0 (cents): bids 9'950..9'999, asks 10'001..10'050. Venue 1 (dimes): bids 996..1'001,
  // asks 1'002..1'007, so across venues the book can cross; equal prices meet at multiples of 10.
  const std::array<std::array<std::int64_t, 4>, 2> range = {{{9'950, 9'999, 10'001, 10'050}, {996, 1'001, 1'002, 1'007}}};
  std::mt19937_64 rng(20'240'808);
  auto pick = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };

  using Sig = std::tuple<std::vector<std::pair<std::int64_t, std::int64_t>>,
                         std::vector<std::pair<std::int64_t, std::int64_t>>, ipc::BookHealth, ipc::CompositeExclusion>;
  std::array<Sig, 2> last_sig{};
  std::uint64_t expected_updates = read().record.updates;
  std::uint64_t allocations = 0;
  std::uint64_t crossed_seen = 0, excluded_seen = 0;
  for (std::size_t m = 0; m < 2; ++m) {
    last_sig[m] = Sig{{}, {}, ipc::BookHealth::syncing, ipc::CompositeExclusion::not_live};
  }
  constexpr std::size_t kSteps = 20'000;
  std::size_t step = 0;
  // The engine's calls only (the reference's maps allocate).
  auto feed = [&](const Event& e) {
    const std::uint64_t before = g_allocations.load();
    engine_->apply(e, now_, 0);
    if (step > 1'000) {
      allocations += g_allocations.load() - before;
    }
  };
  for (; step < kSteps; ++step) {
    now_ += static_cast<std::uint64_t>(pick(0, 300)) * 1'000'000ULL;
    const auto v = static_cast<std::uint16_t>(pick(0, 1));
    RefVenue& r = ref[v];
    const auto& rg = range[v];
    const std::int64_t roll = pick(0, 999);
    if (roll < 25) { // a health change
      static constexpr std::array<FeedStatus, 6> kStatuses = {FeedStatus::book_live, FeedStatus::book_live,
                                                               FeedStatus::book_live, FeedStatus::gap,
                                                               FeedStatus::stale,     FeedStatus::disconnected};
      const FeedStatus s = kStatuses[static_cast<std::size_t>(pick(0, kStatuses.size() - 1))];
      feed(status(v, s));
      r.health = health_of(s);
    } else if (roll < 35) { // a snapshot
      feed(marker(v, EventKind::snapshot_begin));
      r.bids.clear();
      r.asks.clear();
      for (int i = 0; i < 15; ++i) {
        const std::int64_t p = pick(rg[0], rg[1]), q = pick(1, 1'000);
        feed(level(v, Side::bid, p, q, false));
        r.bids[p] = q;
        const std::int64_t a = pick(rg[2], rg[3]), aq = pick(1, 1'000);
        feed(level(v, Side::ask, a, aq, false));
        r.asks[a] = aq;
      }
      feed(marker(v, EventKind::snapshot_end));
      r.updated = now_;
    } else { // one message of 1..3 level changes (a third of them deletions)
      const int n = static_cast<int>(pick(1, 3));
      for (int i = 0; i < n; ++i) {
        const bool bid = pick(0, 1) == 0;
        const std::int64_t p = bid ? pick(rg[0], rg[1]) : pick(rg[2], rg[3]);
        const std::int64_t q = pick(0, 2) == 0 ? 0 : pick(1, 1'000);
        feed(level(v, bid ? Side::bid : Side::ask, p, q, i == n - 1));
        if (bid) {
          q == 0 ? (void)r.bids.erase(p) : (void)(r.bids[p] = q);
        } else {
          q == 0 ? (void)r.asks.erase(p) : (void)(r.asks[p] = q);
        }
      }
      r.updated = now_;
    }
    const std::uint64_t before = g_allocations.load();
    engine_->refresh_composites(now_);
    if (step > 1'000) {
      allocations += g_allocations.load() - before;
    }

    // Published once per step at most, and only when some member's top, health or exclusion changed.
    bool changed = false;
    for (std::size_t m = 0; m < 2; ++m) {
      Sig sig{top(ref[m].bids, ref[m]), top(ref[m].asks, ref[m]), ref[m].health, exclusion(ref[m], now_)};
      changed |= sig != last_sig[m];
      last_sig[m] = std::move(sig);
    }
    expected_updates += changed ? 1 : 0;

    const ipc::CompositeSnapshot c = read();
    ASSERT_FALSE(c.busy);
    ASSERT_EQ(c.record.updates, expected_updates) << "step " << step;
    std::size_t included = 0;
    for (std::size_t m = 0; m < 2; ++m) {
      const ipc::CompositeExclusion e = exclusion(ref[m], now_);
      ASSERT_EQ(c.record.member[m].excluded, e) << "step " << step << " member " << m;
      ASSERT_EQ(c.record.member[m].health, ref[m].health) << "step " << step << " member " << m;
      included += e == ipc::CompositeExclusion::none ? 1 : 0;
      excluded_seen += e != ipc::CompositeExclusion::none ? 1 : 0;
    }
    ASSERT_EQ(std::size_t{c.record.included}, included) << "step " << step;
    expect_side<std::greater<>>(ref, now_, true, c.record.bids, c.record.bid_levels, c.record.bid_member, step);
    expect_side<std::less<>>(ref, now_, false, c.record.asks, c.record.ask_levels, c.record.ask_member, step);
    const bool crossed = c.record.bid_levels > 0 && c.record.ask_levels > 0 &&
                         c.record.bids[0].price >= c.record.asks[0].price;
    ASSERT_EQ(c.record.crossed, crossed ? 1 : 0) << "step " << step;
    crossed_seen += crossed ? 1 : 0;
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
  EXPECT_EQ(allocations, 0U) << "the composite's path allocates";
  // The run exercised what it claims to: crossings, exclusions and republishing.
  EXPECT_GT(crossed_seen, 0U);
  EXPECT_GT(excluded_seen, 0U);
  EXPECT_GT(expected_updates, kSteps / 4);
  EXPECT_LT(expected_updates, kSteps);
}

TEST_F(composite, should_refuse_a_member_that_is_no_instrument) {
  CoreConfig config;
  config.composites.push_back({"BTC", {0, 5}, kStaleNs});
  StateSections s;
  ipc::InstrumentTable table{};
  auto records = std::make_unique<ipc::InstrumentState[]>(ipc::kMaxInstruments);
  auto feeds = std::make_unique<ipc::FeedTable>();
  auto latency = std::make_unique<ipc::LatencyTable>();
  auto events = std::make_unique<ipc::EventLog>();
  s.instruments = &table;
  s.records = records.get();
  s.feeds = feeds.get();
  s.latency = latency.get();
  s.events = events.get();
  EXPECT_THROW(Engine(config, {{"binance-spot", "BTCUSDT", 2, 8, 0}, {"coinbase", "BTC-USD", 2, 8, 1}}, s, *clock_),
               std::invalid_argument);
  config.composites[0].members = {0, 0};
  EXPECT_THROW(Engine(config, {{"binance-spot", "BTCUSDT", 2, 8, 0}, {"coinbase", "BTC-USD", 2, 8, 1}}, s, *clock_),
               std::invalid_argument);
}

} // namespace
} // namespace qf::core
