// Kraken WS v2: the parser and BookSync over the real BTC/USD book capture (every checksum of the
// file verifies; counted independently here by plain text search), and bad input of every kind.
#include "qf/feeds/capture.hpp"
#include "qf/feeds/kraken/book_sync.hpp"
#include "qf/feeds/kraken/parser.hpp"
#include "qf/feeds/padded_buffer.hpp"

#include <gtest/gtest.h>

#include "capture_paths.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace qf::feeds::kraken {
namespace {

namespace fs = std::filesystem;
using core::Event;
using core::EventKind;
using core::FeedStatus;

using test::kKraken;

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

struct Harness {
  Harness() : buffer(parser.config().max_message_bytes + 1024), sync(1) {
    parser.add_instrument("BTC/USD", 0, 1, 8); // the pair's precision (captures/README.md)
    sync.set_precision(0, 1, 8, 1, 8);
  }
  ParseResult parse(std::string_view json) {
    if (!buffer.assign(json)) {
      ADD_FAILURE() << "payload larger than the test buffer";
    }
    return parser.parse(buffer, message);
  }
  SyncOutcome feed(std::string_view json) {
    const ParseResult r = parse(json);
    EXPECT_EQ(r, ParseResult::ok) << json;
    return sync.on_message(message, 0, [&](const Event& e) { events.push_back(e); });
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
  BookSync sync;
  std::vector<Event> events;
};

class kraken_capture : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fs::is_regular_file(kKraken)) {
      FAIL() << "no capture at " << kKraken << ": ../shared/captures must sit beside the repository";
    }
  }
};

TEST_F(kraken_capture, should_verify_every_checksum_of_the_capture) {
  const auto all = frames(kKraken);
  std::uint64_t with_checksum = 0; // counted without the parser: plain text search
  std::uint64_t snapshots = 0;
  for (const std::string& f : all) {
    with_checksum += f.find("\"checksum\"") != std::string::npos ? 1U : 0U;
    snapshots += f.find("\"type\":\"snapshot\"") != std::string::npos ? 1U : 0U;
  }
  ASSERT_EQ(all.size(), 510U);
  ASSERT_EQ(with_checksum, 510U);
  ASSERT_EQ(snapshots, 1U);

  Harness h;
  for (const std::string& f : all) {
    const SyncOutcome o = h.feed(f);
    EXPECT_TRUE(o == SyncOutcome::snapshot_applied || o == SyncOutcome::applied) << f;
  }
  const ParserCounters& pc = h.parser.counters();
  EXPECT_EQ(pc.messages, 510U);
  EXPECT_EQ(pc.errors, 0U);
  EXPECT_EQ(pc.kind(MessageKind::book_snapshot), 1U);
  EXPECT_EQ(pc.kind(MessageKind::book_update), 509U);
  const BookSyncCounters& c = h.sync.counters(0);
  EXPECT_EQ(c.checksums_verified, with_checksum);
  EXPECT_EQ(c.checksum_mismatches, 0U);
  EXPECT_EQ(c.snapshots_applied, 1U);
  EXPECT_EQ(c.applied_updates, 509U);
  EXPECT_GT(c.truncated_levels, 0U); // levels do fall out of depth 10 in this file
  EXPECT_EQ(h.sync.state(0), BookState::live);
  ASSERT_EQ(h.sync.bids(0).size(), 10U);
  ASSERT_EQ(h.sync.asks(0).size(), 10U);
  EXPECT_LT(h.sync.bids(0).front().price, h.sync.asks(0).front().price); // not crossed
  EXPECT_FALSE(h.sync.take_resubscribe_request(0));

  std::size_t snapshot_ends = 0;
  for (const Event& e : h.events) {
    if (e.kind == EventKind::snapshot_end) {
      ++snapshot_ends;
    }
  }
  EXPECT_EQ(snapshot_ends, 1U);
}

