// Coinbase Advanced Trade: the parser and BookSync. There is no Advanced Trade capture in
// ../shared/captures (its README says so), so the fixtures are: the two REAL recorded messages
// PROTOCOLS.md 3.2 quotes (a ccxt recording: market_trades and ticker, without client_id), and
// SYNTHETIC messages written from the protocol text (the docs-style level2 snapshot and updates,
// heartbeats, subscriptions), each marked below. Expected values are written from the JSON text.
// BookSync: sequence_num is one counter per connection across channels; a break is a gap for
// every live book with a resubscribe request for every product, the message itself still handled.
#include "qf/feeds/coinbase_advanced/book_sync.hpp"
#include "qf/feeds/coinbase_advanced/parser.hpp"
#include "qf/feeds/padded_buffer.hpp"

#include <gtest/gtest.h>

#include "alloc_count.hpp"
#include "parse_result_printer.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qf::feeds::coinbase_advanced {

void PrintTo(MessageKind k, std::ostream* os) {
  *os << to_string(k);
}

namespace {

using core::Event;
using core::EventKind;
using core::FeedStatus;
using core::Side;
using qf::alloc::g_allocations;

// REAL (PROTOCOLS.md 3.2, recorded by ccxt): market_trades update, newest trade first.
constexpr std::string_view kRealTrades =
    R"({"channel":"market_trades","timestamp":"2026-08-12T19:27:48.364886251Z","sequence_num":2,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"1069726293","price":"63310.25","size":"0.00000012","time":"2026-08-12T19:27:48.298771Z","side":"BUY"},{"product_id":"BTC-USD","trade_id":"1069726292","price":"63310.25","size":"0.00000012","time":"2026-08-12T19:27:48.266642Z","side":"BUY"}]}]})";
// REAL (PROTOCOLS.md 3.2, recorded by ccxt): ticker update.
constexpr std::string_view kRealTicker =
    R"({"channel":"ticker","timestamp":"2026-08-12T19:27:33.829058895Z","sequence_num":2,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"63320.73","volume_24_h":"6629.927726","low_24_h":"63235.88","high_24_h":"64416.3","low_52_w":"57717.55","high_52_w":"126296","price_percent_chg_24_h":"0.03813791548644","best_bid":"63318.86","best_ask":"63318.87","best_bid_quantity":"0.2275291","best_ask_quantity":"0.49990114"}]}]})";

// SYNTHETIC, docs-style (PROTOCOLS.md 3.2's level2 example with client_id, two levels a side).
std::string l2(std::uint64_t seq, std::string_view type, std::string_view product, std::string_view updates) {
  return R"({"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":)" +
         std::to_string(seq) + R"(,"events":[{"type":")" + std::string(type) + R"(","product_id":")" +
         std::string(product) + R"(","updates":[)" + std::string(updates) + "]}]}";
}
constexpr std::string_view kSnapshotUpdates =
    R"({"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},)"
    R"({"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.3","new_quantity":"0.02"},)"
    R"({"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21921.74","new_quantity":"1.5"},)"
    R"({"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21922.09","new_quantity":"0.2"})";
constexpr std::string_view kUpdate =
    R"({"side":"offer","event_time":"2023-02-09T20:32:50.713Z","price_level":"21921.74","new_quantity":"0"},)"
    R"({"side":"bid","event_time":"2023-02-09T20:32:50.713Z","price_level":"21921.5","new_quantity":"0.3"})";

// SYNTHETIC heartbeats in both forms PROTOCOLS.md 3.2 names (a string counter in the docs, an
// integer in production).
std::string heartbeat(std::uint64_t seq, std::string_view counter) {
  return R"({"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":)" +
         std::to_string(seq) +
         R"(,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":)" +
         std::string(counter) + "}]}";
}
std::string ticker(std::uint64_t seq, std::string_view product, std::string_view bid, std::string_view ask) {
  return R"({"channel":"ticker","timestamp":"2026-08-12T19:27:33.829058895Z","sequence_num":)" + std::to_string(seq) +
         R"(,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":")" + std::string(product) +
         R"(","price":"1","best_bid":")" + std::string(bid) + R"(","best_ask":")" + std::string(ask) +
         R"(","best_bid_quantity":"1","best_ask_quantity":"2"}]}]})";
}
std::string with_sequence(std::string_view json, std::uint64_t seq) {
  std::string s(json);
  const std::size_t at = s.find("\"sequence_num\":") + 15;
  s.replace(at, s.find(',', at) - at, std::to_string(seq));
  return s;
}

