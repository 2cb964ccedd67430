#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/capture.hpp"

#include <gtest/gtest.h>

#include "capture_paths.hpp"
#include "parse_result_printer.hpp"
#include "alloc_count.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace qf::feeds::coinbase {

void PrintTo(MessageKind k, std::ostream* os) {
  *os << to_string(k);
}

namespace {

namespace fs = std::filesystem;
using core::Event;
using core::EventKind;
using core::Side;
using qf::alloc::g_allocations;
using test::kCaptures;
using test::kCoinbase;

// The capture's 10 products with the decimals their text needs (price, size), read off the
// capture by a separate script: maximum significant decimals over every price and size.
struct Product {
  const char* id;
  int price_decimals;
  int qty_decimals;
};
constexpr Product kProducts[] = {
    {"BAND-BTC", 8, 2}, {"BAND-GBP", 4, 2}, {"CRV-EUR", 4, 2}, {"DASH-BTC", 8, 3}, {"NMR-EUR", 4, 3},
    {"NU-GBP", 4, 6},   {"SKL-BTC", 8, 1},  {"SKL-GBP", 4, 1}, {"SKL-USD", 4, 1},  {"YFI-BTC", 5, 6},
};

struct Harness {
  explicit Harness(const ParserConfig& config = {}) : parser(config), buffer(config.max_message_bytes + 1024) {}

  void register_all() {
    for (std::size_t i = 0; i < std::size(kProducts); ++i) {
      parser.add_instrument(kProducts[i].id, static_cast<core::InstrumentId>(i), kProducts[i].price_decimals,
                            kProducts[i].qty_decimals);
    }
  }
  ParseResult parse(std::string_view json) {
    if (!buffer.assign(json)) {
      ADD_FAILURE() << "payload larger than the test buffer";
    }
    return parser.parse(buffer, message);
  }
  std::vector<Event> events(std::uint64_t recv_ticks = 0) const {
    std::vector<Event> out;
    (void)emit_events(message, recv_ticks, [&](const Event& e) { out.push_back(e); });
    return out;
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
};

std::vector<std::string> frames(const fs::path& path) {
  CaptureReader reader(path.string());
  std::vector<std::string> out;
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind == CaptureRecord::Kind::ws_frame) {
      out.emplace_back(r.text);
    }
  }
  return out;
}

class coinbase_capture : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fs::is_regular_file(kCoinbase)) {
      FAIL() << "no capture at " << kCoinbase << ": ../shared/captures must sit beside the repository";
    }
  }
};

// ---- every real message ----

