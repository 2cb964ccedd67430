// OKX v5: the parser over the real 2022 capture (every frame parses with no error; the message
// kinds are counted independently here by plain text search), the exact values of real messages
// (PROTOCOLS.md 6), and bad input of every kind.
#include "qf/feeds/capture.hpp"
#include "qf/feeds/okx/parser.hpp"
#include "qf/feeds/padded_buffer.hpp"

#include <gtest/gtest.h>

#include "capture_paths.hpp"
#include "parse_result_printer.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace qf::feeds::okx {
namespace {

namespace fs = std::filesystem;

const fs::path kOkx = test::kCaptures / "okx/multi_20220513.capture";
using test::frames;

std::size_t occurrences(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

struct Harness {
  Harness() : buffer(parser.config().max_message_bytes + 1024) {
    // Decimals above any the capture shows: values parse exactly at any scale that holds them.
    parser.add_instrument("BTC-USD-220527", 0, 4, 8);
    parser.add_instrument("UNI-USD-SWAP", 1, 4, 8);
    parser.add_instrument("BTC-USDT", 2, 4, 8);
  }
  ParseResult parse(std::string_view json) {
    if (!buffer.assign(json)) {
      ADD_FAILURE() << "payload larger than the test buffer";
    }
    return parser.parse(buffer, message);
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
};

class okx_capture : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fs::is_regular_file(kOkx)) {
      FAIL() << "no capture at " << kOkx << ": ../shared/captures must sit beside the repository";
    }
  }
};

TEST_F(okx_capture, should_parse_every_frame_of_the_capture_without_error) {
  const auto all = frames(kOkx);
  // Counted without the parser: plain text search on each frame.
  std::uint64_t acks = 0, snapshots = 0, updates = 0, tickers = 0, trade_messages = 0, trades = 0;
  for (const std::string& f : all) {
    if (f.find("\"event\":\"subscribe\"") != std::string::npos) {
      ++acks;
    } else if (f.find("\"channel\":\"books\"") != std::string::npos) {
      snapshots += f.find("\"action\":\"snapshot\"") != std::string::npos ? 1U : 0U;
      updates += f.find("\"action\":\"update\"") != std::string::npos ? 1U : 0U;
    } else if (f.find("\"channel\":\"tickers\"") != std::string::npos) {
      ++tickers;
    } else if (f.find("\"channel\":\"trades\"") != std::string::npos) {
      ++trade_messages;
      trades += occurrences(f, "\"tradeId\"");
    }
  }
  ASSERT_EQ(all.size(), 410U); // 414 lines: one `# ws` and three `# sent`
  ASSERT_EQ(acks + snapshots + updates + tickers + trade_messages, all.size());
  ASSERT_EQ(snapshots, 3U);
  ASSERT_EQ(updates, 287U);

  Harness h;
  std::uint64_t parsed_trades = 0;
  for (const std::string& f : all) {
    ASSERT_EQ(h.parse(f), ParseResult::ok) << f;
    if (h.message.kind == MessageKind::trade) {
      parsed_trades += h.message.trades.size();
      for (const Trade& t : h.message.trades) {
        EXPECT_GT(t.price, 0);
        EXPECT_GT(t.qty, 0);
        EXPECT_GT(t.time_ns, 1'652'000'000'000'000'000U);
      }
    }
    if (h.message.kind == MessageKind::book_snapshot || h.message.kind == MessageKind::book_update) {
      EXPECT_TRUE(h.message.has_checksum) << f;
      EXPECT_FALSE(h.message.has_seq) << f; // the 2022 capture predates seqId
    }
  }
  const ParserCounters& c = h.parser.counters();
  EXPECT_EQ(c.messages, all.size());
  EXPECT_EQ(c.errors, 0U);
  EXPECT_EQ(c.unknown_instrument, 0U);
  EXPECT_EQ(c.kind(MessageKind::subscribed), acks);
  EXPECT_EQ(c.kind(MessageKind::book_snapshot), snapshots);
  EXPECT_EQ(c.kind(MessageKind::book_update), updates);
  EXPECT_EQ(c.kind(MessageKind::ticker), tickers);
  EXPECT_EQ(c.kind(MessageKind::trade), trade_messages);
  EXPECT_EQ(parsed_trades, trades);
  std::printf("okx capture: %zu frames, %llu acks, %llu snapshots, %llu updates, %llu tickers, %llu trades\n",
              all.size(), static_cast<unsigned long long>(acks), static_cast<unsigned long long>(snapshots),
              static_cast<unsigned long long>(updates), static_cast<unsigned long long>(tickers),
              static_cast<unsigned long long>(trades));
}

