#include "qf/core/order_book.hpp"
#include "qf/feeds/coinbase/book_sync.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/ipc/fixed_point.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "capture_paths.hpp"
#include "alloc_count.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace qf::feeds::coinbase {
namespace {

namespace fs = std::filesystem;
using core::Event;
using core::EventKind;
using core::FeedStatus;
using core::Level;
using core::Side;
using qf::alloc::g_allocations;
using test::kCoinbase;

struct Product {
  const char* id;
  int price_decimals;
  int qty_decimals;
};
// Decimals read off the capture by a separate script (maximum significant decimals).
constexpr Product kProducts[] = {
    {"BAND-BTC", 8, 2}, {"BAND-GBP", 4, 2}, {"CRV-EUR", 4, 2}, {"DASH-BTC", 8, 3}, {"NMR-EUR", 4, 3},
    {"NU-GBP", 4, 6},   {"SKL-BTC", 8, 1},  {"SKL-GBP", 4, 1}, {"SKL-USD", 4, 1},  {"YFI-BTC", 5, 6},
};

std::int64_t fixed(const std::string& text, int decimals) {
  std::int64_t v = 0;
  if (ipc::parse_fixed(text, decimals, v) != ipc::DecimalError::ok) {
    throw std::runtime_error("not a decimal: " + text);
  }
  return v;
}

// The reference book: two std::maps, fed from the JSON text by nlohmann::json (not our parser).
struct ReferenceBook {
  bool live = false;
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;
  std::uint64_t deletes = 0;

  void set(bool bid, std::int64_t price, std::int64_t qty) {
    if (qty == 0) {
      ++deletes; // of a level the book holds or not (this capture has none of the latter)
      (void)(bid ? bids.erase(price) : asks.erase(price));
    } else if (bid) {
      bids[price] = qty;
    } else {
      asks[price] = qty;
    }
  }
};

struct Fixture {
  Fixture() : sync(std::size(kProducts)), buffer(parser.config().max_message_bytes) {
    for (std::size_t i = 0; i < std::size(kProducts); ++i) {
      parser.add_instrument(kProducts[i].id, static_cast<core::InstrumentId>(i), kProducts[i].price_decimals,
                            kProducts[i].qty_decimals);
    }
  }
  // Parses and syncs one frame; returns the events it produced.
  std::vector<Event> feed(std::string_view json, SyncOutcome* outcome = nullptr) {
    std::vector<Event> out;
    if (!buffer.assign(json)) {
      ADD_FAILURE() << "too large";
      return out;
    }
    const ParseResult r = parser.parse(buffer, message);
    EXPECT_EQ(r, ParseResult::ok) << to_string(r) << ": " << json;
    const SyncOutcome o = sync.on_message(message, 0, [&](const Event& e) { out.push_back(e); });
    if (outcome != nullptr) {
      *outcome = o;
    }
    return out;
  }