TEST_F(coinbase_capture, should_parse_every_message_with_the_readme_counts_and_no_error) {
  Harness h;
  h.register_all();
  const auto all = frames(kCoinbase);
  ASSERT_EQ(all.size(), 9'946U); // 9,950 lines less the `# ws` line and three `# sent` lines
  std::map<MessageKind, std::size_t> kinds;
  std::size_t last_matches = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const ParseResult r = h.parse(all[i]);
    ASSERT_EQ(r, ParseResult::ok) << "frame " << i << "\n" << all[i].substr(0, 300);
    ++kinds[h.message.kind];
    last_matches += h.message.last_match ? 1U : 0U;
  }
  // captures/README.md: snapshot 10, l2update 9,719, ticker 107, match 97, last_match 10, subscriptions 3.
  EXPECT_EQ(kinds[MessageKind::snapshot], 10U);
  EXPECT_EQ(kinds[MessageKind::l2update], 9'719U);
  EXPECT_EQ(kinds[MessageKind::ticker], 107U);
  EXPECT_EQ(kinds[MessageKind::match], 97U + 10U);
  EXPECT_EQ(last_matches, 10U);
  EXPECT_EQ(kinds[MessageKind::subscriptions], 3U);
  EXPECT_EQ(kinds.size(), 5U);
  EXPECT_EQ(h.parser.counters().errors, 0U);
  EXPECT_EQ(h.parser.counters().unknown_instrument, 0U);
  EXPECT_EQ(h.parser.counters().messages, all.size());
  EXPECT_EQ(h.parser.counters().kind(MessageKind::l2update), 9'719U);
}

TEST_F(coinbase_capture, should_infer_each_products_decimals_from_the_capture) {
  const auto decimals = infer_capture_decimals(kCoinbase.string());
  ASSERT_EQ(decimals.size(), std::size(kProducts));
  for (std::size_t i = 0; i < decimals.size(); ++i) { // both sorted by product id
    EXPECT_EQ(decimals[i].product, kProducts[i].id);
    EXPECT_EQ(decimals[i].price_decimals, kProducts[i].price_decimals) << kProducts[i].id;
    EXPECT_EQ(decimals[i].qty_decimals, kProducts[i].qty_decimals) << kProducts[i].id;
    EXPECT_GT(decimals[i].values, 0U);
  }
}

TEST_F(coinbase_capture, should_reject_the_capture_with_one_price_decimal_less_as_too_precise) {
  Harness h;
  h.parser.add_instrument("SKL-BTC", 0, 7, 1); // the capture needs 8 (0.00001306)
  std::size_t too_precise = 0;
  for (const auto& frame : frames(kCoinbase)) {
    too_precise += h.parse(frame) == ParseResult::too_precise ? 1U : 0U;
  }
  EXPECT_GT(too_precise, 0U);
  EXPECT_EQ(h.parser.counters().result(ParseResult::too_precise), too_precise);
}

TEST_F(coinbase_capture, should_drop_unregistered_products_as_counted_drops_not_errors) {
  Harness h;
  h.parser.add_instrument("SKL-USD", 0, 4, 1);
  std::size_t ok = 0;
  for (const auto& frame : frames(kCoinbase)) {
    const ParseResult r = h.parse(frame);
    ASSERT_TRUE(r == ParseResult::ok || r == ParseResult::unknown_instrument) << to_string(r);
    ok += r == ParseResult::ok ? 1U : 0U;
  }
  EXPECT_EQ(h.parser.counters().errors, 0U);
  EXPECT_GT(h.parser.counters().unknown_instrument, 0U);
  EXPECT_EQ(ok + h.parser.counters().unknown_instrument, 9'946U);
}

TEST_F(coinbase_capture, should_not_allocate_while_parsing_and_emitting_after_warm_up) {
  Harness h;
  h.register_all();
  const auto all = frames(kCoinbase);
  std::size_t events = 0;
  const auto sink = [&](const Event&) { ++events; };
  for (std::size_t i = 0; i < 200; ++i) { // warm-up
    ASSERT_EQ(h.parse(all[i]), ParseResult::ok);
    (void)emit_events(h.message, 0, sink);
  }
  const std::uint64_t before = g_allocations.load();
  for (std::size_t i = 200; i < all.size(); ++i) {
    ASSERT_EQ(h.parser.parse(PaddedView{nullptr, 0, 0}, h.message), ParseResult::insufficient_padding);
    if (!h.buffer.assign(all[i])) {
      FAIL();
    }
    ASSERT_EQ(h.parser.parse(h.buffer, h.message), ParseResult::ok);
    (void)emit_events(h.message, 0, sink);
  }
  EXPECT_EQ(g_allocations.load() - before, 0U);
  EXPECT_GT(events, 9'000U);
}

TEST(coinbase_parser, should_count_allocations_in_this_binary) { // the counter above is live
  const std::uint64_t before = g_allocations.load();
  auto* p = new std::vector<int>(10);
  delete p;
  EXPECT_GE(g_allocations.load() - before, 2U);
}

// ---- hand-picked real messages; expected values written from the JSON text ----

TEST(coinbase_parser, should_parse_a_real_l2update_ask_into_one_level_event) {
  Harness h;
  h.parser.add_instrument("SKL-BTC", 6, 8, 1);
  ASSERT_EQ(h.parse(R"({"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]],)"
                    R"("time":"2021-04-17T16:43:37.075687Z"})"),
            ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::l2update);
  EXPECT_EQ(m.instrument, 6);
  EXPECT_EQ(m.product, "SKL-BTC");
  EXPECT_EQ(m.time_ns, 1'618'677'817'075'687'000ULL); // date -u -d 2021-04-17T16:43:37Z +%s = 1618677817
  ASSERT_EQ(m.bids.size(), 0U);
  ASSERT_EQ(m.asks.size(), 1U);
  EXPECT_EQ(m.asks[0].price, 1306);
  EXPECT_EQ(m.asks[0].qty, 6605);
  const auto ev = h.events(77);
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].kind, EventKind::book_level);
  EXPECT_EQ(ev[0].side, Side::ask);
  EXPECT_EQ(ev[0].instrument, 6);
  EXPECT_EQ(ev[0].level.price, 1306);
  EXPECT_EQ(ev[0].level.qty, 6605);
  EXPECT_EQ(ev[0].level.exchange_ns, 1'618'677'817'075'687'000ULL);
  EXPECT_EQ(ev[0].recv_ticks, 77U);
  EXPECT_EQ(ev[0].seq, 0U); // level2 has no sequence
  EXPECT_EQ(ev[0].flags, core::kFlagLastInMessage);
}

