#include "qf/core/order_book.hpp"
#include "qf/feeds/binance/book_sync.hpp"
#include "qf/feeds/binance/parser.hpp"
#include "qf/feeds/capture.hpp"

#include <gtest/gtest.h>

#include "capture_paths.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qf::feeds::binance {

// Readable gtest failures.
void PrintTo(SyncOutcome o, std::ostream* os) {
  constexpr const char* kNames[] = {"applied",  "buffered",         "stale",          "gap",
                                    "overflow", "snapshot_applied", "snapshot_stale", "ignored"};
  *os << kNames[static_cast<int>(o)];
}
void PrintTo(BookState s, std::ostream* os) {
  constexpr const char* kNames[] = {"syncing", "live", "gap"};
  *os << kNames[static_cast<int>(s)];
}

namespace {

namespace fs = std::filesystem;
using core::Event;
using core::EventKind;
using core::FeedStatus;
using core::Level;
using core::OrderBook;
using core::Side;

using test::kBtcusdt;
using test::kCaptures;
using test::kSpotMulti;
using test::kUsdmMulti;

// Applies book events to an OrderBook the way the engine does, and keeps the status events.
struct BookTap {
  OrderBook book;
  std::vector<FeedStatus> statuses;
  std::vector<Event> events;

  void operator()(const Event& e) {
    events.push_back(e);
    switch (e.kind) {
    case EventKind::snapshot_begin:
      book.clear();
      break;
    case EventKind::book_level:
      (void)book.set(e.side, e.level.price, e.level.qty);
      break;
    case EventKind::status:
      statuses.push_back(e.status);
      break;
    default:
      break;
    }
  }
  [[nodiscard]] Level best(Side side) const {
    Level l{0, 0};
    (void)book.best(side, l);
    return l;
  }
  [[nodiscard]] std::size_t count(EventKind kind) const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const Event& e) { return e.kind == kind; }));
  }
};

// ---- the real captures ----

struct Payload {
  std::string text;
  std::string snapshot_symbol;
};

std::vector<Payload> payloads(const fs::path& path) {
  CaptureReader reader(path.string());
  SnapshotAttribution attribution;
  std::vector<Payload> out;
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind == CaptureRecord::Kind::ws_open) {
      attribution.on_ws_open(r.text);
    } else if (r.kind == CaptureRecord::Kind::ws_frame) {
      out.push_back({std::string(r.text), {}});
      if (r.text.find("@depth") != std::string_view::npos) {
        const std::size_t s = r.text.find(R"("s":")");
        attribution.on_depth_symbol(r.text.substr(s + 5, r.text.find('"', s + 5) - s - 5));
      }
    } else if (r.kind == CaptureRecord::Kind::rest_response) {
      out.push_back({std::string(r.text), attribution.symbol_for(r.url)});
    }
  }
  return out;
}

class binance_sync_captures : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fs::is_directory(kCaptures)) {
      FAIL() << "no captures folder at " << kCaptures << ": ../shared/captures must sit beside the repository";
    }
  }
};

struct Ticker {
  std::uint64_t u;
  Level bid;
  Level ask;
};