TEST_F(okx_capture, should_drop_instruments_nobody_registered) {
  Parser parser;
  parser.add_instrument("BTC-USDT", 0, 1, 8);
  PaddedBuffer buffer(parser.config().max_message_bytes);
  Message m;
  std::uint64_t other = 0;
  const auto all = frames(kOkx);
  for (const std::string& f : all) {
    ASSERT_TRUE(buffer.assign(f));
    const bool event = f.find("\"event\"") != std::string::npos;
    other += !event && f.find("\"instId\":\"BTC-USDT\"}") == std::string::npos ? 1U : 0U;
    (void)parser.parse(buffer, m);
  }
  EXPECT_EQ(parser.counters().errors, 0U);
  EXPECT_EQ(parser.counters().unknown_instrument, other);
  EXPECT_GT(other, 0U);
}

// ---- exact values of real messages ----

TEST(okx_parser, should_read_a_books_update_exactly) {
  Harness h;
  // Real (PROTOCOLS.md 6.2).
  ASSERT_EQ(
      h.parse(
          R"({"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30249.4","0","0","0"],["30261","4","0","1"],["30310.3","19","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":-914047754}]})"),
      ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::book_update);
  EXPECT_EQ(m.instrument, 0);
  EXPECT_EQ(m.inst_id, "BTC-USD-220527");
  EXPECT_TRUE(m.has_checksum);
  EXPECT_EQ(m.checksum, -914047754);
  EXPECT_FALSE(m.has_seq);
  EXPECT_EQ(m.time_ns, 1'652'459'225'464'000'000U);
  ASSERT_EQ(m.asks.size(), 3U);
  ASSERT_EQ(m.bids.size(), 1U);
  EXPECT_EQ(m.asks[0].price, 302'494'000);
  EXPECT_EQ(m.asks[0].qty, 0);
  EXPECT_EQ(m.asks[1].price, 302'610'000);
  EXPECT_EQ(m.asks[1].qty, 400'000'000);
  EXPECT_EQ(m.bids[0].qty, 45'200'000'000);
}

TEST(okx_parser, should_read_the_sequence_ids_of_a_current_books_message) {
  Harness h;
  ASSERT_EQ(
      h.parse(
          R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["63707.3","0.15","0","2"]],"bids":[["63707.2","1.7","0","3"]],"ts":"1786613174873","checksum":0,"prevSeqId":-1,"seqId":123456}]})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::book_snapshot);
  EXPECT_TRUE(h.message.has_seq);
  EXPECT_EQ(h.message.prev_seq_id, -1);
  EXPECT_EQ(h.message.seq_id, 123456);
  EXPECT_FALSE(h.message.has_checksum); // 0: "not provided" since the deprecation
}