  Parser parser;
  BookSync sync;
  PaddedBuffer buffer;
  Message message;
};

std::size_t count_status(const std::vector<Event>& events, FeedStatus status) {
  std::size_t n = 0;
  for (const Event& e : events) {
    n += e.kind == EventKind::status && e.status == status ? 1U : 0U;
  }
  return n;
}

TEST(coinbase_sync_capture, should_build_every_book_like_a_std_map_reference_and_never_end_crossed) {
  if (!fs::is_regular_file(kCoinbase)) {
    FAIL() << "no capture at " << kCoinbase << ": ../shared/captures must sit beside the repository";
  }
  constexpr std::size_t kN = std::size(kProducts);
  Fixture f;
  core::BookConfig wide;
  wide.cold_capacity = 1U << 15; // a full snapshot's far levels all fit: nothing dropped
  std::vector<core::OrderBook> books(kN, core::OrderBook(wide));
  std::vector<ReferenceBook> reference(kN);
  std::size_t frames = 0;
  std::size_t compared = 0;
  std::size_t l2updates = 0;
  const auto index_of = [&](const std::string& product) {
    for (std::size_t i = 0; i < kN; ++i) {
      if (product == kProducts[i].id) {
        return i;
      }
    }
    throw std::runtime_error("unknown product " + product);
  };

  CaptureReader reader(kCoinbase.string());
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind != CaptureRecord::Kind::ws_frame) {
      continue;
    }
    ++frames;
    // Ours: parser -> BookSync -> events -> OrderBook (as the engine applies them).
    for (const Event& e : f.feed(r.text)) {
      core::OrderBook& book = books.at(e.instrument);
      if (e.kind == EventKind::snapshot_begin) {
        book.clear();
      } else if (e.kind == EventKind::book_level) {
        ASSERT_EQ(book.set(e.side, e.level.price, e.level.qty), core::BookResult::ok);
      }
    }
    // Reference, from the JSON text.
    const nlohmann::json j = nlohmann::json::parse(r.text);
    const std::string type = j.at("type");
    if (type != "snapshot" && type != "l2update") {
      continue;
    }
    const std::size_t i = index_of(j.at("product_id"));
    const int pd = kProducts[i].price_decimals;
    const int qd = kProducts[i].qty_decimals;
    ReferenceBook& ref = reference[i];
    if (type == "snapshot") {
      ref.live = true;
      ref.bids.clear();
      ref.asks.clear();
      for (const auto& level : j.at("bids")) {
        ref.set(true, fixed(level.at(0), pd), fixed(level.at(1), qd));
      }
      for (const auto& level : j.at("asks")) {
        ref.set(false, fixed(level.at(0), pd), fixed(level.at(1), qd));
      }
    } else if (ref.live) {
      ++l2updates;
      for (const auto& change : j.at("changes")) {
        ref.set(change.at(0) == "buy", fixed(change.at(1), pd), fixed(change.at(2), qd));
      }
    }
    // After every book message: the touched product's top of book agrees.
    Level bid{};
    Level ask{};
    const bool has_bid = books[i].best(Side::bid, bid);
    const bool has_ask = books[i].best(Side::ask, ask);
    ASSERT_EQ(has_bid, !ref.bids.empty()) << "frame " << frames;
    ASSERT_EQ(has_ask, !ref.asks.empty()) << "frame " << frames;
    if (has_bid) {
      ASSERT_EQ(bid, (Level{ref.bids.begin()->first, ref.bids.begin()->second})) << "frame " << frames;
    }
    if (has_ask) {
      ASSERT_EQ(ask, (Level{ref.asks.begin()->first, ref.asks.begin()->second})) << "frame " << frames;
    }
    ++compared;
  }
  EXPECT_EQ(frames, 9'946U);
  EXPECT_EQ(compared, 10U + 9'719U);
  EXPECT_EQ(l2updates, 9'719U); // every snapshot came before its product's first l2update
  EXPECT_EQ(f.parser.counters().errors, 0U);

  std::uint64_t deletes = 0;
  for (std::size_t i = 0; i < kN; ++i) {
    const auto id = static_cast<core::InstrumentId>(i);
    EXPECT_EQ(f.sync.state(id), BookState::live) << kProducts[i].id;
    EXPECT_EQ(f.sync.counters(id).dropped_not_live, 0U);
    EXPECT_EQ(f.sync.counters(id).snapshots_applied, 1U);
    EXPECT_FALSE(books[i].crossed()) << kProducts[i].id;
    EXPECT_EQ(books[i].dropped_levels(), 0U);
    // Whole books, level by level.
    const ReferenceBook& ref = reference[i];
    ASSERT_EQ(books[i].depth(Side::bid), ref.bids.size()) << kProducts[i].id;
    ASSERT_EQ(books[i].depth(Side::ask), ref.asks.size()) << kProducts[i].id;
    std::vector<Level> levels(ref.bids.size() + ref.asks.size());
    ASSERT_EQ(books[i].top(Side::bid, levels.data(), ref.bids.size()), ref.bids.size());
    std::size_t k = 0;
    for (const auto& [price, qty] : ref.bids) {
      EXPECT_EQ(levels[k++], (Level{price, qty})) << kProducts[i].id;
    }
    ASSERT_EQ(books[i].top(Side::ask, levels.data(), ref.asks.size()), ref.asks.size());
    k = 0;
    for (const auto& [price, qty] : ref.asks) {
      EXPECT_EQ(levels[k++], (Level{price, qty})) << kProducts[i].id;
    }
    EXPECT_LT(ref.bids.begin()->first, ref.asks.begin()->first) << kProducts[i].id;
    deletes += ref.deletes;
  }
  EXPECT_GT(deletes, 1'000U); // the capture exercises deletes (unknown ones: the synthetic test below)
}

// ---- the sync rules on real-format messages ----

constexpr std::string_view kSnapshot =
    R"({"type":"snapshot","product_id":"SKL-USD","bids":[["0.7901","450.0"],["0.7900","10"]],"asks":[["0.7910","450.0"]]})";

TEST(coinbase_book_sync, should_drop_updates_until_the_snapshot_then_go_live) {
  Fixture f;
  constexpr core::InstrumentId kSkl = 8; // SKL-USD
  SyncOutcome o{};
  EXPECT_TRUE(f.feed(R"({"type":"l2update","product_id":"SKL-USD","changes":[["buy","0.7885","5.0"]],)"
                     R"("time":"2021-04-17T16:43:37.077621Z"})",
                     &o)
                  .empty());
  EXPECT_EQ(o, SyncOutcome::not_live);
  EXPECT_EQ(f.sync.state(kSkl), BookState::syncing);
  EXPECT_EQ(f.sync.counters(kSkl).dropped_not_live, 1U);

  const auto ev = f.feed(kSnapshot, &o);
  EXPECT_EQ(o, SyncOutcome::snapshot_applied);
  ASSERT_EQ(ev.size(), 1U + 3U + 1U + 1U);
  EXPECT_EQ(ev[0].kind, EventKind::snapshot_begin);
  EXPECT_EQ(ev[1].kind, EventKind::book_level);
  EXPECT_EQ(ev[1].level.price, 7901);
  EXPECT_EQ(ev[1].level.qty, 4500);
  EXPECT_EQ(ev[3].side, Side::ask);
  EXPECT_EQ(ev[4].kind, EventKind::snapshot_end);
  EXPECT_EQ(ev[5].kind, EventKind::status);
  EXPECT_EQ(ev[5].status, FeedStatus::book_live);
  EXPECT_EQ(ev[5].instrument, kSkl);
  EXPECT_EQ(f.sync.state(kSkl), BookState::live);
  EXPECT_EQ(f.sync.state(0), BookState::syncing); // other products wait for their own snapshot

  const auto upd = f.feed(R"({"type":"l2update","product_id":"SKL-USD","changes":[["buy","0.7885","5.0"]],)"
                          R"("time":"2021-04-17T16:43:37.077621Z"})",
                          &o);
  EXPECT_EQ(o, SyncOutcome::applied);
  ASSERT_EQ(upd.size(), 1U);
  EXPECT_EQ(upd[0].level.price, 7885);
  EXPECT_EQ(upd[0].level.qty, 50);
  EXPECT_EQ(upd[0].level.exchange_ns, 1'618'677'817'077'621'000ULL);
}

TEST(coinbase_book_sync, should_apply_deletes_of_unknown_levels_without_an_error) {
  Fixture f;
  (void)f.feed(kSnapshot);
  SyncOutcome o{};
  const auto ev = f.feed(R"({"type":"l2update","product_id":"SKL-USD","changes":[["sell","0.9999","0"]],)"
                         R"("time":"2021-04-17T16:43:37Z"})",
                         &o);
  EXPECT_EQ(o, SyncOutcome::applied);
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].level.qty, 0);
  EXPECT_EQ(f.parser.counters().errors, 0U);
  EXPECT_EQ(f.sync.state(8), BookState::live);
}

TEST(coinbase_book_sync, should_need_a_fresh_snapshot_after_a_disconnect) {
  Fixture f;
  (void)f.feed(kSnapshot);
  ASSERT_EQ(f.sync.state(8), BookState::live);
  std::vector<Event> ev;
  f.sync.on_disconnect(0, [&](const Event& e) { ev.push_back(e); });
  ASSERT_EQ(ev.size(), std::size(kProducts));
  for (std::size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].kind, EventKind::status);
    EXPECT_EQ(ev[i].status, FeedStatus::disconnected);
    EXPECT_EQ(ev[i].instrument, i);
  }
  EXPECT_EQ(f.sync.state(8), BookState::syncing);
  EXPECT_EQ(f.sync.counters(8).disconnects, 1U);
  SyncOutcome o{};
  EXPECT_TRUE(f.feed(R"({"type":"l2update","product_id":"SKL-USD","changes":[["buy","0.7885","5.0"]]})", &o).empty());
  EXPECT_EQ(o, SyncOutcome::not_live);
  const auto again = f.feed(kSnapshot, &o);
  EXPECT_EQ(o, SyncOutcome::snapshot_applied);
  EXPECT_EQ(again.front().kind, EventKind::snapshot_begin); // the engine's book is replaced, not merged
  EXPECT_EQ(count_status(again, FeedStatus::book_live), 1U);
  EXPECT_EQ(f.sync.state(8), BookState::live);
}