TEST_F(binance_sync_captures, should_sync_btcusdt_and_match_every_book_ticker) {
  const auto all = payloads(kBtcusdt);
  Parser parser;
  parser.add_instrument("BTCUSDT", 0, 2, 8);
  PaddedBuffer buffer(parser.config().max_message_bytes);
  Message m;

  // bookTicker and depth share update ids: collect every ticker first (they arrive out of
  // order with the depth stream), ordered by u.
  std::vector<Ticker> tickers;
  for (const auto& p : all) {
    ASSERT_TRUE(buffer.assign(p.text));
    ASSERT_EQ(parser.parse(buffer, m, p.snapshot_symbol), ParseResult::ok);
    if (m.kind == MessageKind::book_ticker) {
      tickers.push_back({m.last_update_id, m.bid, m.ask});
    }
  }
  ASSERT_EQ(tickers.size(), 28'040U);
  ASSERT_TRUE(std::is_sorted(tickers.begin(), tickers.end(),
                             [](const Ticker& a, const Ticker& b) { return a.u < b.u; }));

  BookSync sync(0);
  BookTap tap;
  std::size_t checked = 0;
  std::size_t crossed = 0;
  std::size_t mismatches = 0;
  std::size_t no_ticker = 0;
  std::uint64_t first_diff_u = 0;
  std::string first_mismatch;
  std::uint64_t prev_u = 0;
  std::size_t chain_breaks = 0;
  const auto sink = [&](const Event& e) {
    tap(e);
    if (e.kind != EventKind::book_level || (e.flags & core::kFlagLastInMessage) == 0) {
      return;
    }
    // One applied diff is complete (seq = its u).
    if (first_diff_u == 0) {
      first_diff_u = e.seq;
    }
    ++checked;
    crossed += tap.book.crossed() ? 1U : 0U;
    const auto it = std::upper_bound(tickers.begin(), tickers.end(), e.seq,
                                     [](std::uint64_t u, const Ticker& t) { return u < t.u; });
    if (it == tickers.begin()) {
      ++no_ticker;
      return;
    }
    const Ticker& t = *std::prev(it);
    if (tap.best(Side::bid) != t.bid || tap.best(Side::ask) != t.ask) {
      if (mismatches++ == 0) {
        first_mismatch = "diff u " + std::to_string(e.seq) + " vs ticker u " + std::to_string(t.u) + ": book " +
                         std::to_string(tap.best(Side::bid).price) + "/" + std::to_string(tap.best(Side::ask).price);
      }
    }
  };
  for (const auto& p : all) {
    ASSERT_TRUE(buffer.assign(p.text));
    ASSERT_EQ(parser.parse(buffer, m, p.snapshot_symbol), ParseResult::ok);
    if (m.kind != MessageKind::depth_update && m.kind != MessageKind::depth_snapshot) {
      continue;
    }
    const std::uint64_t applied_before = sync.counters().applied_diffs;
    (void)sync.on_message(m, 0, sink);
    if (m.kind == MessageKind::depth_update && sync.counters().applied_diffs > applied_before) {
      chain_breaks += (prev_u != 0 && m.first_update_id != prev_u + 1) ? 1U : 0U; // independent check
      prev_u = m.last_update_id;
    }
  }

  // PROTOCOLS.md 1.4 / captures/README.md: snapshot 50093239218, first diff 208..224, no gap.
  EXPECT_EQ(sync.sync_point().snapshot_id, 50093239218U);
  EXPECT_EQ(sync.sync_point().first_id, 50093239208U);
  EXPECT_EQ(sync.sync_point().last_id, 50093239224U);
  EXPECT_EQ(first_diff_u, 50093239224U);
  // 3,451 diffs: the 2 before the snapshot are dropped, 3,449 applied (the bridging one and
  // 3,448 chained by U == prev u + 1).
  EXPECT_EQ(sync.counters().applied_diffs, 3'449U);
  EXPECT_EQ(sync.counters().dropped_stale, 2U);
  EXPECT_EQ(sync.counters().gaps, 0U);
  EXPECT_EQ(sync.counters().resyncs, 0U);
  EXPECT_EQ(chain_breaks, 0U);
  EXPECT_EQ(sync.state(), BookState::live);
  EXPECT_EQ(sync.update_id(), prev_u);
  EXPECT_EQ(tap.statuses, std::vector<FeedStatus>{FeedStatus::book_live});
  EXPECT_EQ(tap.count(EventKind::snapshot_begin), 1U);
  // After every applied diff: never crossed, and the touch (price and quantity) equals the
  // last bookTicker at or before the diff's u.
  EXPECT_EQ(checked, 3'449U); // every applied diff carried levels
  EXPECT_EQ(crossed, 0U);
  EXPECT_EQ(no_ticker, 0U);
  EXPECT_EQ(mismatches, 0U) << first_mismatch;
  EXPECT_FALSE(tap.book.crossed());
}

struct Expected {
  const char* symbol;
  std::uint64_t snapshot_id;
  std::uint64_t first_id;
  std::uint64_t last_id;
  std::uint64_t applied;
  std::uint64_t stale;
};

// Replays a multi-symbol capture, one BookSync per symbol; returns the syncs by symbol and
// how many applied diffs would break the spot rule U == prev u + 1.
struct MultiResult {
  std::map<std::string, std::unique_ptr<BookSync>> syncs;
  std::map<std::string, std::unique_ptr<BookTap>> taps;
  std::size_t spot_rule_breaks = 0;
};

MultiResult replay_multi(const fs::path& path, Market market, const std::vector<Expected>& expected) {
  MultiResult result;
  Parser parser(ParserConfig{.market = market});
  core::InstrumentId id = 0;
  for (const Expected& e : expected) {
    parser.add_instrument(e.symbol, id, 8, 8);
    result.syncs[e.symbol] = std::make_unique<BookSync>(id, BookSyncConfig{.market = market});
    result.taps[e.symbol] = std::make_unique<BookTap>();
    ++id;
  }
  PaddedBuffer buffer(parser.config().max_message_bytes);
  Message m;
  std::map<std::string, std::uint64_t> prev_u;
  for (const auto& p : payloads(path)) {
    EXPECT_TRUE(buffer.assign(p.text));
    EXPECT_EQ(parser.parse(buffer, m, p.snapshot_symbol), ParseResult::ok) << p.text.substr(0, 200);
    if (m.kind != MessageKind::depth_update && m.kind != MessageKind::depth_snapshot) {
      continue;
    }
    const std::string symbol(m.symbol);
    BookSync& sync = *result.syncs.at(symbol);
    BookTap& tap = *result.taps.at(symbol);
    const std::uint64_t before = sync.counters().applied_diffs;
    (void)sync.on_message(m, 0, [&](const Event& e) { tap(e); });
    if (m.kind == MessageKind::depth_update && sync.counters().applied_diffs > before) {
      if (prev_u.contains(symbol) && m.first_update_id != prev_u[symbol] + 1) {
        ++result.spot_rule_breaks;
      }
      prev_u[symbol] = m.last_update_id;
    }
  }
  return result;
}

void expect_synced(const MultiResult& r, const std::vector<Expected>& expected) {
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.symbol);
    const BookSync& sync = *r.syncs.at(e.symbol);
    EXPECT_EQ(sync.state(), BookState::live);
    EXPECT_EQ(sync.sync_point().snapshot_id, e.snapshot_id);
    EXPECT_EQ(sync.sync_point().first_id, e.first_id);
    EXPECT_EQ(sync.sync_point().last_id, e.last_id);
    EXPECT_EQ(sync.counters().applied_diffs, e.applied);
    EXPECT_EQ(sync.counters().dropped_stale, e.stale);
    EXPECT_EQ(sync.counters().gaps, 0U);
    EXPECT_EQ(sync.counters().resyncs, 0U);
    EXPECT_EQ(sync.counters().snapshots_applied, 1U);
    EXPECT_EQ(r.taps.at(e.symbol)->statuses, std::vector<FeedStatus>{FeedStatus::book_live});
  }
}

TEST_F(binance_sync_captures, should_sync_all_four_spot_multi_symbols_with_their_snapshots) {
  // Snapshot ids from the file; bridging diffs and counts from an independent Python replay of
  // the 1.4 procedure (177 diffs = 172 applied + 5 contained in the snapshots).
  const std::vector<Expected> expected = {
      {"NKNUSDT", 499869752, 499869753, 499869754, 149, 1},
      {"BLZETH", 281916627, 281916628, 281916628, 9, 1},
      {"LRCBTC", 259345543, 259345544, 259345545, 13, 2},
      {"RUNEEUR", 15602511, 15602512, 15602513, 1, 1},
  };
  const MultiResult r = replay_multi(kSpotMulti, Market::spot, expected);
  expect_synced(r, expected);
  EXPECT_EQ(r.spot_rule_breaks, 0U);
}

TEST_F(binance_sync_captures, should_sync_all_four_usdm_symbols_chaining_by_pu) {
  // 764 diffs = 752 applied + 12 contained in the snapshots (independent Python replay of the
  // procedure in PROTOCOLS.md 2). SUSHIUSDT's bridging diff starts exactly at lastUpdateId and
  // AKROUSDT's ends exactly at it: both are legal only under the USD-M rule U <= id <= u.
  const std::vector<Expected> expected = {
      {"SUSHIUSDT", 600859605926, 600859605926, 600859607423, 252, 3},
      {"AKROUSDT", 600859605486, 600859603597, 600859605486, 188, 1},
      {"KEEPUSDT", 600859619434, 600859618057, 600859619434, 132, 3},
      {"CTKUSDT", 600859618836, 600859617271, 600859618836, 180, 5},
  };
  const MultiResult r = replay_multi(kUsdmMulti, Market::usdm, expected);
  expect_synced(r, expected);
  // The ids are global across symbols: U == prev u + 1 would have broken almost everywhere.
  EXPECT_GT(r.spot_rule_breaks, 700U);
}

// ---- synthetic sequences ----

using Levels = std::vector<std::pair<const char*, const char*>>;

std::string levels_json(const Levels& levels) {
  std::string out = "[";
  for (const auto& [p, q] : levels) {
    out += std::string(out.size() > 1 ? "," : "") + "[\"" + p + "\",\"" + q + "\"]";
  }
  return out + "]";
}

std::string diff_json(std::uint64_t U, std::uint64_t u, const Levels& bids, const Levels& asks,
                      std::uint64_t pu = 0) {
  return R"({"stream":"xyzusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000000,"s":"XYZUSDT","U":)" +
         std::to_string(U) + R"(,"u":)" + std::to_string(u) + (pu != 0 ? R"(,"pu":)" + std::to_string(pu) : "") +
         R"(,"b":)" + levels_json(bids) + R"(,"a":)" + levels_json(asks) + "}}";
}

