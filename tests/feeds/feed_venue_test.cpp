// End to end over real sockets on 127.0.0.1: qf-venue replays the BTCUSDT capture, the feed
// client (FeedThread + binance::Session: libwebsockets, REST snapshot through the budget, parser,
// BookSync) pushes events into its ring, and this test drains the ring. The events must be
// exactly those that parsing the capture file directly through the same parser and BookSync
// yields, in order (book events in one sequence, bookTicker and trades in another: the two
// interleave by arrival time, which sockets do not preserve against the file). Also over TLS
// with the venue's self-signed certificate, verified (never disabled).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "capture_paths.hpp"
#include "qf/feeds/binance/book_sync.hpp"
#include "qf/feeds/binance/parser.hpp"
#include "qf/feeds/binance/session.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "venue_process.hpp"

namespace qf::feeds {
namespace {

namespace bn = binance;
using test::Venue;

// The fields that must agree (not the local times).
struct Seen {
  core::EventKind kind;
  core::Side side;
  std::uint64_t seq;
  std::int64_t a, b, c, d;
  friend bool operator==(const Seen&, const Seen&) = default;
};

Seen seen(const core::Event& e) {
  if (e.kind == core::EventKind::bbo) {
    return {e.kind, e.side, e.seq, e.bbo.bid_price, e.bbo.bid_qty, e.bbo.ask_price, e.bbo.ask_qty};
  }
  return {e.kind, e.side, e.seq, e.level.price, e.level.qty, static_cast<std::int64_t>(e.level.exchange_ns), 0};
}

bool is_book(const core::Event& e) {
  return e.kind == core::EventKind::book_level || e.kind == core::EventKind::snapshot_begin ||
         e.kind == core::EventKind::snapshot_end;
}

struct Streams {
  std::vector<Seen> book;
  std::vector<Seen> other; // bbo and trades
  void add(const core::Event& e) {
    if (is_book(e)) {
      book.push_back(seen(e));
    } else if (e.kind != core::EventKind::status) {
      other.push_back(seen(e));
    }
  }
};

std::string btcusdt_capture() {
  return test::kBtcusdt.string();
}

// The capture parsed directly: the same Parser and BookSync, in file order.
Streams direct(const bn::SymbolDecimals& d) {
  bn::Parser parser;
  parser.add_instrument(d.symbol, 0, d.price_decimals, d.qty_decimals);
  bn::BookSync sync(0);
  PaddedBuffer padded(parser.config().max_message_bytes);
  Streams out;
  auto sink = [&](const core::Event& e) { out.add(e); };
  CaptureReader reader(btcusdt_capture());
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind != CaptureRecord::Kind::ws_frame && r.kind != CaptureRecord::Kind::rest_response) {
      continue;
    }
    EXPECT_TRUE(padded.assign(r.text));
    bn::Message m;
    if (parser.parse(padded, m, d.symbol) != ParseResult::ok) {
      continue;
    }
    if (m.kind == bn::MessageKind::depth_update || m.kind == bn::MessageKind::depth_snapshot) {
      (void)sync.on_message(m, 1, sink);
    } else {
      (void)bn::emit_events(m, 1, sink);
    }
  }
  return out;
}

Streams through_the_venue(const Venue& venue, const bn::SymbolDecimals& d, std::size_t want_other) {
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  net::LoopConfig lc;
  if (!venue.ca_file().empty()) {
    lc.ca_files.push_back(venue.ca_file());
  }
  net::RestBudget budget({1200, 2}, ipc::monotonic_ns());
  const LogFn log = [](LogLevel, std::string_view text) {
    std::fprintf(stderr, "feed: %.*s\n", static_cast<int>(text.size()), text.data());
  };
  FeedThread thread(lc, clock, log);
  bn::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws());
  sc.rest = net::parse_url(venue.rest());
  thread.add_session(0, {0}, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<bn::Session>(sc, std::vector<SessionInstrument>{{0, d.symbol, d.price_decimals, d.qty_decimals}},
                                         loop, budget, sink, log);
  });
  thread.start(nullptr);
  Streams out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (out.other.size() < want_other && std::chrono::steady_clock::now() < deadline) {
    if (thread.ring().drain([&](const core::Event& e) { out.add(e); }, 4096) == 0) {
      std::this_thread::yield(); // the ring is the synchronisation; nothing to wait for but data
    }
  }
  thread.stop();
  thread.ring().drain([&](const core::Event& e) { out.add(e); }, FeedRing::capacity());
  return out;
}

