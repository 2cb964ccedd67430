// The live Coinbase Advanced Trade feed (coinbase_advanced::Session on a FeedThread) against
// qf-venue --venue coinbase-advanced over real sockets on 127.0.0.1. No capture of the venue
// exists, so the replay test first records one: the session with a Recorder against the synthetic
// venue (one connection, sequence_num 0.. without a hole), then that file replayed by qf-venue
// --replay must yield exactly the events that parsing the file directly through the same Parser
// and BookSync yields, with the engine's instrument ids. Faults on the synthetic venue (its ticker
// follows each change of the best levels): after a drop, a stall (no heartbeats: stale), a
// shutdown, a gap (an update withheld and its sequence_num skipped), or an operator resync, the
// books come back from a fresh snapshot and every live book's top equals the venue's ticker at
// the same point of the connection's sequence; a sequence_num break is a gap for every live book,
// counted once per book and resynced by resubscribing level2, on the same connection; malformed
// frames are counted and cost nothing else.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "feed_watch.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/coinbase_advanced/book_sync.hpp"
#include "qf/feeds/coinbase_advanced/parser.hpp"
#include "qf/feeds/coinbase_advanced/session.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "qf/feeds/recorder.hpp"
#include "venue_process.hpp"

namespace qf::feeds {
namespace {

namespace ca = coinbase_advanced;
namespace fs = std::filesystem;
using test::Outcome;
using test::Streams;
using test::Venue;

// Engine ids are not the session's instrument indices: the session must translate.
constexpr core::InstrumentId kFirstId = 4;

const LogFn kLog = [](LogLevel, std::string_view text) {
  std::fprintf(stderr, "feed: %.*s\n", static_cast<int>(text.size()), text.data());
};

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("qf-cbadv-" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};

// Drains the thread's ring into `on` until `done` holds (120 s at most), then stops the thread.
void drain_until(FeedThread& thread, const std::function<void(const core::Event&)>& on,
                 const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (thread.ring().drain(on, 4096) == 0) {
      std::this_thread::yield(); // the ring is the synchronisation
    }
  }
  thread.stop();
  thread.ring().drain(on, FeedRing::capacity());
}

// A recording of the session against the synthetic venue: both books live, then 600 more book,
// bbo and trade events. Returns the file's path.
std::string record(const TempDir& dir) {
  Venue venue({"--venue", "coinbase-advanced", "--port", "0", "--synthetic", "--symbols", "BTC-USD,ETH-USD",
               "--rate", "400", "--seed", "11"});
  {
    Recorder recorder({dir.path.string(), "coinbase-advanced"});
    const ipc::TscClock clock = ipc::TscClock::monotonic();
    FeedThread thread(net::LoopConfig{}, clock, kLog);
    ca::SessionConfig sc;
    sc.ws = net::parse_url(venue.ws() + "/");
    sc.recorder = &recorder;
    thread.add_session(0, {1, 2}, [&](net::Loop& loop, EventSink sink) {
      return std::make_unique<ca::Session>(sc, std::vector<SessionInstrument>{{1, "BTC-USD", 1, 8}, {2, "ETH-USD", 2, 8}},
                                           loop, sink, kLog);
    });
    thread.start(nullptr);
    std::size_t live = 0, after_live = 0;
    drain_until(
        thread,
        [&](const core::Event& e) {
          if (e.kind == core::EventKind::status) {
            live += e.status == core::FeedStatus::book_live ? 1 : 0;
          } else if (live == 2) {
            ++after_live;
          }
        },
        [&] { return after_live >= 600; });
    EXPECT_EQ(live, 2U);
  } // the recorder writes everything queued
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    files.push_back(e.path());
  }
  EXPECT_EQ(files.size(), 1U);
  return files.empty() ? std::string() : files.front().string();
}

struct Direct {
  Streams streams;
  std::vector<SessionInstrument> instruments;
  ca::ConnectionCounters connection;
  std::size_t frames = 0;
};

// The recording parsed directly, in file order, products numbered in infer_capture_decimals order.
Direct direct(const std::string& path) {
  Direct out;
  for (const ca::ProductDecimals& d : ca::infer_capture_decimals(path)) {
    out.instruments.push_back(
        {static_cast<core::InstrumentId>(kFirstId + out.instruments.size()), d.product, d.price_decimals, d.qty_decimals});
  }
  ca::Parser parser;
  ca::BookSync sync(std::max<std::size_t>(out.instruments.size(), 1));
  for (std::size_t i = 0; i < out.instruments.size(); ++i) {
    const SessionInstrument& s = out.instruments[i];
    parser.add_instrument(s.symbol, static_cast<core::InstrumentId>(i), s.price_decimals, s.qty_decimals);
  }
  PaddedBuffer padded(parser.config().max_message_bytes);
  auto sink = [&](const core::Event& e) { out.streams.add(e, static_cast<core::InstrumentId>(e.instrument + kFirstId)); };
  CaptureReader reader(path);
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind != CaptureRecord::Kind::ws_frame) {
      continue;
    }
    ++out.frames;
    EXPECT_TRUE(padded.assign(r.text));
    ca::Message m;
    EXPECT_EQ(parser.parse(padded, m), ParseResult::ok) << r.text;
    (void)sync.on_message(m, 1, sink);
  }
  out.connection = sync.connection();
  return out;
}

