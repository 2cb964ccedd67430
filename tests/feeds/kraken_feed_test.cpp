// The live Kraken v2 feed (kraken::Session on a FeedThread) against qf-venue --venue kraken over
// real sockets on 127.0.0.1. Replay: the events drained from the ring must be exactly those that
// parsing the capture directly through the same Parser and BookSync yields, with the engine's
// instrument ids, and every one of the capture's checksums verifies on the way. Faults on the
// synthetic venue (its ticker follows each change of the best levels; its checksums are
// computed by the venue from its own book): after a drop, a stall, a gap (an update withheld), a
// corrupted checksum or an operator resync the books come back from a fresh snapshot and every
// live book's top equals the venue's ticker; checksum mismatches are counted as gaps and
// resynced by resubscribing, on the same connection; malformed frames are counted and cost
// nothing else.
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
#include "qf/feeds/kraken/book_sync.hpp"
#include "qf/feeds/kraken/parser.hpp"
#include "qf/feeds/kraken/session.hpp"
#include "venue_process.hpp"

namespace qf::feeds {
namespace {

using test::Outcome;
using test::Streams;
using test::Venue;

// Engine ids are not the session's symbol indices: the session must translate.
constexpr core::InstrumentId kFirstId = 4;

const LogFn kLog = [](LogLevel, std::string_view text) {
  std::fprintf(stderr, "feed: %.*s\n", static_cast<int>(text.size()), text.data());
};

std::string capture() { return test::kKraken.string(); }

// The capture's symbols at the decimals replay uses: the largest seen, raised to the pair's
// known precision.
std::vector<SessionInstrument> capture_instruments() {
  std::vector<SessionInstrument> out;
  for (const kraken::SymbolDecimals& d : kraken::infer_capture_decimals(capture())) {
    int pp = d.price_decimals;
    int qp = d.qty_decimals;
    (void)kraken::known_precision(d.symbol, pp, qp);
    out.push_back({static_cast<core::InstrumentId>(kFirstId + out.size()), d.symbol, std::max(pp, d.price_decimals),
                   std::max(qp, d.qty_decimals)});
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
  kraken::Parser parser;
  kraken::BookSync sync(instruments.size());
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const SessionInstrument& s = instruments[i];
    const auto id = static_cast<core::InstrumentId>(i);
    parser.add_instrument(s.symbol, id, s.price_decimals, s.qty_decimals);
    int pp = s.price_decimals;
    int qp = s.qty_decimals;
    (void)kraken::known_precision(s.symbol, pp, qp);
    sync.set_precision(id, s.price_decimals, s.qty_decimals, pp, qp);
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
    kraken::Message m;
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

TEST(kraken_feed, should_yield_the_events_of_the_capture_through_the_venue) {
  const std::vector<SessionInstrument> instruments = capture_instruments();
  ASSERT_EQ(instruments.size(), 1U);
  const Direct want = direct(instruments);
  EXPECT_EQ(want.verified, 510U);
  EXPECT_EQ(want.mismatches, 0U);
  ASSERT_GT(want.streams.book.size(), 510U); // every message brings at least one level

  Venue venue({"--venue", "kraken", "--port", "0", "--replay", capture(), "--speed", "20"});
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  auto feeds = std::make_unique<ipc::FeedTable>();
  FeedThread thread(net::LoopConfig{}, clock, kLog);
  kraken::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws() + "/v2");
  std::vector<core::InstrumentId> ids;
  for (const SessionInstrument& s : instruments) {
    ids.push_back(s.id);
  }
  thread.add_session(0, ids, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<kraken::Session>(sc, instruments, loop, sink, kLog);
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
  while (got.book.size() < want.streams.book.size() && std::chrono::steady_clock::now() < deadline) {
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
  EXPECT_EQ(live, 1U) << "one snapshot, verified";
  EXPECT_EQ(gaps, 0U) << "every checksum verified over the socket";
  EXPECT_EQ(record.gaps, 0U);
  EXPECT_EQ(record.parse_errors, 0U);
  ASSERT_EQ(got.other.size(), want.streams.other.size());
  ASSERT_EQ(got.book.size(), want.streams.book.size());
  for (std::size_t i = 0; i < want.streams.book.size(); ++i) {
    ASSERT_EQ(got.book[i], want.streams.book[i]) << "book event " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Faults. Each book is rebuilt from the ring; at every ticker of a live book its top (price and
// qty, both sides) must equal the ticker's best bid/ask.

// Two symbols on ids 3 and 7.
Outcome run_synthetic(const std::vector<std::string>& extra, core::FeedStatus fault,
                      const std::function<bool(const Outcome&)>& until,
                      const std::function<void(Outcome&, FeedThread&)>& act) {
  const auto args = test::synthetic_venue_args("kraken", "BTC/USD,ETH/USD", extra);
  const auto make = [](const std::string& ws, net::Loop& loop, EventSink sink) -> std::unique_ptr<VenueSession> {
    kraken::SessionConfig sc;
    sc.ws = net::parse_url(ws + "/v2");
    test::test_timings(sc); // heartbeats come every second
    sc.ping_interval_ms = 200; // pings and pongs go back and forth during every run
    return std::make_unique<kraken::Session>(
        sc, std::vector<SessionInstrument>{{3, "BTC/USD", 1, 8}, {7, "ETH/USD", 2, 8}}, loop, sink, kLog);
  };
  return test::run_synthetic(args, {3, 7}, make, fault, until, act);
}

QF_CONNECTION_FAULT_TESTS(kraken_feed)

TEST(kraken_feed, should_count_a_corrupted_checksum_as_a_gap_and_resubscribe_the_book) {
  test::expect_integrity_faults_resubscribed(run_synthetic, "--checksum-every");
}

TEST(kraken_feed, should_detect_a_withheld_update_by_its_checksum_and_resubscribe_the_book) {
  test::expect_integrity_faults_resubscribed(run_synthetic, "--gap-every");
}

} // namespace
} // namespace qf::feeds
