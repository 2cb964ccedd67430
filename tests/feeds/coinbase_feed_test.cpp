// The live Coinbase Exchange feed (coinbase::Session on a FeedThread) against qf-venue --venue
// coinbase over real sockets on 127.0.0.1. Replay: the events drained from the ring must be
// exactly those that parsing the capture directly through the same Parser and BookSync yields
// (book events in order; tickers and trades in order), with the engine's instrument ids. Faults
// on the synthetic venue (whose ticker follows each l2update of its product with the book's new
// top and sizes): after a drop, a stall or an operator resync the books come back from a fresh
// snapshot and every live book's top equals the venue's ticker; malformed frames are counted
// and cost nothing else.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "capture_paths.hpp"
#include "feed_watch.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/coinbase/book_sync.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/coinbase/session.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "venue_process.hpp"

namespace qf::feeds {
namespace {

namespace cb = coinbase;
using test::expect_recovered;
using test::Outcome;
using test::recovered;
using test::Streams;
using test::Venue;
using test::Watch;

// Engine ids are not the session's product indices: the session must translate.
constexpr core::InstrumentId kFirstId = 5;

const LogFn kLog = [](LogLevel, std::string_view text) {
  std::fprintf(stderr, "feed: %.*s\n", static_cast<int>(text.size()), text.data());
};

std::string capture() { return test::kCoinbase.string(); }

// The capture parsed directly, in file order, products numbered in infer_capture_decimals order.
Streams direct(const std::vector<cb::ProductDecimals>& products) {
  cb::Parser parser;
  for (std::size_t i = 0; i < products.size(); ++i) {
    parser.add_instrument(products[i].product, static_cast<core::InstrumentId>(i), products[i].price_decimals,
                          products[i].qty_decimals);
  }
  cb::BookSync sync(products.size());
  PaddedBuffer padded(parser.config().max_message_bytes);
  Streams out;
  auto sink = [&](const core::Event& e) { out.add(e, static_cast<core::InstrumentId>(e.instrument + kFirstId)); };
  CaptureReader reader(capture());
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind != CaptureRecord::Kind::ws_frame) {
      continue;
    }
    EXPECT_TRUE(padded.assign(r.text));
    cb::Message m;
    if (parser.parse(padded, m) == ParseResult::ok) {
      (void)sync.on_message(m, 1, sink);
    }
  }
  return out;
}

