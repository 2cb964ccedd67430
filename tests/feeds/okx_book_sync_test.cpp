// OKX v5: BookSync over the real 2022 capture (every checksum of the file verifies; the books
// messages are counted independently here by plain text search, the final tops come from an
// independent Decimal book built in Python from the same file), a corrupted checksum and a
// sequence break (the capture predates seqId: the chain is added to its real messages here), each
// a gap that resyncs without publishing the failed book.
#include "qf/feeds/capture.hpp"
#include "qf/feeds/okx/book_sync.hpp"
#include "qf/feeds/okx/parser.hpp"
#include "qf/feeds/padded_buffer.hpp"

#include <gtest/gtest.h>

#include "capture_paths.hpp"
#include "parse_result_printer.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace qf::feeds::okx {
namespace {

namespace fs = std::filesystem;
using core::Event;
using core::EventKind;
using core::FeedStatus;

const fs::path kOkx = test::kCaptures / "okx/multi_20220513.capture";
using test::frames;

struct Instrument {
  const char* inst_id;
  int price_decimals;
  int qty_decimals;
};
// The decimals the capture shows (largest per field), as replay infers them.
constexpr Instrument kInstruments[] = {{"BTC-USD-220527", 1, 0}, {"UNI-USD-SWAP", 3, 0}, {"BTC-USDT", 1, 8}};
constexpr core::InstrumentId kBtcUsdt = 2;

// The books frames of one instrument, in capture order (the first is its snapshot).
std::vector<std::string> books_of(const std::vector<std::string>& all, std::string_view inst_id) {
  std::string arg = R"({"arg":{"channel":"books","instId":")";
  arg.append(inst_id).append("\"}");
  std::vector<std::string> out;
  for (const std::string& f : all) {
    if (f.rfind(arg, 0) == 0) {
      out.push_back(f);
    }
  }
  return out;
}

// The frame with `"prevSeqId":prev,"seqId":seq` added to its data element.
std::string with_seq(std::string frame, std::int64_t prev, std::int64_t seq) {
  const std::size_t at = frame.find("\"checksum\":");
  std::string ids = "\"prevSeqId\":";
  ids.append(std::to_string(prev)).append(",\"seqId\":").append(std::to_string(seq)).append(",");
  frame.insert(at, ids);
  return frame;
}

// The frame with the last digit of its checksum changed (still a signed 32-bit value).
std::string corrupted(std::string frame) {
  const std::size_t at = frame.find_first_not_of("-0123456789", frame.find("\"checksum\":") + 11) - 1;
  frame[at] = frame[at] == '9' ? '8' : static_cast<char>(frame[at] + 1);
  return frame;
}

struct Harness {
  explicit Harness(std::size_t depth = 400) : buffer(parser.config().max_message_bytes), sync(3, depth) {
    for (std::size_t i = 0; i < std::size(kInstruments); ++i) {
      const Instrument& in = kInstruments[i];
      parser.add_instrument(in.inst_id, static_cast<core::InstrumentId>(i), in.price_decimals, in.qty_decimals);
      sync.set_decimals(static_cast<core::InstrumentId>(i), in.price_decimals, in.qty_decimals);
    }
  }
  SyncOutcome feed(std::string_view json) {
    if (!buffer.assign(json)) {
      ADD_FAILURE() << "payload larger than the parser's buffer";
    }
    const ParseResult r = parser.parse(buffer, message);
    EXPECT_EQ(r, ParseResult::ok) << json;
    return sync.on_message(message, 0, [&](const Event& e) { events.push_back(e); });
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
  BookSync sync;
  std::vector<Event> events;
};

class okx_capture : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fs::is_regular_file(kOkx)) {
      FAIL() << "no capture at " << kOkx << ": ../shared/captures must sit beside the repository";
    }
  }
};