TEST(coinbase_book_sync, should_report_missed_trades_when_a_heartbeat_is_ahead_of_the_matches) {
  Fixture f;
  constexpr core::InstrumentId kSkl = 8;
  SyncOutcome o{};
  // Before any match the product's trades are not tracked: no gap whatever the heartbeat says.
  EXPECT_TRUE(f.feed(R"({"type":"heartbeat","sequence":1,"last_trade_id":1568200,"product_id":"SKL-USD",)"
                     R"("time":"2021-04-17T16:43:36Z"})",
                     &o)
                  .empty());
  EXPECT_EQ(o, SyncOutcome::heartbeat_ok);
  (void)f.feed(kSnapshot);
  const auto trade = f.feed(R"({"type":"last_match","trade_id":1568268,"side":"sell","size":"450","price":"0.791",)"
                            R"("product_id":"SKL-USD","sequence":201390075,"time":"2021-04-17T16:43:37.121358Z"})",
                            &o);
  EXPECT_EQ(o, SyncOutcome::passed);
  ASSERT_EQ(trade.size(), 1U);
  EXPECT_EQ(trade[0].kind, EventKind::trade);
  EXPECT_EQ(trade[0].side, Side::bid);
  EXPECT_EQ(f.sync.last_trade_id(kSkl), 1'568'268U);
  // Caught up: no gap.
  EXPECT_TRUE(f.feed(R"({"type":"heartbeat","sequence":201390080,"last_trade_id":1568268,"product_id":"SKL-USD",)"
                     R"("time":"2021-04-17T16:43:38Z"})",
                     &o)
                  .empty());
  EXPECT_EQ(o, SyncOutcome::heartbeat_ok);
  // Three trades the matches channel never delivered.
  const auto gap = f.feed(R"({"type":"heartbeat","sequence":201390090,"last_trade_id":1568271,"product_id":"SKL-USD",)"
                          R"("time":"2021-04-17T16:43:39Z"})",
                          &o);
  EXPECT_EQ(o, SyncOutcome::trade_gap);
  ASSERT_EQ(gap.size(), 2U);
  EXPECT_EQ(gap[0].status, FeedStatus::gap);
  EXPECT_EQ(gap[0].seq, 1'568'271U);
  EXPECT_EQ(gap[0].instrument, kSkl);
  EXPECT_EQ(gap[1].status, FeedStatus::book_live); // the book itself is still right
  EXPECT_EQ(f.sync.counters(kSkl).trade_gaps, 1U);
  EXPECT_EQ(f.sync.counters(kSkl).missed_trades, 3U);
  // Reported once: the same heartbeat again is no new gap.
  (void)f.feed(R"({"type":"heartbeat","sequence":201390091,"last_trade_id":1568271,"product_id":"SKL-USD",)"
               R"("time":"2021-04-17T16:43:40Z"})",
               &o);
  EXPECT_EQ(o, SyncOutcome::heartbeat_ok);
  // A match that follows on moves the mark; an older, repeated match does not move it back.
  (void)f.feed(R"({"type":"match","trade_id":1568272,"side":"buy","size":"1","price":"0.791","product_id":"SKL-USD",)"
               R"("sequence":201390095,"time":"2021-04-17T16:43:41Z"})");
  (void)f.feed(R"({"type":"match","trade_id":1568270,"side":"buy","size":"1","price":"0.791","product_id":"SKL-USD",)"
               R"("sequence":201390096,"time":"2021-04-17T16:43:41Z"})");
  EXPECT_EQ(f.sync.last_trade_id(kSkl), 1'568'272U);
  EXPECT_EQ(f.sync.counters(kSkl).trades, 3U);
}