TEST(coinbase_parser, should_parse_a_real_bid_delete_as_quantity_zero) {
  Harness h;
  h.parser.add_instrument("SKL-USD", 1, 4, 1);
  ASSERT_EQ(h.parse(R"({"type":"l2update","product_id":"SKL-USD","changes":[["buy","0.7885","0.0"]],)"
                    R"("time":"2021-04-17T16:43:37.077621Z"})"),
            ParseResult::ok);
  ASSERT_EQ(h.message.bids.size(), 1U);
  EXPECT_EQ(h.message.asks.size(), 0U);
  EXPECT_EQ(h.message.bids[0].price, 7885);
  EXPECT_EQ(h.message.bids[0].qty, 0);
  EXPECT_EQ(h.message.time_ns, 1'618'677'817'077'621'000ULL);
}

TEST(coinbase_parser, should_split_batched_changes_by_side_in_message_order) {
  Harness h; // level2_batch: several changes per message, same schema
  h.parser.add_instrument("BTC-USD", 0, 2, 8);
  ASSERT_EQ(h.parse(R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","50000.01","0.5"],)"
                    R"(["sell","50001.00","1.25"],["buy","49999.99","0"],["sell","50002","0.00000001"]],)"
                    R"("time":"2021-04-17T16:43:37Z"})"),
            ParseResult::ok);
  const Message& m = h.message;
  ASSERT_EQ(m.bids.size(), 2U);
  ASSERT_EQ(m.asks.size(), 2U);
  EXPECT_EQ(m.bids[0], (core::Level{5'000'001, 50'000'000}));
  EXPECT_EQ(m.bids[1], (core::Level{4'999'999, 0}));
  EXPECT_EQ(m.asks[0], (core::Level{5'000'100, 125'000'000}));
  EXPECT_EQ(m.asks[1], (core::Level{5'000'200, 1}));
  EXPECT_EQ(m.time_ns, 1'618'677'817'000'000'000ULL);
  const auto ev = h.events();
  ASSERT_EQ(ev.size(), 4U);
  EXPECT_EQ(ev[0].side, Side::bid);
  EXPECT_EQ(ev[2].side, Side::ask);
  EXPECT_EQ(ev[3].flags, core::kFlagLastInMessage);
  EXPECT_EQ(ev[2].flags, 0);
}