struct Harness {
  Harness() : buffer(1 << 16), sync(2) {
    parser.add_instrument("BTC-USD", 0, 2, 8);
    parser.add_instrument("ETH-USD", 1, 2, 8);
  }
  ParseResult parse(std::string_view json) {
    EXPECT_TRUE(buffer.assign(json));
    return parser.parse(buffer, message);
  }
  SyncReport feed(std::string_view json) {
    EXPECT_EQ(parse(json), ParseResult::ok) << json;
    return sync.on_message(message, 1, [this](const Event& e) { events.push_back(e); });
  }
  [[nodiscard]] std::size_t count(FeedStatus s, core::InstrumentId id) const {
    std::size_t n = 0;
    for (const Event& e : events) {
      n += e.kind == EventKind::status && e.status == s && e.instrument == id ? 1 : 0;
    }
    return n;
  }
  [[nodiscard]] std::size_t count(EventKind k) const {
    std::size_t n = 0;
    for (const Event& e : events) {
      n += e.kind == k ? 1 : 0;
    }
    return n;
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
  BookSync sync;
  std::vector<Event> events;
};

// ---- the real messages ----

TEST(coinbase_advanced_parser, should_read_the_real_market_trades_message_exactly) {
  Harness h;
  ASSERT_EQ(h.parse(kRealTrades), ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::trades);
  EXPECT_TRUE(m.has_sequence);
  EXPECT_EQ(m.sequence, 2U);
  EXPECT_EQ(m.time_ns, 1'786'562'868'364'886'251ULL); // 2026-08-12T19:27:48.364886251Z
  ASSERT_EQ(m.trades.size(), 2U);
  EXPECT_EQ(m.trades[0].trade_id, 1'069'726'293U);
  EXPECT_EQ(m.trades[0].price, 6'331'025);
  EXPECT_EQ(m.trades[0].qty, 12);
  EXPECT_EQ(m.trades[0].taker_side, Side::bid);
  EXPECT_FALSE(m.trades[0].snapshot);
  EXPECT_EQ(m.trades[0].time_ns, 1'786'562'868'298'771'000ULL);
  EXPECT_EQ(m.trades[1].trade_id, 1'069'726'292U);
  EXPECT_EQ(m.trades[1].time_ns, 1'786'562'868'266'642'000ULL);
  std::vector<Event> out;
  EXPECT_EQ(emit_events(m, 5, [&](const Event& e) { out.push_back(e); }), 2U);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].kind, EventKind::trade);
  EXPECT_EQ(out[0].seq, 1'069'726'292U) << "oldest first";
  EXPECT_EQ(out[1].seq, 1'069'726'293U);
  EXPECT_EQ(out[1].level.price, 6'331'025);
  EXPECT_EQ(h.parser.counters().kind(MessageKind::trades), 1U);
}

TEST(coinbase_advanced_parser, should_read_the_real_ticker_message_as_a_bbo) {
  Harness h;
  ASSERT_EQ(h.parse(kRealTicker), ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::ticker);
  EXPECT_EQ(m.channel, "ticker");
  ASSERT_EQ(m.tickers.size(), 1U);
  const Ticker& t = m.tickers[0];
  EXPECT_EQ(t.instrument, 0);
  EXPECT_TRUE(t.has_bbo);
  EXPECT_EQ(t.bid.price, 6'331'886);
  EXPECT_EQ(t.bid.qty, 22'752'910);
  EXPECT_EQ(t.ask.price, 6'331'887);
  EXPECT_EQ(t.ask.qty, 49'990'114);
  std::vector<Event> out;
  EXPECT_EQ(emit_events(m, 5, [&](const Event& e) { out.push_back(e); }), 1U);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].kind, EventKind::bbo);
  EXPECT_EQ(out[0].bbo.ask_qty, 49'990'114);
  // ticker_batch has the same shape (PROTOCOLS.md 3.2: every 5 s)
  std::string batch(kRealTicker);
  batch.replace(batch.find("\"ticker\""), 8, "\"ticker_batch\"");
  ASSERT_EQ(h.parse(batch), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::ticker);
  EXPECT_EQ(h.message.tickers.size(), 1U);
}

TEST(coinbase_advanced_parser, should_refuse_real_prices_finer_than_the_instruments_decimals) {
  Parser p;
  p.add_instrument("BTC-USD", 0, 1, 8); // 63310.25 has two decimals
  PaddedBuffer b(1 << 16);
  ASSERT_TRUE(b.assign(kRealTrades));
  Message m;
  EXPECT_EQ(p.parse(b, m), ParseResult::too_precise);
}

// ---- synthetic messages from the protocol text ----

TEST(coinbase_advanced_parser, should_read_a_level2_snapshot_and_update_split_by_side) {
  Harness h;
  ASSERT_EQ(h.parse(l2(0, "snapshot", "BTC-USD", kSnapshotUpdates)), ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::level2);
  EXPECT_EQ(m.sequence, 0U);
  EXPECT_EQ(m.time_ns, 1'675'974'770'714'964'855ULL); // 2023-02-09T20:32:50.714964855Z
  ASSERT_EQ(m.books.size(), 1U);
  const BookEvent& b = m.books[0];
  EXPECT_TRUE(b.snapshot);
  ASSERT_EQ(b.bids.size(), 2U);
  ASSERT_EQ(b.asks.size(), 2U);
  EXPECT_EQ(b.bids[0].price, 2'192'173);
  EXPECT_EQ(b.bids[0].qty, 6'317'902);
  EXPECT_EQ(b.bids[1].price, 2'192'130);
  EXPECT_EQ(b.bids[1].qty, 2'000'000);
  EXPECT_EQ(b.asks[0].price, 2'192'174);
  EXPECT_EQ(b.asks[0].qty, 150'000'000);
  EXPECT_EQ(b.asks[1].price, 2'192'209);

  ASSERT_EQ(h.parse(l2(7, "update", "BTC-USD", kUpdate)), ParseResult::ok);
  ASSERT_EQ(h.message.books.size(), 1U);
  EXPECT_FALSE(h.message.books[0].snapshot);
  ASSERT_EQ(h.message.books[0].asks.size(), 1U);
  EXPECT_EQ(h.message.books[0].asks[0].qty, 0) << "0 removes the level";
  ASSERT_EQ(h.message.books[0].bids.size(), 1U);
  EXPECT_EQ(h.message.books[0].bids[0].price, 2'192'150);
  std::vector<Event> out;
  EXPECT_EQ(emit_events(h.message, 1, [&](const Event& e) { out.push_back(e); }), 2U);
  EXPECT_EQ(out[0].side, Side::bid);
  EXPECT_EQ(out[0].seq, 7U) << "book events carry sequence_num";
  EXPECT_EQ(out[1].flags, core::kFlagLastInMessage);
}

TEST(coinbase_advanced_parser, should_read_several_products_in_one_message_with_their_own_decimals) {
  Parser p;
  p.add_instrument("BTC-USD", 0, 2, 8);
  p.add_instrument("ETH-USD", 1, 3, 4);
  PaddedBuffer buf(1 << 16);
  const std::string json =
      R"({"channel":"l2_data","timestamp":"2023-02-09T20:32:50Z","sequence_num":3,"events":[)"
      R"({"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"x","price_level":"1.25","new_quantity":"2"}]},)"
      R"({"type":"update","product_id":"XRP-USD","updates":[{"side":"bid","event_time":"x","price_level":"0.5","new_quantity":"9"}]},)"
      R"({"type":"snapshot","product_id":"ETH-USD","updates":[{"side":"offer","event_time":"x","price_level":"3.125","new_quantity":"0.5"}]}]})";
  ASSERT_TRUE(buf.assign(json));
  Message m;
  ASSERT_EQ(p.parse(buf, m), ParseResult::ok);
  ASSERT_EQ(m.books.size(), 2U);
  EXPECT_EQ(m.skipped_products, 1U) << "XRP-USD is not registered";
  EXPECT_EQ(p.counters().skipped_products, 1U);
  EXPECT_EQ(m.books[0].instrument, 0);
  EXPECT_EQ(m.books[0].bids[0].price, 125);
  EXPECT_EQ(m.books[0].bids[0].qty, 200'000'000);
  EXPECT_EQ(m.books[1].instrument, 1);
  EXPECT_TRUE(m.books[1].snapshot);
  ASSERT_EQ(m.books[1].asks.size(), 1U);
  EXPECT_EQ(m.books[1].asks[0].price, 3'125);
  EXPECT_EQ(m.books[1].asks[0].qty, 5'000);
  EXPECT_TRUE(m.books[1].bids.empty());
}

TEST(coinbase_advanced_parser, should_read_heartbeats_subscriptions_and_errors) {
  Harness h;
  ASSERT_EQ(h.parse(heartbeat(4, "\"3049\"")), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::heartbeat);
  EXPECT_EQ(h.message.heartbeat_counter, 3049U);
  EXPECT_EQ(h.message.sequence, 4U);
  ASSERT_EQ(h.parse(heartbeat(5, "3050")), ParseResult::ok) << "production sends an integer";
  EXPECT_EQ(h.message.heartbeat_counter, 3050U);
  EXPECT_EQ(h.parse(heartbeat(5, "\"x1\"")), ParseResult::bad_number);
  EXPECT_EQ(h.parse(heartbeat(5, "-1")), ParseResult::bad_number);

  ASSERT_EQ(h.parse(R"({"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":1,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::subscriptions);
  EXPECT_EQ(h.message.sequence, 1U);

  ASSERT_EQ(h.parse(R"({"type":"error","message":"failure to subscribe: \"nope\""})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::error);
  EXPECT_FALSE(h.message.has_sequence);
  EXPECT_EQ(h.message.error, R"(failure to subscribe: "nope")");
}

TEST(coinbase_advanced_parser, should_drop_a_message_whose_every_product_is_unregistered) {
  Harness h;
  EXPECT_EQ(h.parse(l2(0, "update", "DOGE-USD", kUpdate)), ParseResult::unknown_instrument);
  EXPECT_EQ(h.parse(ticker(1, "DOGE-USD", "1", "2")), ParseResult::unknown_instrument);
  EXPECT_EQ(h.parser.counters().unknown_instrument, 2U);
  EXPECT_EQ(h.parser.counters().errors, 0U);
}

TEST(coinbase_advanced_parser, should_refuse_bad_input_with_its_code) {
  Harness h;
  const std::string good = l2(1, "update", "BTC-USD", kUpdate);
  const auto replaced = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const std::vector<std::pair<std::string, ParseResult>> cases = {
      {good.substr(0, good.size() - 3), ParseResult::malformed_json},
      {good + "{}", ParseResult::malformed_json},
      {"nonsense", ParseResult::malformed_json},
      {"[1,2]", ParseResult::unknown_message},
      {R"({"channel":"candles","timestamp":"2023-02-09T20:32:50Z","sequence_num":1,"events":[]})",
       ParseResult::unknown_message},
      {R"({"hello":1})", ParseResult::unknown_message},
      {replaced("\"sequence_num\":1,", ""), ParseResult::missing_field},
      {replaced("\"sequence_num\":1", "\"sequence_num\":\"1\""), ParseResult::wrong_type},
      {replaced("\"sequence_num\":1", "\"sequence_num\":-1"), ParseResult::bad_number},
      {replaced("\"sequence_num\":1", "\"sequence_num\":1.5"), ParseResult::bad_number},
      {replaced("\"sequence_num\":1", "\"sequence_num\":99999999999999999999"), ParseResult::bad_number},
      {replaced("2023-02-09T20:32:50.714964855Z", "yesterday"), ParseResult::bad_time},
      {replaced("\"timestamp\":\"2023-02-09T20:32:50.714964855Z\"", "\"timestamp\":5"), ParseResult::wrong_type},
      {replaced("\"type\":\"update\"", "\"type\":\"delta\""), ParseResult::unknown_message},
      {replaced("\"type\":\"update\",", ""), ParseResult::missing_field},
      {replaced("\"product_id\":\"BTC-USD\",", ""), ParseResult::missing_field},
      {replaced("\"side\":\"offer\"", "\"side\":\"ask\""), ParseResult::bad_side},
      {replaced("\"new_quantity\":\"0\"", "\"new_quantity\":\"-\""), ParseResult::bad_decimal},
      {replaced("\"new_quantity\":\"0\"", "\"new_quantity\":0"), ParseResult::wrong_type},
      {replaced("\"price_level\":\"21921.74\",", ""), ParseResult::missing_field},
      {replaced("\"price_level\":\"21921.74\"", "\"price_level\":\"21921.745\""), ParseResult::too_precise},
      {replaced("\"events\":[{", "\"events\":[7,{"), ParseResult::wrong_type},
      {replaced("\"updates\":[", "\"updates\":{},\"x\":["), ParseResult::wrong_type},
      {R"({"channel":"l2_data","timestamp":"2023-02-09T20:32:50Z","sequence_num":1,"events":[]})",
       ParseResult::missing_field},
      {R"({"channel":"market_trades","timestamp":"2023-02-09T20:32:50Z","sequence_num":1,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"uuid-1","price":"1","size":"1","time":"2023-02-09T20:32:50Z","side":"BUY"}]}]})",
       ParseResult::bad_number},
      {R"({"channel":"market_trades","timestamp":"2023-02-09T20:32:50Z","sequence_num":1,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"1","price":"1","size":"1","time":"2023-02-09T20:32:50Z","side":"buy"}]}]})",
       ParseResult::bad_side},
      {R"({"channel":"market_trades","timestamp":"2023-02-09T20:32:50Z","sequence_num":1,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"1","price":"1","size":"1","side":"BUY"}]}]})",
       ParseResult::missing_field},
      {R"({"channel":"market_trades","timestamp":"2023-02-09T20:32:50Z","sequence_num":1,"events":[{"type":"update","tickers":[]}]})",
       ParseResult::unknown_message},
      {R"({"channel":"heartbeats","timestamp":"2023-02-09T20:32:50Z","sequence_num":1,"events":[{"current_time":"x"}]})",
       ParseResult::missing_field},
  };
  for (const auto& [json, want] : cases) {
    EXPECT_EQ(h.parse(json), want) << json;
  }
  EXPECT_EQ(h.parser.counters().errors, cases.size());
  EXPECT_EQ(h.parse(good), ParseResult::ok) << "the parser is fine after all that";
}

TEST(coinbase_advanced_parser, should_refuse_an_oversized_frame_and_too_many_levels) {
  ParserConfig c;
  c.max_message_bytes = 256;
  c.max_levels = 1;
  Parser p(c);
  p.add_instrument("BTC-USD", 0, 2, 8);
  PaddedBuffer b(1 << 16);
  ASSERT_TRUE(b.assign(std::string(300, ' ')));
  Message m;
  EXPECT_EQ(p.parse(b, m), ParseResult::oversized);
  c.max_message_bytes = 1 << 16;
  Parser q(c);
  q.add_instrument("BTC-USD", 0, 2, 8);
  ASSERT_TRUE(b.assign(l2(0, "snapshot", "BTC-USD", kSnapshotUpdates)));
  EXPECT_EQ(q.parse(b, m), ParseResult::too_many_levels);
  EXPECT_THROW(Parser(ParserConfig{0, 1, 1, 1}), std::invalid_argument);
}

TEST(coinbase_advanced_parser, should_parse_without_allocating_after_warm_up) {
  Harness h;
  const std::vector<std::string> all = {l2(0, "snapshot", "BTC-USD", kSnapshotUpdates), l2(1, "update", "BTC-USD", kUpdate),
                                        std::string(kRealTrades), std::string(kRealTicker), heartbeat(4, "3")};
  std::size_t events = 0;
  const auto sink = [&](const Event&) { ++events; };
  for (const std::string& s : all) {
    ASSERT_EQ(h.parse(s), ParseResult::ok);
  }
  const std::uint64_t before = g_allocations.load();
  for (int round = 0; round < 100; ++round) {
    for (const std::string& s : all) {
      if (!h.buffer.assign(s) || h.parser.parse(h.buffer, h.message) != ParseResult::ok) {
        FAIL();
      }
      (void)emit_events(h.message, 0, sink);
      (void)h.sync.on_message(h.message, 0, sink);
    }
  }
  EXPECT_EQ(g_allocations.load() - before, 0U);
  EXPECT_GT(events, 1'000U);
}

// ---- BookSync ----

TEST(coinbase_advanced_book_sync, should_go_live_on_the_snapshot_and_drop_updates_before_it) {
  Harness h;
  SyncReport r = h.feed(l2(0, "update", "BTC-USD", kUpdate));
  EXPECT_EQ(r.dropped, 1U);
  EXPECT_EQ(h.sync.counters(0).dropped_not_live, 1U);
  r = h.feed(l2(1, "snapshot", "BTC-USD", kSnapshotUpdates));
  EXPECT_EQ(r.snapshots, 1U);
  EXPECT_FALSE(r.sequence_gap);
  EXPECT_EQ(h.sync.state(0), BookState::live);
  EXPECT_EQ(h.sync.state(1), BookState::syncing);
  EXPECT_EQ(h.count(FeedStatus::book_live, 0), 1U);
  EXPECT_EQ(h.count(EventKind::snapshot_begin), 1U);
  r = h.feed(l2(2, "update", "BTC-USD", kUpdate));
  EXPECT_EQ(r.updates, 1U);
  EXPECT_EQ(h.sync.counters(0).applied_updates, 1U);
  EXPECT_EQ(h.sync.expected_sequence(), 3U);
  EXPECT_EQ(h.sync.connection().sequence_gaps, 0U);
}

TEST(coinbase_advanced_book_sync, should_take_every_live_book_down_on_a_sequence_gap_and_resubscribe_all) {
  Harness h;
  h.feed(l2(0, "snapshot", "BTC-USD", kSnapshotUpdates));
  h.feed(l2(1, "snapshot", "ETH-USD", kSnapshotUpdates));
  h.feed(heartbeat(2, "1"));
  // sequence 3 is lost: the next message, whatever its channel, reveals the gap
  const SyncReport r = h.feed(with_sequence(kRealTicker, 4));
  EXPECT_TRUE(r.sequence_gap);
  EXPECT_EQ(r.gap_books, 2U);
  EXPECT_EQ(r.passed, 1U) << "the ticker itself is still the venue's";
  EXPECT_EQ(h.sync.connection().sequence_gaps, 1U);
  EXPECT_EQ(h.sync.connection().missed_messages, 1U);
  EXPECT_EQ(h.count(FeedStatus::gap, 0), 1U);
  EXPECT_EQ(h.count(FeedStatus::gap, 1), 1U);
  EXPECT_EQ(h.sync.state(0), BookState::syncing);
  EXPECT_EQ(h.sync.state(1), BookState::syncing);
  EXPECT_TRUE(h.sync.take_resubscribe_request(0));
  EXPECT_TRUE(h.sync.take_resubscribe_request(1));
  EXPECT_FALSE(h.sync.take_resubscribe_request(0)) << "once";
  // gap status before the bbo of the message that revealed it
  ASSERT_GE(h.events.size(), 3U);
  EXPECT_EQ(h.events.back().kind, EventKind::bbo);
  EXPECT_EQ(h.events[h.events.size() - 2].status, FeedStatus::gap);
  // updates in flight are dropped until the fresh snapshots
  EXPECT_EQ(h.feed(l2(5, "update", "BTC-USD", kUpdate)).dropped, 1U);
  EXPECT_EQ(h.feed(l2(6, "snapshot", "BTC-USD", kSnapshotUpdates)).snapshots, 1U);
  EXPECT_EQ(h.sync.state(0), BookState::live);
  EXPECT_EQ(h.feed(l2(7, "update", "BTC-USD", kUpdate)).updates, 1U);
  EXPECT_EQ(h.sync.counters(0).gaps, 1U);
}

TEST(coinbase_advanced_book_sync, should_keep_the_chain_through_a_message_for_products_not_ours) {
  Harness h;
  h.feed(l2(0, "snapshot", "BTC-USD", kSnapshotUpdates));
  ASSERT_EQ(h.parse(l2(1, "update", "DOGE-USD", kUpdate)), ParseResult::unknown_instrument);
  EXPECT_TRUE(h.message.unregistered_only);
  EXPECT_EQ(h.message.sequence, 1U);
  const SyncReport skipped = h.sync.on_unregistered(h.message, 1, [&](const Event& e) { h.events.push_back(e); });
  EXPECT_FALSE(skipped.sequence_gap);
  EXPECT_EQ(skipped.updates + skipped.passed, 0U) << "nothing of it applied";
  EXPECT_FALSE(h.feed(l2(2, "update", "BTC-USD", kUpdate)).sequence_gap) << "1 was numbered: 2 follows it";
  EXPECT_EQ(h.sync.state(0), BookState::live);
  EXPECT_EQ(h.sync.connection().sequence_gaps, 0U);
  // A message that failed for any other reason is not numbered: its loss is a gap, as it must be.
  const ParseResult bad = h.parse(l2(3, "update", "BTC-USD",
                                     R"({"side":"bid","event_time":"2023-02-09T20:32:50.713Z","price_level":"x","new_quantity":"1"})"));
  EXPECT_NE(bad, ParseResult::ok);
  EXPECT_NE(bad, ParseResult::unknown_instrument);
  EXPECT_FALSE(h.message.unregistered_only);
  EXPECT_TRUE(h.feed(l2(4, "update", "BTC-USD", kUpdate)).sequence_gap);
}

TEST(coinbase_advanced_book_sync, should_count_a_repeated_number_as_a_regression_gap) {
  Harness h;
  h.feed(l2(0, "snapshot", "BTC-USD", kSnapshotUpdates));
  h.feed(heartbeat(1, "1"));
  const SyncReport r = h.feed(heartbeat(1, "1"));
  EXPECT_TRUE(r.sequence_gap);
  EXPECT_EQ(r.gap_books, 1U) << "only the live book has a gap status";
  EXPECT_EQ(h.sync.connection().regressions, 1U);
  EXPECT_EQ(h.count(FeedStatus::gap, 1), 0U);
  EXPECT_TRUE(h.sync.take_resubscribe_request(1)) << "the syncing book resubscribes too";
}

TEST(coinbase_advanced_book_sync, should_expect_sequence_zero_on_each_connection) {
  Harness h;
  EXPECT_TRUE(h.feed(heartbeat(1, "1")).sequence_gap) << "the connection's first message is 0";
  h.feed(l2(2, "snapshot", "BTC-USD", kSnapshotUpdates));
  h.sync.on_disconnect(1, [&](const Event& e) { h.events.push_back(e); });
  EXPECT_EQ(h.count(FeedStatus::disconnected, 0), 1U);
  EXPECT_EQ(h.count(FeedStatus::disconnected, 1), 1U);
  EXPECT_EQ(h.sync.state(0), BookState::syncing);
  EXPECT_EQ(h.sync.expected_sequence(), 0U);
  EXPECT_FALSE(h.feed(l2(0, "snapshot", "BTC-USD", kSnapshotUpdates)).sequence_gap);
  EXPECT_EQ(h.sync.state(0), BookState::live);
}

TEST(coinbase_advanced_book_sync, should_send_new_trades_oldest_first_and_skip_the_snapshots_history) {
  Harness h;
  std::string snapshot = with_sequence(kRealTrades, 0);
  snapshot.replace(snapshot.find("\"update\""), 8, "\"snapshot\"");
  SyncReport r = h.feed(snapshot);
  EXPECT_EQ(r.passed, 0U);
  EXPECT_EQ(h.sync.connection().snapshot_trades, 2U);
  r = h.feed(with_sequence(kRealTrades, 1));
  EXPECT_EQ(r.passed, 2U);
  ASSERT_EQ(h.count(EventKind::trade), 2U);
  EXPECT_EQ(h.events[0].seq, 1'069'726'292U);
  EXPECT_EQ(h.events[1].seq, 1'069'726'293U);
  EXPECT_EQ(h.sync.counters(0).trades, 2U);
}

TEST(coinbase_advanced_book_sync, should_resync_one_product_on_request) {
  Harness h;
  h.feed(l2(0, "snapshot", "BTC-USD", kSnapshotUpdates));
  h.feed(l2(1, "snapshot", "ETH-USD", kSnapshotUpdates));
  h.sync.resync(1, 1, [&](const Event& e) { h.events.push_back(e); });
  EXPECT_EQ(h.sync.state(0), BookState::live);
  EXPECT_EQ(h.sync.state(1), BookState::syncing);
  EXPECT_FALSE(h.sync.take_resubscribe_request(0));
  EXPECT_TRUE(h.sync.take_resubscribe_request(1));
  EXPECT_EQ(h.count(FeedStatus::resync, 1), 1U);
}

} // namespace
} // namespace qf::feeds::coinbase_advanced