void expect_same(const Streams& want, const Streams& got) {
  ASSERT_GT(want.book.size(), 1000U);
  ASSERT_EQ(got.other.size(), want.other.size());
  for (std::size_t i = 0; i < want.other.size(); ++i) {
    ASSERT_EQ(got.other[i], want.other[i]) << "bookTicker/trade event " << i;
  }
  // The replay may end before the last diff is flushed by the time the last trade arrives: the
  // live book stream is a prefix of the direct one, at least 99% of it.
  ASSERT_LE(got.book.size(), want.book.size());
  EXPECT_GT(got.book.size(), want.book.size() * 99 / 100);
  for (std::size_t i = 0; i < got.book.size(); ++i) {
    ASSERT_EQ(got.book[i], want.book[i]) << "book event " << i;
  }
}

bn::SymbolDecimals decimals() {
  const auto all = bn::infer_capture_decimals(btcusdt_capture());
  EXPECT_EQ(all.size(), 1U);
  return all.front();
}

TEST(feed_venue, should_yield_the_events_of_the_capture_over_websocket_and_rest) {
  const bn::SymbolDecimals d = decimals();
  const Streams want = direct(d);
  Venue venue({"--venue", "binance", "--port", "0", "--replay", btcusdt_capture(), "--speed", "50"});
  expect_same(want, through_the_venue(venue, d, want.other.size()));
}

TEST(feed_venue, should_yield_the_same_events_over_verified_tls) {
  const bn::SymbolDecimals d = decimals();
  const Streams want = direct(d);
  Venue venue({"--venue", "binance", "--port", "0", "--tls", "--replay", btcusdt_capture(), "--speed", "50"});
  ASSERT_EQ(venue.ws().rfind("wss://", 0), 0U);
  ASSERT_FALSE(venue.ca_file().empty());
  expect_same(want, through_the_venue(venue, d, want.other.size()));
}