TEST_F(okx_capture, should_verify_every_checksum_of_the_capture) {
  const auto all = frames(kOkx);
  std::uint64_t with_checksum = 0; // counted without the parser: plain text search
  std::uint64_t snapshots = 0;
  for (const std::string& f : all) {
    if (f.find("\"channel\":\"books\"") != std::string::npos && f.find("\"event\"") == std::string::npos) {
      with_checksum += f.find("\"checksum\":") != std::string::npos ? 1U : 0U;
      snapshots += f.find("\"action\":\"snapshot\"") != std::string::npos ? 1U : 0U;
    }
  }
  ASSERT_EQ(with_checksum, 290U); // PROTOCOLS.md 6.2: 290 of 290 (3 snapshots, 287 updates)
  ASSERT_EQ(snapshots, 3U);

  Harness h;
  for (const std::string& f : all) {
    const SyncOutcome o = h.feed(f);
    EXPECT_NE(o, SyncOutcome::mismatch) << f;
    EXPECT_NE(o, SyncOutcome::not_live) << f;
  }
  EXPECT_EQ(h.parser.counters().errors, 0U);
  std::uint64_t verified = 0;
  for (std::size_t i = 0; i < std::size(kInstruments); ++i) {
    const auto id = static_cast<core::InstrumentId>(i);
    const BookSyncCounters& c = h.sync.counters(id);
    const std::size_t books = books_of(all, kInstruments[i].inst_id).size();
    EXPECT_EQ(c.checksums_verified, books) << kInstruments[i].inst_id;
    EXPECT_EQ(c.checksum_mismatches, 0U);
    EXPECT_EQ(c.sequence_gaps, 0U);
    EXPECT_EQ(c.snapshots_applied, 1U);
    EXPECT_EQ(c.applied_updates, books - 1);
    EXPECT_EQ(c.truncated_levels, 0U); // OKX keeps BTC-USDT at exactly 400 itself
    EXPECT_EQ(h.sync.state(id), BookState::live);
    EXPECT_FALSE(h.sync.take_resubscribe_request(id));
    std::printf("okx %s: %llu of %zu checksums verified, %llu mismatches\n", kInstruments[i].inst_id,
                static_cast<unsigned long long>(c.checksums_verified), books,
                static_cast<unsigned long long>(c.checksum_mismatches));
    verified += c.checksums_verified;
  }
  EXPECT_EQ(verified, with_checksum);
  std::printf("okx capture: %llu of %llu checksums verified\n", static_cast<unsigned long long>(verified),
              static_cast<unsigned long long>(with_checksum));

  // Final tops and depths of an independent Decimal book (Python, the same capture).
  const struct {
    std::int64_t bid, bid_qty, ask, ask_qty;
    std::size_t bids, asks;
  } expected[] = {
      {302'294, 2, 302'388, 3, 74, 62},                  // BTC-USD-220527 30229.4 x 2 / 30238.8 x 3
      {5'137, 20, 5'145, 50, 125, 118},                  // UNI-USD-SWAP 5.137 x 20 / 5.145 x 50
      {302'361, 18'050'747, 302'362, 100'000, 400, 400}, // BTC-USDT 30236.1 x 0.18050747 / 30236.2 x 0.001
  };
  for (std::size_t i = 0; i < std::size(kInstruments); ++i) {
    const auto id = static_cast<core::InstrumentId>(i);
    ASSERT_FALSE(h.sync.bids(id).empty());
    ASSERT_FALSE(h.sync.asks(id).empty());
    EXPECT_EQ(h.sync.bids(id).front().price, expected[i].bid) << kInstruments[i].inst_id;
    EXPECT_EQ(h.sync.bids(id).front().qty, expected[i].bid_qty);
    EXPECT_EQ(h.sync.asks(id).front().price, expected[i].ask);
    EXPECT_EQ(h.sync.asks(id).front().qty, expected[i].ask_qty);
    EXPECT_EQ(h.sync.bids(id).size(), expected[i].bids);
    EXPECT_EQ(h.sync.asks(id).size(), expected[i].asks);
  }
}

TEST_F(okx_capture, should_verify_the_checksum_at_any_decimals_that_hold_the_values) {
  const auto all = frames(kOkx);
  const auto btc = books_of(all, "BTC-USDT");
  Parser parser;
  parser.add_instrument("BTC-USDT", 0, 6, 12);
  BookSync sync(1);
  sync.set_decimals(0, 6, 12);
  PaddedBuffer buffer(parser.config().max_message_bytes);
  Message m;
  for (const std::string& f : btc) {
    ASSERT_TRUE(buffer.assign(f));
    ASSERT_EQ(parser.parse(buffer, m), ParseResult::ok);
    (void)sync.on_message(m, 0, [](const Event&) {});
  }
  EXPECT_EQ(sync.counters(0).checksums_verified, btc.size());
  EXPECT_EQ(sync.counters(0).checksum_mismatches, 0U);
}

TEST_F(okx_capture, should_resync_on_a_corrupted_checksum_without_publishing_the_book) {
  const auto btc = books_of(frames(kOkx), "BTC-USDT");
  ASSERT_GE(btc.size(), 4U);
  Harness h;
  EXPECT_EQ(h.feed(btc[0]), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.feed(btc[1]), SyncOutcome::applied);
  h.events.clear();
  EXPECT_EQ(h.feed(corrupted(btc[2])), SyncOutcome::mismatch);
  EXPECT_EQ(h.sync.state(kBtcUsdt), BookState::syncing);
  EXPECT_EQ(h.sync.counters(kBtcUsdt).checksum_mismatches, 1U);
  ASSERT_EQ(h.events.size(), 1U); // the gap only: no level of the failed book went out
  EXPECT_EQ(h.events[0].kind, EventKind::status);
  EXPECT_EQ(h.events[0].status, FeedStatus::gap);
  EXPECT_TRUE(h.sync.take_resubscribe_request(kBtcUsdt));
  EXPECT_FALSE(h.sync.take_resubscribe_request(kBtcUsdt));
  EXPECT_EQ(h.feed(btc[3]), SyncOutcome::not_live); // dropped until a fresh snapshot
  EXPECT_EQ(h.sync.counters(kBtcUsdt).dropped_not_live, 1U);
  EXPECT_EQ(h.feed(btc[0]), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.sync.state(kBtcUsdt), BookState::live);
}

TEST_F(okx_capture, should_resync_on_a_corrupted_snapshot_checksum) {
  const auto btc = books_of(frames(kOkx), "BTC-USDT");
  Harness h;
  EXPECT_EQ(h.feed(corrupted(btc[0])), SyncOutcome::mismatch);
  EXPECT_EQ(h.sync.state(kBtcUsdt), BookState::syncing);
  for (const Event& e : h.events) {
    EXPECT_NE(e.kind, EventKind::snapshot_end);
  }
  EXPECT_TRUE(h.sync.take_resubscribe_request(kBtcUsdt));
}

TEST_F(okx_capture, should_chain_seq_ids_and_resync_on_a_sequence_break) {
  const auto btc = books_of(frames(kOkx), "BTC-USDT");
  ASSERT_GE(btc.size(), 5U);
  // The real messages with a chain added: snapshot prevSeqId -1, then +1 a message.
  std::vector<std::string> chained;
  for (std::size_t i = 0; i < btc.size(); ++i) {
    chained.push_back(
        with_seq(btc[i], i == 0 ? -1 : 1000 + static_cast<std::int64_t>(i) - 1, 1000 + static_cast<std::int64_t>(i)));
  }
  {
    Harness h;
    for (const std::string& f : chained) {
      const SyncOutcome o = h.feed(f);
      EXPECT_TRUE(o == SyncOutcome::snapshot_applied || o == SyncOutcome::applied) << f;
    }
    EXPECT_EQ(h.sync.counters(kBtcUsdt).checksums_verified, btc.size());
    EXPECT_EQ(h.sync.counters(kBtcUsdt).sequence_gaps, 0U);
    // Book events carry seqId.
    ASSERT_FALSE(h.events.empty());
    EXPECT_EQ(h.events.back().seq, 1000 + btc.size() - 1);
  }
  Harness h;
  EXPECT_EQ(h.feed(chained[0]), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.feed(chained[1]), SyncOutcome::applied);
  h.events.clear();
  EXPECT_EQ(h.feed(chained[3]), SyncOutcome::sequence_gap); // chained[2] lost: prevSeqId 1002 != 1001
  EXPECT_EQ(h.sync.counters(kBtcUsdt).sequence_gaps, 1U);
  EXPECT_EQ(h.sync.counters(kBtcUsdt).checksum_mismatches, 0U); // refused before it was applied
  EXPECT_EQ(h.sync.state(kBtcUsdt), BookState::syncing);
  ASSERT_EQ(h.events.size(), 1U);
  EXPECT_EQ(h.events[0].status, FeedStatus::gap);
  EXPECT_EQ(h.events[0].seq, 1003U);
  EXPECT_TRUE(h.sync.take_resubscribe_request(kBtcUsdt));
  EXPECT_EQ(h.feed(chained[4]), SyncOutcome::not_live);
  EXPECT_EQ(h.feed(chained[0]), SyncOutcome::snapshot_applied); // the fresh snapshot restarts the chain
  EXPECT_EQ(h.feed(chained[1]), SyncOutcome::applied);
}

TEST_F(okx_capture, should_accept_idle_updates_and_a_seq_id_reset_that_chains) {
  const auto btc = books_of(frames(kOkx), "BTC-USDT");
  Harness h;
  EXPECT_EQ(h.feed(with_seq(btc[0], -1, 500)), SyncOutcome::snapshot_applied);
  // Idle: no change, seqId == prevSeqId, the unchanged book's checksum (the snapshot's).
  const std::size_t at = btc[0].find("\"checksum\":") + 11;
  const std::string checksum = btc[0].substr(at, btc[0].find_first_of(",}", at) - at);
  std::string idle =
      R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1652459226000","checksum":)";
  idle.append(checksum).append(R"(,"prevSeqId":500,"seqId":500}]})");
  EXPECT_EQ(h.feed(idle), SyncOutcome::applied);
  // After maintenance seqId restarts lower; the chain still holds through prevSeqId.
  EXPECT_EQ(h.feed(with_seq(btc[1], 500, 3)), SyncOutcome::applied);
  EXPECT_EQ(h.feed(with_seq(btc[2], 3, 4)), SyncOutcome::applied);
  EXPECT_EQ(h.sync.counters(kBtcUsdt).sequence_gaps, 0U);
  EXPECT_EQ(h.sync.counters(kBtcUsdt).checksums_verified, 4U);
}

TEST(okx_book_sync, should_truncate_to_depth_and_publish_the_deletes) {
  Harness h(25);
  std::string bids;
  for (int i = 0; i < 26; ++i) {
    bids.append(i == 0 ? "" : ",").append("[\"").append(std::to_string(100 - i)).append("\",\"1\",\"0\",\"1\"]");
  }
  std::string snapshot =
      R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["101","1","0","1"]],"bids":[)";
  snapshot.append(bids).append(R"(],"ts":"1"}]})");
  EXPECT_EQ(h.feed(snapshot), SyncOutcome::snapshot_applied);
  EXPECT_EQ(h.sync.bids(kBtcUsdt).size(), 25U);
  EXPECT_EQ(h.sync.counters(kBtcUsdt).truncated_levels, 1U);
  h.events.clear();
  EXPECT_EQ(
      h.feed(
          R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[["100.5","2","0","1"]],"ts":"2"}]})"),
      SyncOutcome::applied);
  ASSERT_EQ(h.events.size(), 2U); // the level, then 76 pushed out as a delete
  EXPECT_EQ(h.events[1].level.price, 760);
  EXPECT_EQ(h.events[1].level.qty, 0);
  EXPECT_NE(h.events[1].flags & core::kFlagLastInMessage, 0U);
}

TEST(okx_book_sync, should_pass_tickers_bbo_and_trades_and_ignore_acks) {
  Harness h;
  EXPECT_EQ(h.feed(R"({"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}})"), SyncOutcome::ignored);
  EXPECT_EQ(h.feed("pong"), SyncOutcome::ignored);
  EXPECT_EQ(
      h.feed(
          R"({"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["2","1","0","1"]],"bids":[["1","1","0","1"]],"ts":"1","seqId":9}]})"),
      SyncOutcome::passed);
  EXPECT_EQ(
      h.feed(
          R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}]})"),
      SyncOutcome::passed);
  EXPECT_EQ(h.sync.counters(kBtcUsdt).tickers, 1U);
  EXPECT_EQ(h.sync.counters(kBtcUsdt).trades, 1U);
  ASSERT_EQ(h.events.size(), 2U);
  EXPECT_EQ(h.events[0].kind, EventKind::bbo);
  EXPECT_EQ(h.events[1].kind, EventKind::trade);
}

} // namespace
} // namespace qf::feeds::okx
