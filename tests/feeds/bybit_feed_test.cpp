// The live Bybit v5 feed (bybit::Session on a FeedThread) against qf-venue --venue bybit-spot|
// bybit-linear over real sockets on 127.0.0.1. Replay: the events drained from the ring must be
// exactly those that parsing the capture directly through the same Parser and BookSync yields,
// with the engine's instrument ids (the spot capture holds one orderbook.50 snapshot and one
// delta, counted here by plain text search). Faults on the synthetic linear venue (its ticker
// deltas carry the best bid/ask after each trade, so every bbo of a live book is checked against
// the book): after a drop, a stall, a shutdown, a gap (a delta withheld, caught by the u chain) or
// an operator resync the books come back from a fresh snapshot; u breaks are counted as gaps and
// resynced by resubscribing on the same connection; malformed frames are counted and cost nothing
// else.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "capture_paths.hpp"
#include "feed_watch.hpp"
#include "qf/feeds/bybit/book_sync.hpp"
#include "qf/feeds/bybit/parser.hpp"
#include "qf/feeds/bybit/session.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "venue_process.hpp"

namespace qf::feeds {
namespace {

using test::Outcome;
using test::Streams;
using test::Venue;

// Engine ids are not the session's instrument indices: the session must translate.
constexpr core::InstrumentId kFirstId = 4;

const LogFn kLog = [](LogLevel, std::string_view text) {
  std::fprintf(stderr, "feed: %.*s\n", static_cast<int>(text.size()), text.data());
};

std::string capture() { return (test::kCaptures / "bybit/btcusdt_orderbook50_20241108.capture").string(); }

// The capture's instruments at the decimals replay infers (the largest seen per field).
std::vector<SessionInstrument> capture_instruments() {
  std::vector<SessionInstrument> out;
  for (const bybit::SymbolDecimals& d : bybit::infer_capture_decimals(capture())) {
    out.push_back({static_cast<core::InstrumentId>(kFirstId + out.size()), d.symbol, d.price_decimals, d.qty_decimals});
  }
  return out;
}

// The capture parsed directly, in file order.
Streams direct(const std::vector<SessionInstrument>& instruments) {
  bybit::Parser parser;
  bybit::BookSync sync(instruments.size(), 50);
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    parser.add_instrument(instruments[i].symbol, static_cast<core::InstrumentId>(i), instruments[i].price_decimals,
                          instruments[i].qty_decimals);
  }
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
    bybit::Message m;
    if (parser.parse(padded, m) == ParseResult::ok) {
      (void)sync.on_message(m, 1, sink);
    }
  }
  return out;
}

std::size_t frames_containing(std::string_view needle) {
  const std::vector<std::string> all = test::frames(capture());
  return static_cast<std::size_t>(
      std::count_if(all.begin(), all.end(), [&](const std::string& f) { return f.find(needle) != std::string::npos; }));
}

TEST(bybit_feed, should_yield_the_events_of_the_capture_through_the_venue) {
  ASSERT_EQ(frames_containing(R"("topic":"orderbook.50.BTCUSDT")"), 2U);
  ASSERT_EQ(frames_containing(R"("type":"delta")"), 1U);
  const std::vector<SessionInstrument> instruments = capture_instruments();
  ASSERT_EQ(instruments.size(), 1U);
  const Streams want = direct(instruments);
  ASSERT_GT(want.book.size(), 100U) << "a 50-level snapshot a side, then the delta";

  Venue venue({"--venue", "bybit-spot", "--port", "0", "--replay", capture(), "--speed", "20"});
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  auto feeds = std::make_unique<ipc::FeedTable>();
  FeedThread thread(net::LoopConfig{}, clock, kLog);
  bybit::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws() + "/v5/public/spot");
  std::vector<core::InstrumentId> ids;
  for (const SessionInstrument& s : instruments) {
    ids.push_back(s.id);
  }
  thread.add_session(0, ids, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<bybit::Session>(sc, instruments, loop, sink, kLog);
  });
  thread.publish_to(feeds.get());
  thread.start(nullptr);
  Streams got;
  std::size_t subscribed = 0, live = 0, gaps = 0;
  const auto on = [&](const core::Event& e) {
    if (e.instrument < kFirstId || e.instrument >= kFirstId + instruments.size()) {
      ++got.foreign_ids;
    }
    if (e.kind == core::EventKind::status) {
      subscribed += e.status == core::FeedStatus::subscribed ? 1 : 0;
      live += e.status == core::FeedStatus::book_live ? 1 : 0;
      gaps += e.status == core::FeedStatus::gap ? 1 : 0;
    }
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
  ipc::FeedRecord record{};
  EXPECT_EQ(feeds->feeds[0].try_load(record), ipc::ReadStatus::ok);
  EXPECT_EQ(got.foreign_ids, 0U);
  EXPECT_EQ(subscribed, instruments.size());
  EXPECT_EQ(live, instruments.size()) << "one snapshot each";
  EXPECT_EQ(gaps, 0U) << "the delta chains on the snapshot over the socket";
  EXPECT_EQ(record.gaps, 0U);
  EXPECT_EQ(record.parse_errors, 0U);
  ASSERT_EQ(got.book.size(), want.book.size());
  for (std::size_t i = 0; i < want.book.size(); ++i) {
    ASSERT_EQ(got.book[i], want.book[i]) << "book event " << i;
  }
  ASSERT_EQ(got.other.size(), want.other.size());
}

// ---------------------------------------------------------------------------------------------
// Faults on the linear venue: each book is rebuilt from the ring; at every bbo of a live book
// (the merged ticker) its top must equal the book's.

// Two instruments on ids 3 and 7.
Outcome run_synthetic(const std::vector<std::string>& extra, core::FeedStatus fault,
                      const std::function<bool(const Outcome&)>& until,
                      const std::function<void(Outcome&, FeedThread&)>& act) {
  const auto args = test::synthetic_venue_args("bybit-linear", "BTCUSDT,ETHUSDT", extra);
  const auto make = [](const std::string& ws, net::Loop& loop, EventSink sink) -> std::unique_ptr<VenueSession> {
    bybit::SessionConfig sc;
    sc.name = "bybit-linear";
    sc.ws = net::parse_url(ws + "/v5/public/linear");
    test::test_timings(sc);
    sc.ping_interval_ms = 100; // op pings during every run
    return std::make_unique<bybit::Session>(
        sc, std::vector<SessionInstrument>{{3, "BTCUSDT", 1, 8}, {7, "ETHUSDT", 2, 8}}, loop, sink, kLog);
  };
  return test::run_synthetic(args, {3, 7}, make, fault, until, act);
}

QF_CONNECTION_FAULT_TESTS(bybit_feed)

TEST(bybit_feed, should_detect_a_withheld_delta_by_its_u_chain_and_resubscribe_the_book) {
  test::expect_integrity_faults_resubscribed(run_synthetic, "--gap-every");
}

} // namespace
} // namespace qf::feeds