TEST(feed_venue, should_refuse_a_certificate_it_cannot_verify) {
  // The same TLS venue without its CA: the handshake must fail and nothing may arrive.
  Venue venue({"--venue", "binance", "--port", "0", "--tls", "--replay", btcusdt_capture(), "--speed", "50"});
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex mutex;
  const LogFn log = [&](LogLevel, std::string_view text) {
    if (text.find("closed") != std::string_view::npos) {
      const std::lock_guard lock(mutex);
      if (first_failure.empty()) {
        first_failure = std::string(text);
      }
      failures.fetch_add(1);
    }
  };
  net::RestBudget budget({1200, 2}, ipc::monotonic_ns());
  FeedThread thread(net::LoopConfig{}, clock, log);
  bn::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws());
  sc.rest = net::parse_url(venue.rest());
  thread.add_session(0, {0}, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<bn::Session>(sc, std::vector<SessionInstrument>{{0, "BTCUSDT", 2, 8}}, loop, budget, sink,
                                         log);
  });
  thread.start(nullptr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (failures.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  thread.stop();
  EXPECT_GT(failures.load(), 0) << "the connection to an unverifiable server never failed";
  std::size_t market_events = 0;
  thread.ring().drain([&](const core::Event& e) { market_events += e.kind != core::EventKind::status ? 1 : 0; },
                      FeedRing::capacity());
  EXPECT_EQ(market_events, 0U);
  const std::lock_guard lock(mutex);
  EXPECT_NE(first_failure.find("SSL"), std::string::npos) << first_failure; // the handshake, not the network
}

// ---------------------------------------------------------------------------------------------
// Faults: a synthetic venue (bookTicker shares update ids with the diffs) misbehaves; the test
// rebuilds each book from the ring and, whenever the book is live and a bookTicker and the
// book stand at the same update id (whichever arrives second), checks that they agree.

struct Watch {
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;
  std::uint64_t book_u = 0;   // id of the last applied diff
  core::Event last_bbo{};     // newest bookTicker
  std::uint64_t checked_u = 0;
  bool live = false;
  std::size_t checks = 0, checks_after_fault = 0, mismatches = 0;
  bool fault_seen = false;

  void on(const core::Event& e, core::FeedStatus fault) {
    switch (e.kind) {
    case core::EventKind::status:
      live = e.status == core::FeedStatus::book_live;
      fault_seen |= e.status == fault;
      if (!live) {
        book_u = 0;
      }
      return;
    case core::EventKind::snapshot_begin:
      bids.clear();
      asks.clear();
      book_u = 0;
      return;
    case core::EventKind::book_level: {
      auto set = [&](auto& side) {
        if (e.level.qty == 0) {
          side.erase(e.level.price);
        } else {
          side[e.level.price] = e.level.qty;
        }
      };
      e.side == core::Side::bid ? set(bids) : set(asks);
      if ((e.flags & core::kFlagLastInMessage) != 0) {
        book_u = e.seq;
        check();
      }
      return;
    }
    case core::EventKind::bbo:
      last_bbo = e;
      check();
      return;
    default: return;
    }
  }
  void check() {
    if (!live || book_u == 0 || last_bbo.seq != book_u || checked_u == book_u || bids.empty() || asks.empty()) {
      return;
    }
    checked_u = book_u;
    ++checks;
    checks_after_fault += fault_seen ? 1 : 0;
    if (bids.begin()->first != last_bbo.bbo.bid_price || bids.begin()->second != last_bbo.bbo.bid_qty ||
        asks.begin()->first != last_bbo.bbo.ask_price || asks.begin()->second != last_bbo.bbo.ask_qty) {
      ++mismatches;
    }
  }
};

struct FaultCase {
  const char* name;
  std::vector<std::string> venue_args;
  core::FeedStatus status; // the status that shows the fault was seen (and then recovered from)
  int max_connection_age_s = 23 * 3600; // the session's proactive reconnect
  bool usdm = false;                    // Binance USD-M (pu chain, /fapi) instead of spot
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

class feed_fault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(feed_fault, should_recover_with_a_correct_book) {
  const FaultCase& fc = GetParam();
  std::vector<std::string> args{"--venue", fc.usdm ? "binance-usdm" : "binance", "--port", "0", "--synthetic",
                                "--symbols", "BTCUSDT,ETHUSDT", "--rate", "400", "--seed", "11"};
  args.insert(args.end(), fc.venue_args.begin(), fc.venue_args.end());
  Venue venue(args);
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  net::RestBudget budget({6000, 2}, ipc::monotonic_ns());
  auto feeds = std::make_unique<ipc::FeedTable>();
  FeedThread thread(net::LoopConfig{}, clock, [](LogLevel, std::string_view text) {
    std::fprintf(stderr, "feed: %.*s\n", static_cast<int>(text.size()), text.data());
  });
  bn::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws());
  sc.rest = net::parse_url(venue.rest());
  sc.stale_after_ms = 1000;
  sc.reconnect_min_ms = 20;
  sc.reconnect_max_ms = 200;
  sc.max_connection_age_s = fc.max_connection_age_s;
  sc.market = fc.usdm ? bn::Market::usdm : bn::Market::spot;
  thread.add_session(0, {0, 1}, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<bn::Session>(
        sc, std::vector<SessionInstrument>{{0, "BTCUSDT", 2, 8}, {1, "ETHUSDT", 2, 8}}, loop, budget, sink, nullptr);
  });
  thread.publish_to(feeds.get());
  thread.start(nullptr);
  std::array<Watch, 2> w;
  const auto recovered = [&] {
    return std::all_of(w.begin(), w.end(), [](const Watch& x) { return x.live && x.checks_after_fault >= 20; }) &&
           std::any_of(w.begin(), w.end(), [](const Watch& x) { return x.fault_seen; });
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!recovered() && std::chrono::steady_clock::now() < deadline) {
    if (thread.ring().drain([&](const core::Event& e) { w[e.instrument].on(e, fc.status); }, 4096) == 0) {
      std::this_thread::yield();
    }
  }
  thread.stop();
  ipc::FeedRecord r{};
  ASSERT_EQ(feeds->feeds[0].try_load(r), ipc::ReadStatus::ok);
  for (std::size_t i = 0; i < w.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(w[i].fault_seen || w[1 - i].fault_seen) << "the fault never showed";
    EXPECT_TRUE(w[i].live) << "the book did not come back";
    EXPECT_GE(w[i].checks_after_fault, 20U);
    EXPECT_EQ(w[i].mismatches, 0U) << "a live book disagreed with the venue's bookTicker";
  }
  if (fc.status == core::FeedStatus::disconnected) {
    EXPECT_GT(r.reconnects, 0U);
  }
  if (fc.status == core::FeedStatus::gap) {
    EXPECT_GT(r.gaps, 0U);
    EXPECT_GT(r.resyncs, 0U);
  }
}

