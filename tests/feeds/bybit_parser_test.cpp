// Bybit v5: the parser over the real capture (every frame parses with no error; its one snapshot
// and one delta chain), the exact values of real messages (PROTOCOLS.md 5), BookSync's rules (u
// continuity, seq regressions, a snapshot mid-stream and u == 1 replacing the book, the topic's
// depth, merged linear ticker deltas) and bad input of every kind.
#include "qf/feeds/bybit/book_sync.hpp"
#include "qf/feeds/bybit/parser.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/padded_buffer.hpp"

#include <gtest/gtest.h>

#include "capture_paths.hpp"
#include "parse_result_printer.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace qf::feeds::bybit {
namespace {

namespace fs = std::filesystem;
using core::Event;
using core::EventKind;
using core::FeedStatus;

const fs::path kBybit = test::kCaptures / "bybit/btcusdt_orderbook50_20241108.capture";

struct Harness {
  Harness() : buffer(parser.config().max_message_bytes), sync(2) {
    parser.add_instrument("BTCUSDT", 0, 2, 6); // the capture's decimals
    parser.add_instrument("XRPUSDT", 1, 4, 0);
  }
  ParseResult parse(std::string_view json) {
    EXPECT_TRUE(buffer.assign(json));
    return parser.parse(buffer, message);
  }
  SyncOutcome feed(std::string_view json) {
    EXPECT_EQ(parse(json), ParseResult::ok) << json;
    return sync.on_message(message, 1, [this](const Event& e) { events.push_back(e); });
  }
  [[nodiscard]] std::size_t count(FeedStatus s) const {
    std::size_t n = 0;
    for (const Event& e : events) {
      n += e.kind == EventKind::status && e.status == s ? 1 : 0;
    }
    return n;
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
  BookSync sync;
  std::vector<Event> events;
};

std::string delta(std::uint64_t u, std::uint64_t seq, std::string_view bids = R"([["1.9531","6198"]])") {
  return R"({"topic":"orderbook.50.XRPUSDT","type":"delta","ts":1733011200693,"data":{"s":"XRPUSDT","b":)" +
         std::string(bids) + R"(,"a":[["1.9535","8415"]],"u":)" + std::to_string(u) + ",\"seq\":" +
         std::to_string(seq) + "},\"cts\":1733011200691}";
}

std::string snapshot(std::uint64_t u, std::uint64_t seq) {
  return R"({"topic":"orderbook.50.XRPUSDT","ts":1733011200600,"type":"snapshot","data":{"s":"XRPUSDT","b":[["1.9530","100"],["1.9529","5"]],"a":[["1.9536","7"]],"u":)" +
         std::to_string(u) + ",\"seq\":" + std::to_string(seq) + "},\"cts\":1733011200598}";
}

TEST(bybit_capture, should_parse_every_frame_and_chain_its_delta_onto_its_snapshot) {
  ASSERT_TRUE(fs::is_regular_file(kBybit)) << "no capture at " << kBybit;
  const std::vector<std::string> all = test::frames(kBybit);
  ASSERT_EQ(all.size(), 2U) << "one snapshot and one delta (the captures README)";
  Harness h;
  for (const std::string& f : all) {
    ASSERT_NE(h.feed(f), SyncOutcome::sequence_gap);
  }
  EXPECT_EQ(h.parser.counters().errors, 0U);
  EXPECT_EQ(h.parser.counters().kind(MessageKind::book_snapshot), 1U);
  EXPECT_EQ(h.parser.counters().kind(MessageKind::book_update), 1U);
  const BookSyncCounters& c = h.sync.counters(0);
  EXPECT_EQ(c.snapshots_applied, 1U);
  EXPECT_EQ(c.applied_updates, 1U);
  EXPECT_EQ(c.sequence_gaps, 0U);
  // The delta's values, read from the capture's text: bid 75848.62 0.014895 inserted below the
  // snapshot's best 75848.74, ask 75848.89 0.088149.
  EXPECT_EQ(h.message.update_id, 2876701U);
  EXPECT_EQ(h.message.seq, 47474967823U);
  EXPECT_EQ(h.message.time_ns, 1731035685345'000'000U);
  EXPECT_EQ(h.message.match_ns, 1731035685342'000'000U);
  ASSERT_EQ(h.message.bids.size(), 2U);
  EXPECT_EQ(h.message.bids[0].price, 7584862);
  EXPECT_EQ(h.message.bids[0].qty, 14895);
  EXPECT_EQ(h.message.bids[1].qty, 0);
  ASSERT_EQ(h.message.asks.size(), 5U);
  EXPECT_EQ(h.message.asks[0].price, 7584889);
  EXPECT_EQ(h.sync.bids(0).front().price, 7584874);
  EXPECT_EQ(h.sync.bids(0).front().qty, 67669);
  EXPECT_LE(h.sync.bids(0).size(), 50U);
  EXPECT_LE(h.sync.asks(0).size(), 50U);
  EXPECT_LT(h.sync.bids(0).front().price, h.sync.asks(0).front().price);
}

TEST(bybit_book_sync, should_chain_u_and_resync_on_a_break_until_a_fresh_snapshot) {
  Harness h;
  EXPECT_EQ(h.feed(delta(20254870, 130020239261)), SyncOutcome::not_live);
  EXPECT_EQ(h.feed(snapshot(20254869, 130020239200)), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.feed(delta(20254870, 130020239261)), SyncOutcome::applied);
  EXPECT_EQ(h.feed(delta(20254871, 130020239262)), SyncOutcome::applied);
  EXPECT_EQ(h.feed(delta(20254873, 130020239263)), SyncOutcome::sequence_gap) << "20254872 is missing";
  EXPECT_EQ(h.count(FeedStatus::gap), 1U);
  EXPECT_EQ(h.sync.state(1), BookState::syncing);
  EXPECT_TRUE(h.sync.take_resubscribe_request(1));
  EXPECT_FALSE(h.sync.take_resubscribe_request(1));
  EXPECT_EQ(h.feed(delta(20254874, 130020239264)), SyncOutcome::not_live);
  EXPECT_EQ(h.feed(snapshot(20254900, 130020239300)), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.feed(delta(20254901, 130020239301)), SyncOutcome::applied);
  const BookSyncCounters& c = h.sync.counters(1);
  EXPECT_EQ(c.sequence_gaps, 1U);
  EXPECT_EQ(c.dropped_not_live, 2U);
  EXPECT_EQ(c.snapshots_applied, 2U);
}

TEST(bybit_book_sync, should_count_a_seq_regression_as_a_gap) {
  Harness h;
  EXPECT_EQ(h.feed(snapshot(10, 500)), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.feed(delta(11, 499)), SyncOutcome::sequence_gap);
  EXPECT_EQ(h.sync.counters(1).seq_regressions, 1U);
  EXPECT_EQ(h.sync.counters(1).sequence_gaps, 0U);
}

TEST(bybit_book_sync, should_replace_the_book_on_a_snapshot_mid_stream_and_on_u_1) {
  Harness h;
  EXPECT_EQ(h.feed(snapshot(10, 500)), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.feed(delta(11, 501, R"([["1.9000","1"]])")), SyncOutcome::applied);
  EXPECT_EQ(h.sync.bids(1).size(), 3U);
  EXPECT_EQ(h.feed(snapshot(50, 600)), SyncOutcome::snapshot_applied) << "no gap: a snapshot resets";
  EXPECT_EQ(h.sync.bids(1).size(), 2U) << "1.9000 went with the old book";
  EXPECT_EQ(h.feed(delta(1, 1, R"([["1.8000","2"]])")), SyncOutcome::snapshot_applied) << "u 1: the service restarted";
  EXPECT_EQ(h.sync.bids(1).size(), 1U);
  EXPECT_EQ(h.sync.asks(1).size(), 1U);
  EXPECT_EQ(h.sync.counters(1).restarts, 1U);
  EXPECT_EQ(h.feed(delta(2, 2)), SyncOutcome::applied);
  EXPECT_EQ(h.count(FeedStatus::gap), 0U);
}

TEST(bybit_book_sync, should_keep_the_topics_depth_and_send_the_levels_pushed_out_as_deletes) {
  Harness h;
  EXPECT_EQ(h.feed(R"({"topic":"orderbook.1.XRPUSDT","ts":1,"type":"snapshot","data":{"s":"XRPUSDT","b":[["1.9530","100"]],"a":[["1.9536","7"]],"u":5,"seq":9},"cts":1})"),
            SyncOutcome::snapshot_applied);
  h.events.clear();
  EXPECT_EQ(h.feed(R"({"topic":"orderbook.1.XRPUSDT","ts":2,"type":"delta","data":{"s":"XRPUSDT","b":[["1.9531","3"]],"a":[],"u":6,"seq":10},"cts":2})"),
            SyncOutcome::applied);
  ASSERT_EQ(h.sync.bids(1).size(), 1U);
  EXPECT_EQ(h.sync.bids(1).front().price, 19531);
  ASSERT_EQ(h.events.size(), 2U);
  EXPECT_EQ(h.events[1].level.price, 19530);
  EXPECT_EQ(h.events[1].level.qty, 0) << "the level pushed below depth 1 leaves the core's book too";
  EXPECT_EQ(h.sync.counters(1).truncated_levels, 1U);
}

TEST(bybit_book_sync, should_merge_linear_ticker_deltas_and_pass_trades) {
  Harness h;
  EXPECT_EQ(h.feed(R"({"topic":"tickers.XRPUSDT","type":"snapshot","data":{"symbol":"XRPUSDT","lastPrice":"1.9533","bid1Price":"1.9531","bid1Size":"6198","ask1Price":"1.9535","ask1Size":"8415"},"cs":1,"ts":1})"),
            SyncOutcome::passed);
  h.events.clear();
  EXPECT_EQ(h.feed(R"({"topic":"tickers.XRPUSDT","type":"delta","data":{"symbol":"XRPUSDT","bid1Size":"10"},"cs":2,"ts":2})"),
            SyncOutcome::passed);
  ASSERT_EQ(h.events.size(), 1U);
  EXPECT_EQ(h.events[0].kind, EventKind::bbo);
  EXPECT_EQ(h.events[0].bbo.bid_price, 19531);
  EXPECT_EQ(h.events[0].bbo.bid_qty, 10);
  EXPECT_EQ(h.events[0].bbo.ask_qty, 8415);
  EXPECT_EQ(h.feed(R"({"topic":"tickers.XRPUSDT","type":"delta","data":{"symbol":"XRPUSDT","lastPrice":"1.9534"},"cs":3,"ts":3})"),
            SyncOutcome::ignored) << "nothing of the best levels changed";
  // Spot tickers have no bid/ask: nothing to publish.
  EXPECT_EQ(h.feed(R"({"topic":"tickers.BTCUSDT","ts":1,"type":"snapshot","cs":1,"data":{"symbol":"BTCUSDT","lastPrice":"63707.30"}})"),
            SyncOutcome::ignored);
  h.events.clear();
  // The doc's example, with a uuid id: the trade's seq identifies it; S is the taker's side.
  EXPECT_EQ(h.feed(R"({"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617},{"T":1672304486866,"s":"BTCUSDT","S":"Sell","v":"0.002","p":"16578.49","i":"4711","BT":false,"seq":1783284618}]})"),
            SyncOutcome::passed);
  ASSERT_EQ(h.events.size(), 2U);
  EXPECT_EQ(h.events[0].kind, EventKind::trade);
  EXPECT_EQ(h.events[0].seq, 1783284617U);
  EXPECT_EQ(h.events[0].side, core::Side::bid);
  EXPECT_EQ(h.events[0].level.price, 1657850);
  EXPECT_EQ(h.events[0].level.qty, 1000);
  EXPECT_EQ(h.events[1].seq, 4711U);
  EXPECT_EQ(h.events[1].side, core::Side::ask);
  EXPECT_EQ(h.sync.counters(0).trades, 2U);
}