TEST(coinbase_book_sync, should_not_report_a_gap_when_the_book_is_down_only_the_status) {
  Fixture f; // gap without a live book: no book_live after it
  (void)f.feed(R"({"type":"match","trade_id":10,"side":"buy","size":"1","price":"0.791","product_id":"SKL-USD",)"
               R"("time":"2021-04-17T16:43:41Z"})");
  const auto gap = f.feed(R"({"type":"heartbeat","sequence":5,"last_trade_id":12,"product_id":"SKL-USD",)"
                          R"("time":"2021-04-17T16:43:42Z"})");
  ASSERT_EQ(gap.size(), 1U);
  EXPECT_EQ(gap[0].status, FeedStatus::gap);
}

TEST(coinbase_book_sync, should_forget_tracked_trades_on_disconnect) {
  Fixture f;
  (void)f.feed(R"({"type":"match","trade_id":10,"side":"buy","size":"1","price":"0.791","product_id":"SKL-USD",)"
               R"("time":"2021-04-17T16:43:41Z"})");
  f.sync.on_disconnect(0, [](const Event&) {});
  SyncOutcome o{};
  (void)f.feed(R"({"type":"heartbeat","sequence":5,"last_trade_id":50,"product_id":"SKL-USD",)"
               R"("time":"2021-04-17T16:43:42Z"})",
               &o);
  EXPECT_EQ(o, SyncOutcome::heartbeat_ok); // the disconnect itself was the news
  EXPECT_EQ(f.sync.last_trade_id(8), 0U);
}