TEST(coinbase_parser, should_parse_a_real_ticker_into_a_bbo_and_its_last_trade) {
  Harness h;
  h.parser.add_instrument("BAND-GBP", 3, 4, 2);
  ASSERT_EQ(h.parse(R"({"type":"ticker","sequence":333938798,"product_id":"BAND-GBP","price":"14.7775",)"
                    R"("open_24h":"14.6647","volume_24h":"94381.28000000","low_24h":"14.3691","high_24h":"16.55",)"
                    R"("volume_30d":"2295579.57000000","best_bid":"14.7550","best_ask":"14.8060","side":"buy",)"
                    R"("time":"2021-04-17T16:43:30.244075Z","trade_id":881613,"last_size":"0.04"})"),
            ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::ticker);
  EXPECT_EQ(m.instrument, 3);
  EXPECT_EQ(m.sequence, 333'938'798U);
  EXPECT_TRUE(m.has_sequence);
  EXPECT_EQ(m.bid.price, 147'550);
  EXPECT_EQ(m.ask.price, 148'060);
  EXPECT_FALSE(m.has_bbo_sizes); // the 2021 ticker has no best_bid_size / best_ask_size
  EXPECT_EQ(m.bid.qty, 0);
  EXPECT_EQ(m.ask.qty, 0);
  EXPECT_TRUE(m.has_trade);
  EXPECT_EQ(m.price, 147'775);
  EXPECT_EQ(m.qty, 4);
  EXPECT_EQ(m.trade_id, 881'613U);
  EXPECT_EQ(m.taker_side, Side::bid); // a ticker's side is the taker's
  EXPECT_EQ(m.time_ns, 1'618'677'810'244'075'000ULL);
  const auto ev = h.events(5);
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].kind, EventKind::bbo);
  EXPECT_EQ(ev[0].seq, 333'938'798U);
  EXPECT_EQ(ev[0].bbo.bid_price, 147'550);
  EXPECT_EQ(ev[0].bbo.ask_price, 148'060);
  EXPECT_EQ(ev[0].flags, core::kFlagLastInMessage);
}

TEST(coinbase_parser, should_read_best_sizes_from_a_newer_ticker) {
  Harness h;
  h.parser.add_instrument("BTC-USD", 0, 2, 8);
  ASSERT_EQ(h.parse(R"({"type":"ticker","sequence":7,"product_id":"BTC-USD","price":"61837.63",)"
                    R"("best_bid":"61837.62","best_bid_size":"0.01000000","best_ask":"61837.63",)"
                    R"("best_ask_size":"1.5","side":"sell","time":"2024-08-08T23:54:15.342Z","trade_id":9,)"
                    R"("last_size":"0.02"})"),
            ParseResult::ok);
  const Message& m = h.message;
  EXPECT_TRUE(m.has_bbo_sizes);
  EXPECT_EQ(m.bid, (core::Level{6'183'762, 1'000'000}));
  EXPECT_EQ(m.ask, (core::Level{6'183'763, 150'000'000}));
  EXPECT_EQ(m.taker_side, Side::ask);
  EXPECT_EQ(m.time_ns, 1'723'161'255'342'000'000ULL); // date -u -d 2024-08-08T23:54:15Z +%s = 1723161255
  const auto ev = h.events();
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].bbo.bid_qty, 1'000'000);
  EXPECT_EQ(ev[0].bbo.ask_qty, 150'000'000);
}

TEST(coinbase_parser, should_parse_a_real_match_with_the_taker_opposite_the_maker_side) {
  Harness h;
  h.parser.add_instrument("SKL-BTC", 2, 8, 1);
  ASSERT_EQ(h.parse(R"({"type":"match","trade_id":280232,"maker_order_id":"2a0da34e-61f7-4c36-88e5-c9dd15927b16",)"
                    R"("taker_order_id":"3c82abaa-c01e-4608-be59-6a1e69742891","side":"sell","size":"985",)"
                    R"("price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,)"
                    R"("time":"2021-04-17T16:43:37.089723Z"})"),
            ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::match);
  EXPECT_FALSE(m.last_match);
  EXPECT_EQ(m.trade_id, 280'232U);
  EXPECT_EQ(m.sequence, 177'100'030U);
  EXPECT_EQ(m.price, 1305);
  EXPECT_EQ(m.qty, 9850);
  EXPECT_EQ(m.taker_side, Side::bid); // the maker sold, so the taker bought
  EXPECT_EQ(m.time_ns, 1'618'677'817'089'723'000ULL);
  const auto ev = h.events(9);
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].kind, EventKind::trade);
  EXPECT_EQ(ev[0].side, Side::bid);
  EXPECT_EQ(ev[0].seq, 280'232U);
  EXPECT_EQ(ev[0].level.price, 1305);
  EXPECT_EQ(ev[0].level.qty, 9850);
  EXPECT_EQ(ev[0].level.exchange_ns, 1'618'677'817'089'723'000ULL);
}

TEST(coinbase_parser, should_parse_a_real_last_match_as_a_flagged_match) {
  Harness h;
  h.parser.add_instrument("BAND-GBP", 0, 4, 2);
  ASSERT_EQ(h.parse(R"({"type":"last_match","trade_id":881613,"maker_order_id":"27fff20b-af29-4f45-8744-56dd1ef57dc0",)"
                    R"("taker_order_id":"1da6ce16-c8da-4732-9f71-6049f4c6aaf8","side":"sell","size":"0.04",)"
                    R"("price":"14.7775","product_id":"BAND-GBP","sequence":333938798,)"
                    R"("time":"2021-04-17T16:43:30.244075Z"})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::match);
  EXPECT_TRUE(h.message.last_match);
  EXPECT_EQ(h.message.type, "last_match");
  EXPECT_EQ(h.message.trade_id, 881'613U);
  EXPECT_EQ(h.message.price, 147'775);
  EXPECT_EQ(h.message.qty, 4);
  EXPECT_EQ(h.message.taker_side, Side::bid); // agrees with the ticker of the same trade (side "buy")
  // A maker buy: the taker sold.
  ASSERT_EQ(h.parse(R"({"type":"match","trade_id":1,"side":"buy","size":"1","price":"1","product_id":"BAND-GBP",)"
                    R"("time":"2021-04-17T16:43:30Z"})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.taker_side, Side::ask);
  EXPECT_FALSE(h.message.has_sequence);
}

TEST_F(coinbase_capture, should_parse_the_real_band_gbp_snapshot_with_every_level) {
  Harness h;
  h.parser.add_instrument("BAND-GBP", 4, 4, 2);
  std::string snapshot;
  for (const auto& frame : frames(kCoinbase)) {
    if (frame.starts_with(R"({"type":"snapshot","product_id":"BAND-GBP")")) {
      snapshot = frame;
    }
  }
  ASSERT_FALSE(snapshot.empty());
  ASSERT_EQ(h.parse(snapshot), ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::snapshot);
  EXPECT_EQ(m.time_ns, 0U); // 2021 snapshots carry no time
  // Counted in the JSON text: 152 bids, 166 asks; first bid 14.7693 x 27.51, first ask
  // 14.8024 x 12.77, last bid 0.1000 x 1863.16.
  ASSERT_EQ(m.bids.size(), 152U);
  ASSERT_EQ(m.asks.size(), 166U);
  EXPECT_EQ(m.bids[0], (core::Level{147'693, 2'751}));
  EXPECT_EQ(m.asks[0], (core::Level{148'024, 1'277}));
  EXPECT_EQ(m.bids.back(), (core::Level{1'000, 186'316}));
  const auto ev = h.events();
  ASSERT_EQ(ev.size(), 152U + 166U + 2U);
  EXPECT_EQ(ev.front().kind, EventKind::snapshot_begin);
  EXPECT_EQ(ev.back().kind, EventKind::snapshot_end);
  EXPECT_EQ(ev.back().flags, core::kFlagLastInMessage);
  EXPECT_EQ(ev[1].side, Side::bid);
  EXPECT_EQ(ev[153].side, Side::ask);
  EXPECT_EQ(ev[153].level.price, 148'024);
}

TEST(coinbase_parser, should_parse_heartbeats_subscriptions_and_errors) {
  Harness h;
  h.parser.add_instrument("BTC-USD", 0, 2, 8);
  ASSERT_EQ(h.parse(R"({"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD",)"
                    R"("time":"2014-11-07T08:19:28.464459Z"})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::heartbeat);
  EXPECT_EQ(h.message.sequence, 90U);
  EXPECT_EQ(h.message.last_trade_id, 20U);
  EXPECT_EQ(h.message.time_ns, 1'415'348'368'464'459'000ULL); // date -u -d 2014-11-07T08:19:28Z +%s
  EXPECT_TRUE(h.events().empty());

  ASSERT_EQ(h.parse(R"({"type":"subscriptions","channels":[{"name":"level2","product_ids":["BAND-GBP","BAND-BTC"]}]})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::subscriptions);

  EXPECT_TRUE(h.parser.last_error().empty());
  // The real error of an unauthenticated level2 subscribe (PROTOCOLS.md 3.1), escapes included.
  ASSERT_EQ(h.parse(R"({"type":"error","message":"Failed to subscribe","reason":"level2, level3, and full )"
                    R"(channels now require authentication. \"quoted\""})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::error);
  EXPECT_EQ(h.message.error_message, "Failed to subscribe");
  EXPECT_EQ(h.message.error_reason, R"(level2, level3, and full channels now require authentication. "quoted")");
  EXPECT_EQ(h.parser.counters().venue_errors, 1U);
  EXPECT_EQ(h.parser.counters().errors, 0U); // the venue's error is a message, not a parse error
  ASSERT_EQ(h.parse(R"({"type":"heartbeat","sequence":91,"last_trade_id":20,"product_id":"BTC-USD",)"
                    R"("time":"2014-11-07T08:19:29Z"})"),
            ParseResult::ok);
  EXPECT_EQ(h.parser.last_error(),
            R"(Failed to subscribe: level2, level3, and full channels now require authentication. "quoted")");
}

// ---- timestamps ----

TEST(coinbase_parser, should_convert_times_to_unix_nanoseconds_exactly) {
  std::uint64_t ns = 0;
  // Seconds from `date -u -d ... +%s`.
  ASSERT_TRUE(parse_time("2021-04-17T16:43:37.075687Z", ns));
  EXPECT_EQ(ns, 1'618'677'817'075'687'000ULL);
  ASSERT_TRUE(parse_time("1970-01-01T00:00:00Z", ns));
  EXPECT_EQ(ns, 0U);
  ASSERT_TRUE(parse_time("2000-02-29T23:59:59.999999999Z", ns));
  EXPECT_EQ(ns, 951'868'799'999'999'999ULL);
  ASSERT_TRUE(parse_time("2021-04-17T16:43:37.1Z", ns));
  EXPECT_EQ(ns, 1'618'677'817'100'000'000ULL);
  ASSERT_TRUE(parse_time("2024-12-31T23:59:59.000001Z", ns));
  EXPECT_EQ(ns, 1'735'689'599'000'001'000ULL);
  ns = 42;
  for (const char* bad :
       {"", "2021-04-17T16:43:37", "2021-04-17 16:43:37Z", "2021-04-17T16:43:37.Z", "2021-04-17T16:43:37.1234567890Z",
        "2021-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2021-13-01T00:00:00Z", "2021-00-01T00:00:00Z",
        "2021-04-00T00:00:00Z", "2021-04-31T00:00:00Z", "2021-04-17T24:00:00Z", "2021-04-17T16:60:00Z",
        "2021-04-17T16:43:60Z", "1969-12-31T23:59:59Z", "2021-04-17T16:43:37+00:00", "2021-O4-17T16:43:37Z",
        "2021-04-17T16:43:37.07568xZ", "2021-04-17T16:43:37.075687z"}) {
    EXPECT_FALSE(parse_time(bad, ns)) << bad;
  }
  EXPECT_EQ(ns, 42U);
}

// ---- errors are counted, never a crash ----

TEST(coinbase_parser, should_count_bad_messages_and_keep_parsing) {
  Harness h;
  h.parser.add_instrument("BTC-USD", 0, 2, 8);
  const std::string good = R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.00","2"]],)"
                           R"("time":"2021-04-17T16:43:37Z"})";
  const struct {
    const char* json;
    ParseResult expected;
  } cases[] = {
      {"", ParseResult::malformed_json},
      {"nonsense", ParseResult::malformed_json},
      {R"({"type":"l2update")", ParseResult::malformed_json},
      {R"({"type":"ticker"} {})", ParseResult::malformed_json},
      {"[1,2]", ParseResult::unknown_message},
      {"42", ParseResult::unknown_message},
      {R"({})", ParseResult::unknown_message},
      {R"({"type":"received","product_id":"BTC-USD"})", ParseResult::unknown_message},
      {R"({"type":7})", ParseResult::wrong_type},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":"x"})", ParseResult::wrong_type},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.00"]]})", ParseResult::wrong_type},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy",1.0,"2"]]})", ParseResult::wrong_type},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["hold","1.00","2"]]})", ParseResult::bad_side},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.001","2"]]})", ParseResult::too_precise},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1,00","2"]]})", ParseResult::bad_decimal},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.00","99999999999999999999"]]})",
       ParseResult::bad_decimal},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.00","2"]],"time":"yesterday"})",
       ParseResult::bad_time},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.00","2"]],"time":5})", ParseResult::wrong_type},
      {R"({"type":"l2update","product_id":"BTC-USD"})", ParseResult::missing_field},
      {R"({"type":"l2update","changes":[]})", ParseResult::missing_field},
      {R"({"type":"ticker","product_id":"BTC-USD","sequence":"1","best_bid":"1","best_ask":"2"})",
       ParseResult::wrong_type},
      {R"({"type":"ticker","product_id":"BTC-USD","sequence":-1,"best_bid":"1","best_ask":"2"})",
       ParseResult::bad_number},
      {R"({"type":"ticker","product_id":"BTC-USD","sequence":1.5,"best_bid":"1","best_ask":"2"})",
       ParseResult::bad_number},
      {R"({"type":"ticker","product_id":"BTC-USD","sequence":1,"best_bid":"1"})", ParseResult::missing_field},
      {R"({"type":"match","product_id":"BTC-USD","trade_id":1,"side":"sell","size":"1","price":"1"})",
       ParseResult::missing_field},
      {R"({"type":"match","product_id":"BTC-USD","trade_id":1,"side":"up","size":"1","price":"1",)"
       R"("time":"2021-04-17T16:43:37Z"})",
       ParseResult::bad_side},
      {R"({"type":"heartbeat","product_id":"BTC-USD","sequence":1,"last_trade_id":18446744073709551616,)"
       R"("time":"2021-04-17T16:43:37Z"})",
       ParseResult::bad_number},
      {R"({"type":"snapshot","product_id":"BTC-USD","bids":[["1.00","1"]],"asks":{}})", ParseResult::wrong_type},
      {R"({"type":"snapshot","product_id":"BTC-USD","bids":[["1.00","1"]]})", ParseResult::missing_field},
      {R"({"type":"error"})", ParseResult::missing_field},
      {R"({"type":"error","message":12})", ParseResult::wrong_type},
      {R"({"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.00","2"]],"time":"2021-04-17T16:43:37Z"}x)",
       ParseResult::malformed_json},
  };
  std::size_t errors = 0;
  for (const auto& c : cases) {
    EXPECT_EQ(h.parse(c.json), c.expected) << c.json;
    errors += is_error(c.expected) ? 1U : 0U;
    ASSERT_EQ(h.parse(good), ParseResult::ok) << "after " << c.json; // the parser keeps working
  }
  EXPECT_EQ(h.parser.counters().errors, errors);
  EXPECT_EQ(h.parser.counters().messages, 2 * std::size(cases));
  EXPECT_EQ(h.parser.counters().result(ParseResult::ok), std::size(cases));
  EXPECT_EQ(h.parser.counters().result(ParseResult::bad_side), 2U);
}