TEST(bybit_parser, should_read_op_answers_and_count_refusals) {
  Harness h;
  ASSERT_EQ(h.parse(R"({"success":true,"ret_msg":"subscribe","conn_id":"c1","req_id":"1","op":"subscribe"})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::op_answer);
  EXPECT_EQ(h.message.op, "subscribe");
  EXPECT_TRUE(h.message.success);
  ASSERT_EQ(h.parse(R"({"success":true,"ret_msg":"pong","conn_id":"c1","op":"ping"})"), ParseResult::ok);
  EXPECT_EQ(h.message.op, "ping");
  ASSERT_EQ(h.parse(R"({"success":false,"ret_msg":"error:handler not found","conn_id":"c1","op":"subscribe"})"), ParseResult::ok);
  EXPECT_FALSE(h.message.success);
  EXPECT_EQ(h.parser.counters().refused, 1U);
}

TEST(bybit_parser, should_refuse_bad_input_with_the_right_result) {
  Harness h;
  EXPECT_EQ(h.parse("{\"topic\":"), ParseResult::malformed_json);
  EXPECT_EQ(h.parse("[1,2]"), ParseResult::unknown_message);
  EXPECT_EQ(h.parse(R"({"topic":"kline.1.BTCUSDT","ts":1,"type":"snapshot","data":[]})"), ParseResult::unknown_message);
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.x.BTCUSDT","ts":1,"type":"snapshot","data":{}})"), ParseResult::unknown_message);
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.DOGEUSDT","ts":1,"type":"snapshot","data":{"s":"DOGEUSDT","b":[],"a":[],"u":1,"seq":1}})"),
            ParseResult::unknown_instrument);
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.BTCUSDT","ts":1,"type":"snapshot","data":{"s":"XRPUSDT","b":[],"a":[],"u":1,"seq":1}})"),
            ParseResult::unknown_message) << "data for another symbol than the topic's";
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.BTCUSDT","ts":1,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[],"seq":1}})"),
            ParseResult::missing_field) << "no u";
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.BTCUSDT","ts":1,"type":"delta","data":{"s":"BTCUSDT","b":[["1.5","x"]],"a":[],"u":2,"seq":1}})"),
            ParseResult::bad_decimal);
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.BTCUSDT","ts":1,"type":"delta","data":{"s":"BTCUSDT","b":[["1.555","1"]],"a":[],"u":2,"seq":1}})"),
            ParseResult::too_precise);
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.BTCUSDT","ts":"1","type":"delta","data":{"s":"BTCUSDT","b":[],"a":[],"u":2,"seq":1}})"),
            ParseResult::wrong_type);
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.BTCUSDT","ts":1,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[],"u":-2,"seq":1}})"),
            ParseResult::wrong_type);
  EXPECT_EQ(h.parse(R"({"topic":"orderbook.50.BTCUSDT","ts":1,"type":"refresh","data":{"s":"BTCUSDT","b":[],"a":[],"u":2,"seq":1}})"),
            ParseResult::unknown_message);
  EXPECT_EQ(h.parse(R"({"topic":"publicTrade.BTCUSDT","ts":1,"type":"snapshot","data":{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"1"}})"),
            ParseResult::wrong_type) << "trades come as an array";
  EXPECT_EQ(h.parse(R"({"topic":"publicTrade.BTCUSDT","ts":1,"type":"snapshot","data":[{"T":1,"s":"BTCUSDT","S":"Hold","v":"1","p":"1"}]})"),
            ParseResult::bad_side);
  EXPECT_EQ(h.parser.counters().errors, 13U);
}

} // namespace
} // namespace qf::feeds::bybit