TEST(coinbase_book_sync, should_pass_tickers_as_bbo_and_ignore_other_messages) {
  Fixture f;
  SyncOutcome o{};
  const auto ev = f.feed(R"({"type":"ticker","sequence":201390075,"product_id":"SKL-USD","price":"0.791",)"
                         R"("best_bid":"0.7901","best_ask":"0.7910","side":"buy","time":"2021-04-17T16:43:37.121358Z",)"
                         R"("trade_id":1568268,"last_size":"450"})",
                         &o);
  EXPECT_EQ(o, SyncOutcome::passed);
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].kind, EventKind::bbo);
  EXPECT_EQ(ev[0].bbo.bid_price, 7901);
  EXPECT_EQ(ev[0].bbo.ask_price, 7910);
  EXPECT_TRUE(f.feed(R"({"type":"subscriptions","channels":[]})", &o).empty());
  EXPECT_EQ(o, SyncOutcome::ignored);
  Message foreign; // an instrument id beyond the sync's products
  foreign.kind = MessageKind::l2update;
  foreign.instrument = 200;
  EXPECT_EQ(f.sync.on_message(foreign, 0, [](const Event&) { ADD_FAILURE(); }), SyncOutcome::ignored);
  EXPECT_EQ(f.sync.ignored(), 2U);
}

TEST(coinbase_book_sync, should_ask_for_a_resubscribe_on_a_manual_resync) {
  Fixture f;
  (void)f.feed(kSnapshot);
  std::vector<Event> ev;
  f.sync.resync(8, 0, [&](const Event& e) { ev.push_back(e); });
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].status, FeedStatus::resync);
  EXPECT_EQ(f.sync.state(8), BookState::syncing);
  EXPECT_TRUE(f.sync.take_resubscribe_request(8));
  EXPECT_FALSE(f.sync.take_resubscribe_request(8));
  EXPECT_FALSE(f.sync.take_resubscribe_request(0));
  EXPECT_EQ(f.sync.counters(8).resyncs, 1U);
  (void)f.feed(kSnapshot);
  EXPECT_EQ(f.sync.state(8), BookState::live);
}

TEST(coinbase_book_sync, should_not_allocate_after_construction) {
  Fixture f;
  std::vector<Event> sink_store;
  sink_store.reserve(64);
  std::string update = R"({"type":"l2update","product_id":"SKL-USD","changes":[["buy","0.7885","5.0"]]})";
  ASSERT_TRUE(f.buffer.assign(kSnapshot));
  ASSERT_EQ(f.parser.parse(f.buffer, f.message), ParseResult::ok);
  const std::uint64_t before = g_allocations.load();
  const auto sink = [&](const Event& e) {
    if (sink_store.size() < 64) {
      sink_store.push_back(e);
    }
  };
  (void)f.sync.on_message(f.message, 0, sink);
  ASSERT_TRUE(f.buffer.assign(update));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(f.parser.parse(f.buffer, f.message), ParseResult::ok);
    (void)f.sync.on_message(f.message, 0, sink);
  }
  f.sync.on_disconnect(0, sink);
  EXPECT_EQ(g_allocations.load() - before, 0U);
  EXPECT_EQ(f.sync.counters(8).applied_updates, 1000U);
}

TEST(coinbase_book_sync, should_refuse_zero_or_too_many_instruments) {
  EXPECT_THROW(BookSync(0), std::invalid_argument);
  EXPECT_THROW(BookSync(70'000), std::invalid_argument);
  EXPECT_NO_THROW(BookSync(1));
}

} // namespace
} // namespace qf::feeds::coinbase