TEST_F(kraken_capture, should_report_a_corrupted_checksum_as_a_gap_and_recover_on_the_next_snapshot) {
  const auto all = frames(kKraken);
  ASSERT_GE(all.size(), 3U);
  std::string bad = all[2];
  const std::size_t at = bad.find("\"checksum\":") + 11;
  bad[at] = bad[at] == '9' ? '1' : static_cast<char>(bad[at] + 1); // one digit flipped

  Harness h;
  EXPECT_EQ(h.feed(all[0]), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.feed(all[1]), SyncOutcome::applied);
  h.events.clear();
  EXPECT_EQ(h.feed(bad), SyncOutcome::mismatch);
  EXPECT_EQ(h.sync.state(0), BookState::syncing);
  EXPECT_EQ(h.sync.counters(0).checksum_mismatches, 1U);
  ASSERT_EQ(h.events.size(), 1U);
  EXPECT_EQ(h.events[0].kind, EventKind::status);
  EXPECT_EQ(h.events[0].status, FeedStatus::gap);
  EXPECT_TRUE(h.sync.take_resubscribe_request(0));
  EXPECT_FALSE(h.sync.take_resubscribe_request(0));
  EXPECT_EQ(h.feed(all[3]), SyncOutcome::not_live); // dropped until a fresh snapshot
  EXPECT_EQ(h.sync.counters(0).dropped_not_live, 1U);
  EXPECT_EQ(h.feed(all[0]), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.sync.state(0), BookState::live);
}

TEST_F(kraken_capture, should_report_a_corrupted_snapshot_checksum_as_a_mismatch) {
  std::string bad = frames(kKraken)[0];
  const std::size_t at = bad.find("\"checksum\":") + 11;
  bad[at] = bad[at] == '9' ? '1' : static_cast<char>(bad[at] + 1);
  Harness h;
  EXPECT_EQ(h.feed(bad), SyncOutcome::mismatch);
  EXPECT_EQ(h.sync.state(0), BookState::syncing);
}

// ---- bad input: an error code, never a crash ----

TEST(kraken_parser, should_refuse_bad_input_with_its_code) {
  Harness h;
  const struct {
    const char* json;
    ParseResult expected;
  } cases[] = {
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[)", ParseResult::malformed_json},
      {"not json", ParseResult::malformed_json},
      {R"({"channel":"book"} trailing)", ParseResult::malformed_json},
      {R"([1,2,3])", ParseResult::unknown_message},
      {R"({"channel":"ohlc","type":"update","data":[]})", ParseResult::unknown_message},
      {R"({"foo":1})", ParseResult::unknown_message},
      {R"({"channel":"book","type":"delta","data":[{"symbol":"BTC/USD","bids":[],"asks":[]}]})",
       ParseResult::unknown_message},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":"1.0","qty":1}],"asks":[]}]})",
       ParseResult::wrong_type},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[[1.0,1]],"asks":[]}]})",
       ParseResult::wrong_type},
      {R"({"channel":"book","type":"update","data":{"symbol":"BTC/USD"}})", ParseResult::wrong_type},
      {R"({"channel":5})", ParseResult::wrong_type},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":"12"}]})",
       ParseResult::wrong_type},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":4294967296}]})",
       ParseResult::bad_number},
      {R"({"channel":"book","type":"update","data":[{"symbol":"ETH/USD","bids":[],"asks":[],"checksum":1}]})",
       ParseResult::unknown_instrument},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","asks":[]}]})", ParseResult::missing_field},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.0}],"asks":[]}]})",
       ParseResult::missing_field},
      {R"({"channel":"book","type":"update","data":[]})", ParseResult::missing_field},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.05,"qty":1}],"asks":[]}]})",
       ParseResult::too_precise},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1e5,"qty":1}],"asks":[]}]})",
       ParseResult::bad_decimal},
      {R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"timestamp":"yesterday"}]})",
       ParseResult::bad_time},
      {R"({"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"up","price":1.0,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:49:37.708706Z"}]})",
       ParseResult::bad_side},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(h.parse(c.json), c.expected) << c.json;
  }
  EXPECT_EQ(h.parser.counters().errors, std::size(cases) - 1); // unknown_instrument is a drop
  EXPECT_EQ(h.parser.counters().unknown_instrument, 1U);
}