TEST(coinbase_advanced_feed, should_yield_the_events_of_a_recording_through_the_venue) {
  const TempDir dir;
  const std::string path = record(dir);
  ASSERT_FALSE(path.empty());
  const Direct want = direct(path);
  ASSERT_EQ(want.instruments.size(), 2U);
  EXPECT_EQ(want.instruments[0].symbol, "BTC-USD");
  EXPECT_EQ(want.instruments[0].price_decimals, 1) << "inferred: the synthetic BTC ticks at 0.1";
  EXPECT_EQ(want.connection.sequence_gaps, 0U) << "one connection, sequence_num 0.. without a hole";
  EXPECT_EQ(want.connection.messages, want.frames);
  ASSERT_GT(want.streams.book.size(), 100U);
  ASSERT_GT(want.streams.other.size(), 50U);

  Venue venue({"--venue", "coinbase-advanced", "--port", "0", "--replay", path, "--speed", "5"});
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  auto feeds = std::make_unique<ipc::FeedTable>();
  FeedThread thread(net::LoopConfig{}, clock, kLog);
  ca::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws() + "/");
  std::vector<core::InstrumentId> ids;
  for (const SessionInstrument& s : want.instruments) {
    ids.push_back(s.id);
  }
  thread.add_session(0, ids, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<ca::Session>(sc, want.instruments, loop, sink, kLog);
  });
  thread.publish_to(feeds.get());
  thread.start(nullptr);
  Streams got;
  std::size_t subscribed = 0, live = 0, gaps = 0;
  drain_until(
      thread,
      [&](const core::Event& e) {
        if (e.instrument < kFirstId || e.instrument >= kFirstId + want.instruments.size()) {
          ++got.foreign_ids;
        }
        if (e.kind == core::EventKind::status) {
          subscribed += e.status == core::FeedStatus::subscribed ? 1 : 0;
          live += e.status == core::FeedStatus::book_live ? 1 : 0;
          gaps += e.status == core::FeedStatus::gap ? 1 : 0;
        }
        got.add(e, e.instrument);
      },
      [&] { return got.book.size() >= want.streams.book.size() && got.other.size() >= want.streams.other.size(); });
  ipc::FeedRecord record{};
  EXPECT_EQ(feeds->feeds[0].try_load(record), ipc::ReadStatus::ok);
  EXPECT_EQ(got.foreign_ids, 0U);
  EXPECT_EQ(subscribed, want.instruments.size()) << "the recording's subscriptions answer";
  EXPECT_EQ(live, want.instruments.size()) << "one snapshot each";
  EXPECT_EQ(gaps, 0U) << "the venue numbers the replay as the recording did";
  EXPECT_EQ(record.gaps, 0U);
  EXPECT_EQ(record.parse_errors, 0U);
  ASSERT_EQ(got.book.size(), want.streams.book.size());
  for (std::size_t i = 0; i < want.streams.book.size(); ++i) {
    ASSERT_EQ(got.book[i], want.streams.book[i]) << "book event " << i;
  }
  ASSERT_EQ(got.other.size(), want.streams.other.size());
  for (std::size_t i = 0; i < want.streams.other.size(); ++i) {
    ASSERT_EQ(got.other[i], want.streams.other[i]) << "bbo / trade event " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Faults. Each book is rebuilt from the ring; at every ticker of a live book its top (price and
// size, both sides) must equal the venue's.

// Two products on ids 3 and 7.
Outcome run_synthetic(const std::vector<std::string>& extra, core::FeedStatus fault,
                      const std::function<bool(const Outcome&)>& until,
                      const std::function<void(Outcome&, FeedThread&)>& act) {
  const auto args = test::synthetic_venue_args("coinbase-advanced", "BTC-USD,ETH-USD", extra);
  const auto make = [](const std::string& ws, net::Loop& loop, EventSink sink) -> std::unique_ptr<VenueSession> {
    ca::SessionConfig sc;
    sc.ws = net::parse_url(ws + "/");
    test::test_timings(sc); // heartbeats every second keep a quiet connection fresh
    return std::make_unique<ca::Session>(
        sc, std::vector<SessionInstrument>{{3, "BTC-USD", 1, 8}, {7, "ETH-USD", 2, 8}}, loop, sink, kLog);
  };
  return test::run_synthetic(args, {3, 7}, make, fault, until, act);
}

QF_CONNECTION_FAULT_TESTS(coinbase_advanced_feed)

TEST(coinbase_advanced_feed, should_detect_a_skipped_sequence_num_and_resubscribe_every_book) {
  test::expect_integrity_faults_resubscribed(run_synthetic, "--gap-every");
}

} // namespace
} // namespace qf::feeds
