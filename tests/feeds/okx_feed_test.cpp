// The live OKX v5 feed (okx::Session on a FeedThread) against qf-venue --venue okx over real
// sockets on 127.0.0.1. Replay: the events drained from the ring must be exactly those that
// parsing the capture directly through the same Parser and BookSync yields, with the engine's
// instrument ids, and every one of the capture's 290 books checksums verifies on the way (the
// captures README's counts are wrong: the file holds 290 books, 28 tickers and 74 trades
// messages, counted here by plain text search). Faults on the synthetic venue (its bbo-tbt follows
// each change of the best levels and carries the book's seqId; its checksums are computed by the
// venue from its own book): after a drop, a stall, a shutdown notice, a gap (an update withheld,
// caught by the seqId chain), a corrupted checksum or an operator resync the books come back from
// a fresh snapshot and every live book's top equals the venue's bbo-tbt at the same seqId; seqId
// breaks and checksum mismatches are counted as gaps and resynced by resubscribing, on the same
// connection; malformed frames are counted and cost nothing else.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "capture_paths.hpp"
#include "feed_watch.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "qf/feeds/okx/book_sync.hpp"
#include "qf/feeds/okx/parser.hpp"
#include "qf/feeds/okx/session.hpp"
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

std::string capture() { return (test::kCaptures / "okx/multi_20220513.capture").string(); }

// The capture's instruments at the decimals replay infers (the largest seen per field).
std::vector<SessionInstrument> capture_instruments() {
  std::vector<SessionInstrument> out;
  for (const okx::InstrumentDecimals& d : okx::infer_capture_decimals(capture())) {
    out.push_back({static_cast<core::InstrumentId>(kFirstId + out.size()), d.inst_id, d.price_decimals, d.qty_decimals});
  }
  return out;
}

struct Direct {
  Streams streams;
  std::uint64_t verified = 0;
  std::uint64_t mismatches = 0;
};

// The capture parsed directly, in file order.
Direct direct(const std::vector<SessionInstrument>& instruments) {
  okx::Parser parser;
  okx::BookSync sync(instruments.size());
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const SessionInstrument& s = instruments[i];
    const auto id = static_cast<core::InstrumentId>(i);
    parser.add_instrument(s.symbol, id, s.price_decimals, s.qty_decimals);
    sync.set_decimals(id, s.price_decimals, s.qty_decimals);
  }
  PaddedBuffer padded(parser.config().max_message_bytes);
  Direct out;
  auto sink = [&](const core::Event& e) { out.streams.add(e, static_cast<core::InstrumentId>(e.instrument + kFirstId)); };
  CaptureReader reader(capture());
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind != CaptureRecord::Kind::ws_frame) {
      continue;
    }
    EXPECT_TRUE(padded.assign(r.text));
    okx::Message m;
    if (parser.parse(padded, m) == ParseResult::ok) {
      (void)sync.on_message(m, 1, sink);
    }
  }
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    out.verified += sync.counters(static_cast<core::InstrumentId>(i)).checksums_verified;
    out.mismatches += sync.counters(static_cast<core::InstrumentId>(i)).checksum_mismatches;
  }
  return out;
}

// Frames of the capture whose text starts with `prefix` (the real counts, independent of the parser).
std::size_t frames_starting(std::string_view prefix) {
  const std::vector<std::string> all = test::frames(capture());
  return static_cast<std::size_t>(
      std::count_if(all.begin(), all.end(), [&](const std::string& f) { return f.rfind(prefix, 0) == 0; }));
}

TEST(okx_feed, should_yield_the_events_of_the_capture_through_the_venue) {
  ASSERT_EQ(frames_starting(R"({"arg":{"channel":"books")"), 290U);
  ASSERT_EQ(frames_starting(R"({"arg":{"channel":"tickers")"), 28U);
  ASSERT_EQ(frames_starting(R"({"arg":{"channel":"trades")"), 74U);
  const std::vector<SessionInstrument> instruments = capture_instruments();
  ASSERT_EQ(instruments.size(), 3U);
  const Direct want = direct(instruments);
  EXPECT_EQ(want.verified, 290U) << "every books message carries a checksum that verifies";
  EXPECT_EQ(want.mismatches, 0U);
  ASSERT_GT(want.streams.book.size(), 290U);

  Venue venue({"--venue", "okx", "--port", "0", "--replay", capture(), "--speed", "20"});
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  auto feeds = std::make_unique<ipc::FeedTable>();
  FeedThread thread(net::LoopConfig{}, clock, kLog);
  okx::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws() + "/ws/v5/public");
  std::vector<core::InstrumentId> ids;
  for (const SessionInstrument& s : instruments) {
    ids.push_back(s.id);
  }
  thread.add_session(0, ids, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<okx::Session>(sc, instruments, loop, sink, kLog);
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
  while ((got.book.size() < want.streams.book.size() || got.other.size() < want.streams.other.size()) &&
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
  EXPECT_EQ(live, instruments.size()) << "one snapshot each, verified";
  EXPECT_EQ(gaps, 0U) << "every checksum verified over the socket";
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
// Faults. Each book is rebuilt from the ring; at every bbo of a live book its top (price and
// size, both sides) must equal the venue's, and a bbo-tbt's seqId the book's.

// Two instruments on ids 3 and 7.
Outcome run_synthetic(const std::vector<std::string>& extra, core::FeedStatus fault,
                      const std::function<bool(const Outcome&)>& until,
                      const std::function<void(Outcome&, FeedThread&)>& act) {
  const auto args = test::synthetic_venue_args("okx", "BTC-USDT,ETH-USDT", extra);
  const auto make = [](const std::string& ws, net::Loop& loop, EventSink sink) -> std::unique_ptr<VenueSession> {
    okx::SessionConfig sc;
    sc.ws = net::parse_url(ws + "/ws/v5/public");
    test::test_timings(sc);
    sc.ping_interval_ms = 100; // quiet gaps between messages get text pings during every run
    return std::make_unique<okx::Session>(
        sc, std::vector<SessionInstrument>{{3, "BTC-USDT", 1, 8}, {7, "ETH-USDT", 2, 8}}, loop, sink, kLog);
  };
  return test::run_synthetic(args, {3, 7}, make, fault, until, act);
}

QF_CONNECTION_FAULT_TESTS(okx_feed)

TEST(okx_feed, should_count_a_corrupted_checksum_as_a_gap_and_resubscribe_the_book) {
  test::expect_integrity_faults_resubscribed(run_synthetic, "--checksum-every");
}

TEST(okx_feed, should_detect_a_withheld_update_by_its_seqid_chain_and_resubscribe_the_book) {
  test::expect_integrity_faults_resubscribed(run_synthetic, "--gap-every");
}

} // namespace
} // namespace qf::feeds