TEST(kraken_parser, should_classify_every_channel) {
  Harness h;
  EXPECT_EQ(h.parse(R"({"channel":"heartbeat"})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::heartbeat);
  EXPECT_EQ(
      h.parse(
          R"({"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":18446744073709551615}]})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::status);
  EXPECT_EQ(
      h.parse(
          R"({"method":"subscribe","req_id":1,"result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2026-08-12T19:28:08.287297Z","time_out":"2026-08-12T19:28:08.287347Z"})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::method);
  EXPECT_TRUE(h.message.success);
  EXPECT_EQ(
      h.parse(
          R"({"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":63297.7,"bid_qty":5.75119051,"ask":63297.8,"ask_qty":0.36977971,"last":63297.8,"volume":1020.88387727,"vwap":63685.7,"low":63250,"high":64409.2,"change":0.7,"change_pct":0,"trades":47535,"timestamp":"2026-08-12T19:29:00.921195Z"}]})"),
      ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::ticker);
  EXPECT_EQ(h.message.bid.price, 632977);
  EXPECT_EQ(h.message.ask.qty, 36977971);
  EXPECT_EQ(
      h.parse(
          R"({"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":29430.2,"qty":40.0,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"},{"symbol":"BTC/USD","side":"buy","price":29430.3,"qty":0.5,"ord_type":"limit","trade_id":4665907,"timestamp":"2023-09-25T07:49:37.708706Z"}]})"),
      ParseResult::ok);
  ASSERT_EQ(h.message.kind, MessageKind::trade);
  ASSERT_EQ(h.message.trades.size(), 2U);
  EXPECT_EQ(h.message.trades[0].taker_side, core::Side::ask);
  EXPECT_EQ(h.message.trades[0].qty, 4'000'000'000);
  EXPECT_EQ(h.message.trades[1].trade_id, 4665907U);
  std::size_t trades = 0;
  (void)h.sync.on_message(h.message, 0, [&](const Event& e) { trades += e.kind == EventKind::trade ? 1U : 0U; });
  EXPECT_EQ(trades, 2U);
}

TEST(kraken_book_sync, should_drop_updates_before_the_snapshot_and_truncate_to_depth) {
  Harness h;
  EXPECT_EQ(h.feed(R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[]}]})"),
            SyncOutcome::not_live);
  BookSync small(1, 2);
  small.set_precision(0, 1, 8, 1, 8);
  ASSERT_EQ(h.parse(R"({"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":10.0,"qty":1},{"price":9.0,"qty":1},{"price":8.0,"qty":1}],"asks":[{"price":11.0,"qty":1}]}]})"),
            ParseResult::ok);
  std::vector<Event> events;
  EXPECT_EQ(small.on_message(h.message, 0, [&](const Event& e) { events.push_back(e); }),
            SyncOutcome::snapshot_applied);
  ASSERT_EQ(small.bids(0).size(), 2U);
  EXPECT_EQ(small.bids(0).back().price, 90);
  EXPECT_EQ(small.counters(0).truncated_levels, 1U);
  ASSERT_EQ(h.parse(R"({"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":11.0,"qty":0},{"price":9.5,"qty":2}],"asks":[]}]})"),
            ParseResult::ok);
  events.clear();
  EXPECT_EQ(small.on_message(h.message, 0, [&](const Event& e) { events.push_back(e); }), SyncOutcome::applied);
  EXPECT_EQ(small.bids(0).back().price, 95);
  ASSERT_EQ(events.size(), 3U); // the two levels, then 9.0 truncated as a delete
  EXPECT_EQ(events[2].level.price, 90);
  EXPECT_EQ(events[2].level.qty, 0);
  EXPECT_NE(events[2].flags & core::kFlagLastInMessage, 0U);
}

} // namespace
} // namespace qf::feeds::kraken