TEST(okx_parser, should_read_tickers_trades_and_bbo) {
  Harness h;
  // Real spot ticker, 2026 (PROTOCOLS.md 6.2).
  ASSERT_EQ(
      h.parse(
          R"({"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"63707.3","lastSz":"0.00164251","askPx":"63707.3","askSz":"0.15455902","bidPx":"63707.2","bidSz":"1.70080521","open24h":"63958.9","high24h":"64496.9","low24h":"63309.4","sodUtc0":"63484.7","sodUtc8":"63445.9","volCcy24h":"229576048.730317321","vol24h":"3601.1585121","ts":"1786613174873"}]})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::ticker);
  EXPECT_EQ(h.message.instrument, 2);
  EXPECT_EQ(h.message.bid.price, 637'072'000);
  EXPECT_EQ(h.message.bid.qty, 170'080'521);
  EXPECT_EQ(h.message.ask.price, 637'073'000);
  EXPECT_EQ(h.message.ask.qty, 15'455'902);
  EXPECT_EQ(h.message.time_ns, 1'786'613'174'873'000'000U);

  // Real trade (PROTOCOLS.md 6.2), plus a second one in the same push.
  ASSERT_EQ(
      h.parse(
          R"({"arg":{"channel":"trades","instId":"BTC-USD-220527"},"data":[{"instId":"BTC-USD-220527","tradeId":"7849","px":"30218.8","sz":"1","side":"buy","ts":"1652459199958"},{"instId":"BTC-USD-220527","tradeId":"7850","px":"30218.7","sz":"2","side":"sell","ts":"1652459199959","count":"1","seqId":5}]})"),
      ParseResult::ok);
  ASSERT_EQ(h.message.kind, MessageKind::trade);
  ASSERT_EQ(h.message.trades.size(), 2U);
  EXPECT_EQ(h.message.trades[0].trade_id, 7849U);
  EXPECT_EQ(h.message.trades[0].taker_side, core::Side::bid);
  EXPECT_EQ(h.message.trades[0].price, 302'188'000);
  EXPECT_EQ(h.message.trades[0].qty, 100'000'000);
  EXPECT_EQ(h.message.trades[0].time_ns, 1'652'459'199'958'000'000U);
  EXPECT_EQ(h.message.trades[1].taker_side, core::Side::ask);
  std::vector<core::Event> events;
  EXPECT_EQ(emit_events(h.message, 7, [&](const core::Event& e) { events.push_back(e); }), 2U);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[1].kind, core::EventKind::trade);
  EXPECT_EQ(events[1].seq, 7850U);

  // bbo-tbt: one level a side, with seqId.
  ASSERT_EQ(
      h.parse(
          R"({"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["63707.3","0.15455902","0","3"]],"bids":[["63707.2","1.70080521","0","9"]],"ts":"1786613174873","seqId":987}]})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::bbo);
  EXPECT_EQ(h.message.bid.price, 637'072'000);
  EXPECT_EQ(h.message.ask.qty, 15'455'902);
  EXPECT_EQ(h.message.seq_id, 987);
  events.clear();
  EXPECT_EQ(emit_events(h.message, 7, [&](const core::Event& e) { events.push_back(e); }), 1U);
  EXPECT_EQ(events[0].kind, core::EventKind::bbo);
  EXPECT_EQ(events[0].seq, 987U);
}