TEST(coinbase_feed, should_yield_the_events_of_the_capture_through_the_venue) {
  const std::vector<cb::ProductDecimals> products = cb::infer_capture_decimals(capture());
  ASSERT_EQ(products.size(), 10U);
  const Streams want = direct(products);
  ASSERT_GT(want.book.size(), 1000U);
  ASSERT_GT(want.other.size(), 200U);

  Venue venue({"--venue", "coinbase", "--port", "0", "--replay", capture(), "--speed", "10"});
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  FeedThread thread(net::LoopConfig{}, clock, kLog);
  cb::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws());
  std::vector<SessionInstrument> instruments;
  std::vector<core::InstrumentId> ids;
  for (std::size_t i = 0; i < products.size(); ++i) {
    const auto id = static_cast<core::InstrumentId>(i + kFirstId);
    instruments.push_back({id, products[i].product, products[i].price_decimals, products[i].qty_decimals});
    ids.push_back(id);
  }
  thread.add_session(0, ids, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<cb::Session>(sc, instruments, loop, sink, kLog);
  });
  thread.start(nullptr);
  Streams got;
  std::size_t subscribed = 0;
  const auto on = [&](const core::Event& e) {
    if (e.instrument < kFirstId || e.instrument >= kFirstId + products.size()) {
      ++got.foreign_ids;
    }
    subscribed += e.kind == core::EventKind::status && e.status == core::FeedStatus::subscribed ? 1 : 0;
    got.add(e, e.instrument);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while ((got.book.size() < want.book.size() || got.other.size() < want.other.size()) &&
         std::chrono::steady_clock::now() < deadline) {
    if (thread.ring().drain(on, 4096) == 0) {
      std::this_thread::yield(); // the ring is the synchronisation
    }
  }
  thread.stop();
  thread.ring().drain(on, FeedRing::capacity());
  EXPECT_EQ(got.foreign_ids, 0U);
  EXPECT_EQ(subscribed, products.size());
  ASSERT_EQ(got.other.size(), want.other.size());
  for (std::size_t i = 0; i < want.other.size(); ++i) {
    ASSERT_EQ(got.other[i], want.other[i]) << "ticker/trade event " << i;
  }
  ASSERT_EQ(got.book.size(), want.book.size());
  for (std::size_t i = 0; i < want.book.size(); ++i) {
    ASSERT_EQ(got.book[i], want.book[i]) << "book event " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Faults. Each book is rebuilt from the ring; at every ticker of a live book the book's top
// (price and size, both sides) must equal the ticker's best bid/ask.

// Two products on ids 3 and 7.
Outcome run_synthetic(const std::vector<std::string>& extra, core::FeedStatus fault,
                      const std::function<bool(const Outcome&)>& until,
                      const std::function<void(Outcome&, FeedThread&)>& act = nullptr) {
  std::vector<std::string> args{"--venue", "coinbase", "--port", "0", "--synthetic", "--symbols", "BTC-USD,ETH-USD",
                                "--rate", "400", "--seed", "11"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto make = [](const std::string& ws, net::Loop& loop, EventSink sink) -> std::unique_ptr<VenueSession> {
    cb::SessionConfig sc;
    sc.ws = net::parse_url(ws);
    sc.stale_after_ms = 1500; // heartbeats come every second
    sc.reconnect_min_ms = 20;
    sc.reconnect_max_ms = 200;
    return std::make_unique<cb::Session>(
        sc, std::vector<SessionInstrument>{{3, "BTC-USD", 2, 8}, {7, "ETH-USD", 2, 8}}, loop, sink, kLog);
  };
  return test::run_synthetic(args, {3, 7}, make, fault, until, act);
}

TEST(coinbase_feed, should_reconnect_after_a_drop_and_rebuild_the_books_from_a_fresh_snapshot) {
  const Outcome run = run_synthetic({"--drop-after", "1"}, core::FeedStatus::disconnected, recovered);
  expect_recovered(run);
  EXPECT_GT(run.record.reconnects, 0U);
  EXPECT_EQ(run.record.parse_errors, 0U);
  for (const Watch& w : run.w) {
    EXPECT_GT(w.count(core::FeedStatus::connected), 1U);
    EXPECT_GT(w.count(core::FeedStatus::subscribed), 1U);
  }
}

TEST(coinbase_feed, should_call_a_stalled_connection_stale_and_reconnect) {
  const Outcome run = run_synthetic({"--stall-after", "2", "--stall-for", "4"}, core::FeedStatus::stale, recovered);
  expect_recovered(run);
  EXPECT_GT(run.record.reconnects, 0U);
  for (const Watch& w : run.w) {
    EXPECT_GT(w.count(core::FeedStatus::disconnected), 0U);
  }
}

TEST(coinbase_feed, should_resubscribe_one_product_on_resync_and_keep_the_connection) {
  bool sent = false;
  const Outcome run = run_synthetic(
      {}, core::FeedStatus::resync,
      [](const Outcome& r) { return r.w[1].fault_seen && r.w[1].live && r.w[1].checks_after_fault >= 20; },
      [&](Outcome& r, FeedThread& t) {
        if (!sent && r.w[1].live && r.w[1].checks >= 20) {
          sent = t.requests().try_push({FeedRequest::Kind::resync, 7});
        }
      });
  ASSERT_TRUE(sent);
  EXPECT_EQ(run.foreign_ids, 0U);
  const Watch& eth = run.w[1];
  EXPECT_EQ(eth.count(core::FeedStatus::resync), 1U);
  EXPECT_TRUE(eth.live);
  EXPECT_EQ(eth.snapshots_after_fault, 1U) << "the resubscribe brings exactly one fresh snapshot";
  EXPECT_GE(eth.checks_after_fault, 20U);
  EXPECT_EQ(eth.mismatches, 0U);
  EXPECT_EQ(run.w[0].count(core::FeedStatus::resync), 0U) << "only the asked product resyncs";
  EXPECT_EQ(run.w[0].mismatches, 0U);
  EXPECT_EQ(run.record.reconnects, 0U);
  EXPECT_EQ(run.w[0].count(core::FeedStatus::disconnected), 0U);
  EXPECT_GE(run.record.resyncs, 1U);
}

TEST(coinbase_feed, should_count_malformed_frames_and_keep_the_connection) {
  const Outcome run = run_synthetic({"--malformed-every", "25"}, core::FeedStatus::gap,
                                [](const Outcome& r) { return r.record.parse_errors >= 10; });
  EXPECT_GE(run.record.parse_errors, 10U);
  EXPECT_EQ(run.record.reconnects, 0U) << "a malformed frame must not cost the connection";
  EXPECT_GT(run.record.messages, run.record.parse_errors * 10);
  for (const Watch& w : run.w) {
    EXPECT_EQ(w.count(core::FeedStatus::disconnected), 0U);
    EXPECT_TRUE(w.live);
    EXPECT_GT(w.checks, 0U);
    EXPECT_EQ(w.mismatches, 0U);
  }
}

} // namespace
} // namespace qf::feeds