std::string snapshot_json(std::uint64_t id, const Levels& bids, const Levels& asks) {
  return R"({"lastUpdateId":)" + std::to_string(id) + R"(,"bids":)" + levels_json(bids) + R"(,"asks":)" +
         levels_json(asks) + "}";
}

// Parser + BookSync + book for one synthetic instrument XYZUSDT (2 price, 0 qty decimals).
struct Rig {
  explicit Rig(Market market = Market::spot, BookSyncConfig config = {})
      : parser(ParserConfig{.market = market}), buffer(1 << 16), sync(3, with_market(config, market)) {
    parser.add_instrument("XYZUSDT", 3, 2, 0);
  }
  static BookSyncConfig with_market(BookSyncConfig c, Market market) {
    c.market = market;
    return c;
  }
  SyncOutcome feed(const std::string& json, std::string_view snapshot_symbol = {}) {
    EXPECT_TRUE(buffer.assign(json));
    EXPECT_EQ(parser.parse(buffer, message, snapshot_symbol), ParseResult::ok) << json;
    return sync.on_message(message, 0, [this](const Event& e) { tap(e); });
  }
  SyncOutcome diff(std::uint64_t U, std::uint64_t u, const Levels& bids = {}, const Levels& asks = {},
                   std::uint64_t pu = 0) {
    return feed(diff_json(U, u, bids, asks, pu));
  }
  SyncOutcome snapshot(std::uint64_t id, const Levels& bids, const Levels& asks) {
    return feed(snapshot_json(id, bids, asks), "XYZUSDT");
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
  BookSync sync;
  BookTap tap;
};

const Levels kBids = {{"10.00", "5"}, {"9.99", "7"}};
const Levels kAsks = {{"10.01", "3"}, {"10.02", "4"}};

TEST(binance_book_sync, should_buffer_diffs_until_a_snapshot_then_go_live) {
  Rig rig;
  EXPECT_FALSE(rig.sync.snapshot_wanted()); // the first diff comes first (1.4 steps 1-3)
  EXPECT_EQ(rig.diff(100, 105, {{"10.00", "6"}}), SyncOutcome::buffered);
  EXPECT_TRUE(rig.sync.take_snapshot_request());
  EXPECT_EQ(rig.diff(106, 110, {{"9.98", "1"}}, {{"10.01", "0"}}), SyncOutcome::buffered);
  EXPECT_FALSE(rig.sync.take_snapshot_request()); // in flight: no second request
  EXPECT_EQ(rig.sync.state(), BookState::syncing);
  EXPECT_TRUE(rig.tap.events.empty());
  EXPECT_EQ(rig.sync.buffered(), 2U);

  EXPECT_EQ(rig.snapshot(107, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.sync.update_id(), 110U);
  EXPECT_EQ(rig.sync.buffered(), 0U);
  EXPECT_EQ(rig.sync.counters().dropped_stale, 1U); // 100..105 is inside the snapshot
  EXPECT_EQ(rig.sync.counters().applied_diffs, 1U);
  EXPECT_EQ(rig.sync.sync_point().first_id, 106U);
  // snapshot_begin, 4 levels, snapshot_end, the diff's 2 levels, book_live.
  const auto& ev = rig.tap.events;
  ASSERT_EQ(ev.size(), 9U);
  EXPECT_EQ(ev[0].kind, EventKind::snapshot_begin);
  EXPECT_EQ(ev[5].kind, EventKind::snapshot_end);
  EXPECT_EQ(ev[5].seq, 107U);
  EXPECT_EQ(ev[7].kind, EventKind::book_level);
  EXPECT_EQ(ev[7].seq, 110U);
  EXPECT_EQ(ev[7].flags, core::kFlagLastInMessage);
  EXPECT_EQ(ev[6].flags, 0);
  EXPECT_EQ(ev[8].kind, EventKind::status);
  EXPECT_EQ(ev[8].status, FeedStatus::book_live);
  EXPECT_EQ(ev[8].instrument, 3);
  EXPECT_EQ(rig.tap.best(Side::bid), (Level{1000, 5}));
  EXPECT_EQ(rig.tap.best(Side::ask), (Level{1002, 4})); // 10.01 deleted by the diff

  EXPECT_EQ(rig.diff(111, 111, {{"10.00", "0"}}), SyncOutcome::applied);
  EXPECT_EQ(rig.tap.best(Side::bid), (Level{999, 7}));
}

TEST(binance_book_sync, should_enter_gap_and_request_a_resync_when_ids_are_missing) {
  Rig rig;
  (void)rig.diff(100, 101);
  ASSERT_TRUE(rig.sync.take_snapshot_request());
  ASSERT_EQ(rig.snapshot(100, kBids, kAsks), SyncOutcome::snapshot_applied);
  ASSERT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.diff(102, 104), SyncOutcome::applied);
  EXPECT_FALSE(rig.sync.snapshot_wanted());
  // 105 is missing.
  EXPECT_EQ(rig.diff(106, 108, {{"9.00", "1"}}), SyncOutcome::gap);
  EXPECT_EQ(rig.sync.state(), BookState::gap);
  EXPECT_EQ(rig.sync.counters().gaps, 1U);
  EXPECT_EQ(rig.sync.counters().resyncs, 1U);
  EXPECT_EQ(rig.tap.statuses.back(), FeedStatus::gap);
  EXPECT_TRUE(rig.sync.take_snapshot_request());
  EXPECT_FALSE(rig.sync.take_snapshot_request());
  EXPECT_EQ(rig.sync.buffered(), 1U); // the breaking diff starts the next synchronisation
  const std::size_t levels_before = rig.tap.count(EventKind::book_level);
  EXPECT_EQ(rig.diff(109, 112), SyncOutcome::buffered);
  EXPECT_EQ(rig.tap.count(EventKind::book_level), levels_before); // nothing reaches the book

  EXPECT_EQ(rig.snapshot(110, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.sync.update_id(), 112U);
  EXPECT_EQ(rig.sync.counters().dropped_stale, 1U); // 106..108
  EXPECT_EQ(rig.tap.statuses,
            (std::vector<FeedStatus>{FeedStatus::book_live, FeedStatus::gap, FeedStatus::book_live}));
}

TEST(binance_book_sync, should_request_another_snapshot_when_it_is_older_than_the_buffered_diffs) {
  Rig rig;
  (void)rig.diff(200, 205);
  (void)rig.diff(206, 210);
  ASSERT_TRUE(rig.sync.take_snapshot_request());
  // lastUpdateId 198 < first U - 1 = 199: update 199 is in neither.
  EXPECT_EQ(rig.snapshot(198, kBids, kAsks), SyncOutcome::snapshot_stale);
  EXPECT_EQ(rig.sync.state(), BookState::syncing);
  EXPECT_TRUE(rig.sync.take_snapshot_request());
  EXPECT_EQ(rig.tap.count(EventKind::snapshot_begin), 0U); // the book was not touched
  EXPECT_EQ(rig.tap.statuses, std::vector<FeedStatus>{FeedStatus::resync});
  EXPECT_EQ(rig.sync.counters().stale_snapshots, 1U);
  EXPECT_EQ(rig.sync.counters().resyncs, 1U);
  EXPECT_EQ(rig.sync.buffered(), 2U);
  // lastUpdateId 199 = U - 1 is exactly enough (U <= 199 + 1 <= u).
  EXPECT_EQ(rig.snapshot(199, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.sync.update_id(), 210U);
  EXPECT_EQ(rig.sync.counters().applied_diffs, 2U);
}

TEST(binance_book_sync, should_request_another_snapshot_when_the_stream_has_passed_it) {
  Rig rig;
  // A snapshot with nothing buffered goes to the book and waits for the diff that bridges it.
  EXPECT_EQ(rig.snapshot(300, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::syncing);
  EXPECT_EQ(rig.diff(290, 300), SyncOutcome::stale);
  EXPECT_EQ(rig.diff(305, 306), SyncOutcome::snapshot_stale); // 301..304 unknown
  EXPECT_EQ(rig.sync.state(), BookState::syncing);
  EXPECT_TRUE(rig.sync.take_snapshot_request());
  EXPECT_EQ(rig.sync.buffered(), 1U);
  EXPECT_EQ(rig.snapshot(305, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.sync.sync_point().first_id, 305U);
}

TEST(binance_book_sync, should_resync_when_the_buffer_overflows) {
  Rig rig(Market::spot, BookSyncConfig{.max_buffered_diffs = 4});
  for (std::uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rig.diff(10 + i, 10 + i), SyncOutcome::buffered);
  }
  ASSERT_TRUE(rig.sync.take_snapshot_request());
  EXPECT_EQ(rig.diff(14, 14), SyncOutcome::overflow);
  EXPECT_EQ(rig.sync.counters().overflows, 1U);
  EXPECT_EQ(rig.sync.counters().resyncs, 1U);
  EXPECT_EQ(rig.sync.buffered(), 1U); // the buffer restarts at the diff that did not fit
  EXPECT_EQ(rig.tap.statuses, std::vector<FeedStatus>{FeedStatus::resync});
  EXPECT_TRUE(rig.sync.take_snapshot_request());
  // The late snapshot for the first request is now older than the buffer.
  EXPECT_EQ(rig.snapshot(11, kBids, kAsks), SyncOutcome::snapshot_stale);
  EXPECT_EQ(rig.snapshot(13, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);

  // Levels have their own capacity.
  Rig levels(Market::spot, BookSyncConfig{.max_buffered_levels = 3});
  EXPECT_EQ(levels.diff(10, 10, {{"1.00", "1"}, {"1.01", "1"}}), SyncOutcome::buffered);
  EXPECT_EQ(levels.diff(11, 11, {{"1.00", "2"}, {"1.01", "2"}}), SyncOutcome::overflow);
  EXPECT_EQ(levels.sync.buffered(), 1U);
}

TEST(binance_book_sync, should_accept_deletes_of_unknown_levels) {
  Rig rig;
  (void)rig.diff(50, 51);
  ASSERT_EQ(rig.snapshot(50, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.diff(52, 53, {{"5.00", "0"}}, {{"99.00", "0"}}), SyncOutcome::applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.tap.book.depth(Side::bid), 2U);
  EXPECT_EQ(rig.tap.book.depth(Side::ask), 2U);
  EXPECT_EQ(rig.sync.counters().gaps, 0U);
}

TEST(binance_book_sync, should_drop_repeated_diffs_while_live_without_a_gap) {
  Rig rig;
  (void)rig.diff(50, 51);
  ASSERT_EQ(rig.snapshot(50, kBids, kAsks), SyncOutcome::snapshot_applied);
  ASSERT_EQ(rig.diff(52, 60, {{"9.50", "1"}}), SyncOutcome::applied);
  EXPECT_EQ(rig.diff(52, 60, {{"9.50", "8"}}), SyncOutcome::stale); // a repeat: the book has it
  EXPECT_EQ(rig.diff(55, 58), SyncOutcome::stale);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.sync.counters().dropped_stale, 2U);
  EXPECT_EQ(rig.diff(61, 62), SyncOutcome::applied);
  Level bids[3]{};
  ASSERT_EQ(rig.tap.book.top(Side::bid, bids, 3), 3U);
  EXPECT_EQ(bids[2], (Level{950, 1})); // the repeat's quantity never reached the book
  EXPECT_EQ(rig.sync.counters().gaps, 0U);
}

TEST(binance_book_sync, should_ignore_snapshots_while_live_and_other_instruments) {
  Rig rig;
  (void)rig.diff(50, 51);
  ASSERT_EQ(rig.snapshot(50, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.snapshot(51, {{"1.00", "1"}}, {}), SyncOutcome::ignored);
  EXPECT_EQ(rig.tap.best(Side::bid), (Level{1000, 5}));
  Message other = rig.message;
  other.instrument = 4;
  EXPECT_EQ(rig.sync.on_diff(other, 0, [](const Event&) {}), SyncOutcome::ignored);
  EXPECT_EQ(rig.sync.counters().ignored, 2U);
}

TEST(binance_book_sync, should_keep_the_diffs_after_a_break_inside_the_buffer) {
  Rig rig;
  (void)rig.diff(10, 12);
  (void)rig.diff(13, 15, {{"9.00", "1"}});
  (void)rig.diff(17, 18); // 16 is missing
  (void)rig.diff(19, 20);
  EXPECT_EQ(rig.snapshot(12, kBids, kAsks), SyncOutcome::gap);
  EXPECT_EQ(rig.sync.state(), BookState::gap);
  EXPECT_EQ(rig.sync.update_id(), 15U); // the book got 13..15 before the break
  EXPECT_EQ(rig.sync.buffered(), 2U);
  EXPECT_TRUE(rig.sync.take_snapshot_request());
  EXPECT_EQ(rig.snapshot(18, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.sync.update_id(), 20U);
  EXPECT_EQ(rig.sync.sync_point().first_id, 19U);
}

TEST(binance_book_sync, should_chain_usdm_diffs_by_pu_and_bridge_at_the_snapshot_id) {
  Rig rig(Market::usdm);
  // Global ids: U jumps between this symbol's diffs; only pu links them.
  EXPECT_EQ(rig.diff(1000, 1010, {}, {}, 990), SyncOutcome::buffered);
  EXPECT_EQ(rig.diff(1050, 1060, {{"10.00", "9"}}, {}, 1010), SyncOutcome::buffered);
  EXPECT_EQ(rig.diff(1100, 1120, {{"9.99", "1"}}, {}, 1060), SyncOutcome::buffered);
  // lastUpdateId 1060: 1000..1010 is dropped (u < id), 1050..1060 bridges with u == id.
  EXPECT_EQ(rig.snapshot(1060, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
  EXPECT_EQ(rig.sync.sync_point().first_id, 1050U);
  EXPECT_EQ(rig.sync.counters().applied_diffs, 2U);
  EXPECT_EQ(rig.sync.counters().dropped_stale, 1U);
  EXPECT_EQ(rig.tap.best(Side::bid), (Level{1000, 9}));
  EXPECT_EQ(rig.diff(1200, 1201, {}, {}, 1120), SyncOutcome::applied);
  EXPECT_EQ(rig.diff(1300, 1301, {}, {}, 1250), SyncOutcome::gap); // pu != previous u
  EXPECT_EQ(rig.sync.state(), BookState::gap);
  EXPECT_TRUE(rig.sync.take_snapshot_request());

  // A USD-M snapshot older than the buffered diffs: U > lastUpdateId.
  EXPECT_EQ(rig.snapshot(1299, kBids, kAsks), SyncOutcome::snapshot_stale);
  EXPECT_EQ(rig.snapshot(1300, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
}

TEST(binance_book_sync, should_start_over_on_a_manual_resync) {
  Rig rig;
  (void)rig.diff(50, 51);
  ASSERT_EQ(rig.snapshot(50, kBids, kAsks), SyncOutcome::snapshot_applied);
  ASSERT_TRUE(rig.sync.take_snapshot_request()); // the first request, never taken until now
  rig.sync.resync(0, [&](const Event& e) { rig.tap(e); });
  EXPECT_EQ(rig.sync.state(), BookState::syncing);
  EXPECT_EQ(rig.sync.update_id(), 0U);
  EXPECT_EQ(rig.tap.statuses.back(), FeedStatus::resync);
  EXPECT_TRUE(rig.sync.take_snapshot_request());
  EXPECT_EQ(rig.sync.counters().resyncs, 1U);
  EXPECT_EQ(rig.diff(60, 61), SyncOutcome::buffered);
  EXPECT_EQ(rig.snapshot(60, kBids, kAsks), SyncOutcome::snapshot_applied);
  EXPECT_EQ(rig.sync.state(), BookState::live);
}

TEST(binance_book_sync, should_refuse_zero_capacities) {
  EXPECT_THROW(BookSync(0, BookSyncConfig{.max_buffered_diffs = 0}), std::invalid_argument);
  EXPECT_THROW(BookSync(0, BookSyncConfig{.max_buffered_levels = 0}), std::invalid_argument);
}

} // namespace
} // namespace qf::feeds::binance