TEST(okx_parser, should_classify_acks_errors_notices_and_pong) {
  Harness h;
  ASSERT_EQ(h.parse(R"({"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"d604ccd0"})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::subscribed);
  EXPECT_EQ(h.message.channel, "tickers");
  EXPECT_EQ(h.message.inst_id, "BTC-USDT");
  ASSERT_EQ(h.parse(R"({"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"d604ccd0"})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::unsubscribed);
  ASSERT_EQ(
      h.parse(
          R"({"event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\"}","connId":"a4d3ae55"})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::error);
  EXPECT_EQ(h.message.code, "60012");
  EXPECT_EQ(h.message.text, R"(Invalid request: {"op": "subscribe"})");
  EXPECT_EQ(h.parser.counters().venue_errors, 1U);
  ASSERT_EQ(
      h.parse(
          R"({"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade.","connId":"a4d3ae55"})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::notice);
  EXPECT_EQ(h.message.code, "64008");
  ASSERT_EQ(h.parse("pong"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::pong);
  EXPECT_EQ(h.parser.counters().errors, 0U);
}

// ---- bad input: an error code, never a crash ----

TEST(okx_parser, should_refuse_bad_input_with_its_code) {
  Harness h;
  const struct {
    const char* json;
    ParseResult expected;
  } cases[] = {
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[)",
       ParseResult::malformed_json},
      {"not json", ParseResult::malformed_json},
      {"ping", ParseResult::malformed_json},
      {R"({"arg":{"channel":"books"}} trailing)", ParseResult::malformed_json},
      {R"([1,2,3])", ParseResult::unknown_message},
      {R"({"foo":1})", ParseResult::unknown_message},
      {R"({"event":"login","code":"0"})", ParseResult::unknown_message},
      {R"({"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1","2"]]})", ParseResult::unknown_message},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"partial","data":[{"asks":[],"bids":[]}]})",
       ParseResult::unknown_message},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[]},{"asks":[],"bids":[]}]})",
       ParseResult::unknown_message},
      {R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"ETH-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}]})",
       ParseResult::unknown_message},
      {R"({"arg":{"channel":5,"instId":"BTC-USDT"}})", ParseResult::wrong_type},
      {R"({"arg":"books"})", ParseResult::wrong_type},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[["1","2"]]})",
       ParseResult::wrong_type},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":{"asks":[]}})",
       ParseResult::wrong_type},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[[1.5,"1","0","1"]],"bids":[]}]})",
       ParseResult::wrong_type},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["1.5"]],"bids":[]}]})",
       ParseResult::wrong_type},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"checksum":"12"}]})",
       ParseResult::wrong_type},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"seqId":"12","prevSeqId":11}]})",
       ParseResult::wrong_type},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"checksum":2147483648}]})",
       ParseResult::bad_number},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"12a"}]})",
       ParseResult::bad_number},
      {R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"-1","px":"1","sz":"1","side":"buy","ts":"1"}]})",
       ParseResult::bad_number},
      {R"({"arg":{"channel":"books","instId":"ETH-USDT"},"action":"update","data":[{"asks":[],"bids":[]}]})",
       ParseResult::unknown_instrument},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"asks":[],"bids":[]}]})", ParseResult::missing_field},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[]}]})",
       ParseResult::missing_field},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"seqId":12}]})",
       ParseResult::missing_field},
      {R"({"arg":{"channel":"books"},"action":"update","data":[{"asks":[],"bids":[]}]})", ParseResult::missing_field},
      {R"({"arg":{"instId":"BTC-USDT"},"action":"update","data":[]})", ParseResult::missing_field},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[]})", ParseResult::missing_field},
      {R"({"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"bidPx":"1","bidSz":"1","askPx":"2"}]})",
       ParseResult::missing_field},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["1.00001","1","0","1"]],"bids":[]}]})",
       ParseResult::too_precise},
      {R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["1e5","1","0","1"]],"bids":[]}]})",
       ParseResult::bad_decimal},
      {R"({"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["1","1","0","1"],["2","1","0","1"]],"bids":[]}]})",
       ParseResult::too_many_levels},
      {R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"up","ts":"1"}]})",
       ParseResult::bad_side},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(h.parse(c.json), c.expected) << c.json;
  }
  EXPECT_EQ(h.parser.counters().errors, std::size(cases) - 1); // unknown_instrument is a drop
  EXPECT_EQ(h.parser.counters().unknown_instrument, 1U);
}

TEST(okx_parser, should_refuse_an_oversized_frame_before_parsing_it) {
  ParserConfig config;
  config.max_message_bytes = 64;
  Parser parser(config);
  parser.add_instrument("BTC-USDT", 0, 1, 8);
  PaddedBuffer buffer(4096);
  const std::string big =
      R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1"}]})";
  ASSERT_GT(big.size(), 64U);
  ASSERT_TRUE(buffer.assign(big));
  Message m;
  EXPECT_EQ(parser.parse(buffer, m), ParseResult::oversized);
  EXPECT_EQ(parser.counters().result(ParseResult::oversized), 1U);
}

TEST(okx_parser, should_treat_empty_ticker_sides_as_zero_levels) {
  Harness h;
  ASSERT_EQ(
      h.parse(
          R"({"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","askPx":"","askSz":"","bidPx":"63707.2","bidSz":"1","ts":"1"}]})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.ask.price, 0);
  EXPECT_EQ(h.message.ask.qty, 0);
  EXPECT_EQ(h.message.bid.qty, 100'000'000);
}

} // namespace
} // namespace qf::feeds::okx