INSTANTIATE_TEST_SUITE_P(
    faults, feed_fault,
    ::testing::Values(FaultCase{"drop", {"--drop-after", "1"}, core::FeedStatus::disconnected},
                      FaultCase{"gap", {"--gap-every", "50"}, core::FeedStatus::gap},
                      FaultCase{"stall", {"--stall-after", "1", "--stall-for", "4"}, core::FeedStatus::stale},
                      FaultCase{"server_shutdown", {"--shutdown-after", "1"}, core::FeedStatus::disconnected},
                      FaultCase{"snapshot_429", {"--snapshot-429", "2"}, core::FeedStatus::book_live},
                      // Nothing wrong at the venue: the connection reaches its age limit (Binance: 24 h).
                      FaultCase{"age_limit", {}, core::FeedStatus::disconnected, 1},
                      // USD-M: ids global across symbols, chained by pu; a gap must still be caught.
                      FaultCase{"usdm_gap", {"--gap-every", "50"}, core::FeedStatus::gap, 23 * 3600, true}),
    [](const ::testing::TestParamInfo<FaultCase>& p) { return std::string(p.param.name); });

// One BTCUSDT session against a synthetic venue with `venue_args`, until `done(record)`; counts
// the disconnected and resync statuses it saw.
struct Observed {
  ipc::FeedRecord record{};
  std::size_t disconnects = 0;
  std::size_t resyncs = 0;
};

Observed observe(const std::vector<std::string>& venue_args, std::size_t max_frame_bytes,
                 const std::function<bool(const ipc::FeedRecord&)>& done) {
  std::vector<std::string> args{"--venue", "binance", "--port", "0", "--synthetic", "--symbols", "BTCUSDT",
                                "--rate", "400", "--seed", "5"};
  args.insert(args.end(), venue_args.begin(), venue_args.end());
  Venue venue(args);
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  net::RestBudget budget({6000, 2}, ipc::monotonic_ns());
  auto feeds = std::make_unique<ipc::FeedTable>();
  FeedThread thread(net::LoopConfig{}, clock, nullptr);
  bn::SessionConfig sc;
  sc.ws = net::parse_url(venue.ws());
  sc.rest = net::parse_url(venue.rest());
  sc.max_frame_bytes = max_frame_bytes;
  thread.add_session(0, {0}, [&](net::Loop& loop, EventSink sink) {
    return std::make_unique<bn::Session>(sc, std::vector<SessionInstrument>{{0, "BTCUSDT", 2, 8}}, loop, budget, sink,
                                         nullptr);
  });
  thread.publish_to(feeds.get());
  thread.start(nullptr);
  Observed o;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done(o.record) && std::chrono::steady_clock::now() < deadline) {
    thread.ring().drain(
        [&](const core::Event& e) {
          if (e.kind == core::EventKind::status) {
            o.disconnects += e.status == core::FeedStatus::disconnected ? 1U : 0U;
            o.resyncs += e.status == core::FeedStatus::resync ? 1U : 0U;
          }
        },
        4096);
    (void)feeds->feeds[0].try_load(o.record);
    std::this_thread::yield();
  }
  thread.stop();
  return o;
}

TEST(feed_fault, should_count_malformed_frames_and_keep_the_connection) {
  const Observed o = observe({"--malformed-every", "25"}, std::size_t{1} << 20,
                             [](const ipc::FeedRecord& r) { return r.parse_errors >= 10; });
  EXPECT_GE(o.record.parse_errors, 10U);
  EXPECT_EQ(o.record.reconnects, 0U) << "a malformed frame must not cost the connection";
  EXPECT_EQ(o.disconnects, 0U);
  EXPECT_GT(o.record.messages, o.record.parse_errors * 10);
}

TEST(feed_fault, should_resync_on_a_frame_over_the_bound_and_keep_the_connection) {
  // 200 bytes: the venue's bookTickers fit, its larger depth diffs do not.
  const Observed o = observe({}, 200, [](const ipc::FeedRecord& r) { return r.parse_errors >= 3 && r.resyncs >= 3; });
  EXPECT_GE(o.record.parse_errors, 3U) << "oversized frames are counted as errors";
  EXPECT_GE(o.record.resyncs, 3U);
  EXPECT_GE(o.resyncs, 3U) << "each one resyncs the book";
  EXPECT_EQ(o.record.reconnects, 0U);
  EXPECT_EQ(o.disconnects, 0U);
}

} // namespace
} // namespace qf::feeds