TEST(coinbase_parser, should_refuse_oversized_messages_and_too_many_levels) {
  ParserConfig config;
  config.max_message_bytes = 256;
  config.max_levels = 2;
  Harness h(config);
  h.parser.add_instrument("BTC-USD", 0, 2, 8);
  EXPECT_EQ(h.parse(std::string(300, ' ')), ParseResult::oversized);
  EXPECT_EQ(h.parse(R"({"type":"snapshot","product_id":"BTC-USD","bids":[["1","1"],["2","1"],["3","1"]],"asks":[]})"),
            ParseResult::too_many_levels);
  EXPECT_EQ(h.parse(R"({"type":"snapshot","product_id":"BTC-USD","bids":[["1","1"],["2","1"]],"asks":[]})"),
            ParseResult::ok);
  EXPECT_EQ(h.parser.parse(PaddedView{h.buffer.view().data, 10, 20}, h.message), ParseResult::insufficient_padding);
}

TEST(coinbase_parser, should_refuse_bad_registrations) {
  Parser p;
  p.add_instrument("BTC-USD", 0, 2, 8);
  EXPECT_EQ(p.find("BTC-USD"), 0);
  EXPECT_EQ(p.find("btc-usd"), kNoInstrument); // Coinbase spells product ids upper case
  EXPECT_THROW(p.add_instrument("BTC-USD", 1, 2, 8), std::invalid_argument);
  EXPECT_THROW(p.add_instrument("", 1, 2, 8), std::invalid_argument);
  EXPECT_THROW(p.add_instrument(std::string(32, 'X'), 1, 2, 8), std::invalid_argument);
  EXPECT_THROW(p.add_instrument("ETH-USD", 1, 19, 8), std::invalid_argument);
  EXPECT_THROW(p.add_instrument("ETH-USD", kNoInstrument, 2, 8), std::invalid_argument);
  ParserConfig one;
  one.max_instruments = 1;
  Parser q(one);
  q.add_instrument("A-B", 0, 0, 0);
  EXPECT_THROW(q.add_instrument("C-D", 1, 0, 0), std::invalid_argument);
  EXPECT_THROW(Parser(ParserConfig{0, 1, 1}), std::invalid_argument);
}

} // namespace
} // namespace qf::feeds::coinbase
