#pragma once
// What the live-feed tests against qf-venue (coinbase_feed_test, kraken_feed_test,
// okx_feed_test, bybit_feed_test) observe in the ring: Streams, the events of a run as comparable tuples (book
// events apart from bbo and trades), for replay equality; Watch, one instrument's book rebuilt
// from the events, checked at every bbo of a live book against the venue's own top (the synthetic
// venues' ticker follows each book change; a bbo that carries a sequence must carry the book's),
// counting what happened after the fault under test; run_synthetic, one session of two
// instruments against a synthetic qf-venue until a condition holds (60 s at most); the fault
// scenarios of the resubscribe venues (kraken_feed_test, okx_feed_test, bybit_feed_test), each on the venue's own
// run_synthetic.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "venue_process.hpp"

namespace qf::feeds::test {

struct Seen {
  core::EventKind kind;
  core::Side side;
  core::InstrumentId instrument;
  std::uint64_t seq;
  std::int64_t a, b, c, d;
  friend bool operator==(const Seen&, const Seen&) = default;
};

inline Seen seen(const core::Event& e, core::InstrumentId id) {
  if (e.kind == core::EventKind::bbo) {
    return {e.kind, e.side, id, e.seq, e.bbo.bid_price, e.bbo.bid_qty, e.bbo.ask_price, e.bbo.ask_qty};
  }
  return {e.kind, e.side, id, e.seq, e.level.price, e.level.qty, static_cast<std::int64_t>(e.level.exchange_ns), 0};
}

inline bool is_book(const core::Event& e) {
  return e.kind == core::EventKind::book_level || e.kind == core::EventKind::snapshot_begin ||
         e.kind == core::EventKind::snapshot_end;
}

struct Streams {
  std::vector<Seen> book;
  std::vector<Seen> other; // bbo and trades
  std::size_t foreign_ids = 0;
  void add(const core::Event& e, core::InstrumentId id) {
    if (is_book(e)) {
      book.push_back(seen(e, id));
    } else if (e.kind != core::EventKind::status) {
      other.push_back(seen(e, id));
    }
  }
};

struct Watch {
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;
  bool live = false;
  bool fault_seen = false;
  std::uint64_t book_seq = 0; // the last book event's venue sequence (0: the venue has none)
  std::size_t checks = 0, checks_after_fault = 0, mismatches = 0, snapshots_after_fault = 0;
  std::array<std::size_t, 7> statuses{};

  void on(const core::Event& e, core::FeedStatus fault) {
    switch (e.kind) {
    case core::EventKind::status:
      ++statuses[static_cast<std::size_t>(e.status)];
      live = e.status == core::FeedStatus::book_live;
      fault_seen |= e.status == fault;
      return;
    case core::EventKind::snapshot_begin:
      book_seq = e.seq;
      bids.clear();
      asks.clear();
      snapshots_after_fault += fault_seen ? 1 : 0;
      return;
    case core::EventKind::book_level: {
      book_seq = e.seq;
      auto set = [&](auto& side) {
        if (e.level.qty == 0) {
          side.erase(e.level.price);
        } else {
          side[e.level.price] = e.level.qty;
        }
      };
      e.side == core::Side::bid ? set(bids) : set(asks);
      return;
    }
    case core::EventKind::bbo:
      if (!live || bids.empty() || asks.empty() || e.bbo.bid_qty == 0) {
        return;
      }
      ++checks;
      checks_after_fault += fault_seen ? 1 : 0;
      // A bbo that names its place in the book's sequence (OKX bbo-tbt) must be of that book.
      if ((e.seq != 0 && book_seq != 0 && e.seq != book_seq) || bids.begin()->first != e.bbo.bid_price ||
          bids.begin()->second != e.bbo.bid_qty ||
          asks.begin()->first != e.bbo.ask_price || asks.begin()->second != e.bbo.ask_qty) {
        ++mismatches;
      }
      return;
    default: return;
    }
  }
  [[nodiscard]] std::size_t count(core::FeedStatus s) const { return statuses[static_cast<std::size_t>(s)]; }
};

struct Outcome {
  std::array<Watch, 2> w;
  ipc::FeedRecord record{};
  std::size_t foreign_ids = 0;
};

// The session under test for instruments `ids` at the venue's websocket url.
using MakeSession =
    std::function<std::unique_ptr<VenueSession>(const std::string& ws, net::Loop& loop, EventSink sink)>;

// A synthetic venue started with `venue_args`, one session on instruments ids[0] and ids[1];
// `until` decides when enough was seen; `act` may poke the thread.
inline Outcome run_synthetic(const std::vector<std::string>& venue_args, std::array<core::InstrumentId, 2> ids,
                             const MakeSession& make, core::FeedStatus fault,
                             const std::function<bool(const Outcome&)>& until,
                             const std::function<void(Outcome&, FeedThread&)>& act = nullptr) {
  Venue venue(venue_args);
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  auto feeds = std::make_unique<ipc::FeedTable>();
  FeedThread thread(net::LoopConfig{}, clock, [](LogLevel, std::string_view text) {
    std::fprintf(stderr, "feed: %.*s\n", static_cast<int>(text.size()), text.data());
  });
  thread.add_session(0, {ids[0], ids[1]},
                     [&](net::Loop& loop, EventSink sink) { return make(venue.ws(), loop, sink); });
  thread.publish_to(feeds.get());
  thread.start(nullptr);
  Outcome run;
  const auto on = [&](const core::Event& e) {
    if (e.instrument == ids[0]) {
      run.w[0].on(e, fault);
    } else if (e.instrument == ids[1]) {
      run.w[1].on(e, fault);
    } else {
      ++run.foreign_ids;
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!until(run) && std::chrono::steady_clock::now() < deadline) {
    if (act) {
      act(run, thread);
    }
    (void)feeds->feeds[0].try_load(run.record);
    if (thread.ring().drain(on, 4096) == 0) {
      std::this_thread::yield(); // the ring is the synchronisation
    }
  }
  thread.stop();
  EXPECT_EQ(feeds->feeds[0].try_load(run.record), ipc::ReadStatus::ok);
  return run;
}

// Both books live again after a fresh snapshot, 20 checks after the fault.
inline bool recovered(const Outcome& r) {
  return std::all_of(r.w.begin(), r.w.end(), [](const Watch& x) {
    return x.live && x.checks_after_fault >= 20 && x.snapshots_after_fault > 0;
  }) && std::any_of(r.w.begin(), r.w.end(), [](const Watch& x) { return x.fault_seen; });
}

inline void expect_recovered(const Outcome& run) {
  EXPECT_EQ(run.foreign_ids, 0U);
  for (std::size_t i = 0; i < run.w.size(); ++i) {
    SCOPED_TRACE(i);
    const Watch& w = run.w[i];
    EXPECT_TRUE(w.fault_seen) << "the fault never showed";
    EXPECT_TRUE(w.live) << "the book did not come back";
    EXPECT_GT(w.snapshots_after_fault, 0U) << "no fresh snapshot after the fault";
    EXPECT_GE(w.checks_after_fault, 20U);
    EXPECT_EQ(w.mismatches, 0U) << "a live book disagreed with the venue's ticker";
  }
}

// ---- The fault scenarios of a venue whose books come back by resubscribing ----

// qf-venue's arguments for a venue test's run_synthetic: `venue` synthetic on a free port with
// `symbols` (two, comma-separated) at 400 msg/s, seed 7, then the scenario's `extra`.
inline std::vector<std::string> synthetic_venue_args(const std::string& venue, const std::string& symbols,
                                                     const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--venue", venue, "--port", "0", "--synthetic", "--symbols", symbols,
                                "--rate", "400", "--seed", "7"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// The timings every session under test uses: stale after 1.5 s of silence, reconnects 20-200 ms.
template <class SessionConfig>
void test_timings(SessionConfig& sc) {
  sc.stale_after_ms = 1500;
  sc.reconnect_min_ms = 20;
  sc.reconnect_max_ms = 200;
}

// A venue test's run_synthetic: its qf-venue with `extra` arguments, two instruments (the second
// on engine id 7), until `until` holds.
using RunSynthetic = Outcome (*)(const std::vector<std::string>& extra, core::FeedStatus fault,
                                 const std::function<bool(const Outcome&)>& until,
                                 const std::function<void(Outcome&, FeedThread&)>& act);

inline void expect_reconnect_after_a_drop(RunSynthetic run_synthetic) {
  const Outcome run = run_synthetic({"--drop-after", "1"}, core::FeedStatus::disconnected, recovered, nullptr);
  expect_recovered(run);
  EXPECT_GT(run.record.reconnects, 0U);
  EXPECT_EQ(run.record.parse_errors, 0U);
  EXPECT_EQ(run.record.gaps, 0U);
  for (const Watch& w : run.w) {
    EXPECT_GT(w.count(core::FeedStatus::connected), 1U);
    EXPECT_GT(w.count(core::FeedStatus::subscribed), 1U);
  }
}

inline void expect_stale_then_reconnect_after_a_stall(RunSynthetic run_synthetic) {
  const Outcome run =
      run_synthetic({"--stall-after", "2", "--stall-for", "4"}, core::FeedStatus::stale, recovered, nullptr);
  expect_recovered(run);
  EXPECT_GT(run.record.reconnects, 0U);
  for (const Watch& w : run.w) {
    EXPECT_GT(w.count(core::FeedStatus::disconnected), 0U);
  }
}

inline void expect_reconnect_after_a_shutdown(RunSynthetic run_synthetic) {
  const Outcome run = run_synthetic({"--shutdown-after", "1.5"}, core::FeedStatus::disconnected, recovered, nullptr);
  expect_recovered(run);
  EXPECT_GT(run.record.reconnects, 0U);
  EXPECT_EQ(run.record.parse_errors, 0U) << "the venue's shutdown message is understood";
}

// `fault` ("--checksum-every", "--gap-every") breaks a book's integrity now and then: each break
// is a gap, counted once, repaired by resubscribing that book on the same connection.
inline void expect_integrity_faults_resubscribed(RunSynthetic run_synthetic, const std::string& fault) {
  const auto both_resynced = [](const Outcome& r) {
    return std::all_of(r.w.begin(), r.w.end(), [](const Watch& x) {
      return x.live && x.count(core::FeedStatus::gap) >= 2 && x.checks_after_fault >= 20;
    });
  };
  const Outcome run = run_synthetic({fault, "60"}, core::FeedStatus::gap, both_resynced, nullptr);
  expect_recovered(run);
  const std::size_t gaps = run.w[0].count(core::FeedStatus::gap) + run.w[1].count(core::FeedStatus::gap);
  EXPECT_GE(gaps, 4U);
  EXPECT_EQ(run.record.gaps, gaps) << "every break counted once in the feed record";
  EXPECT_EQ(run.record.reconnects, 0U) << "a resubscribe keeps the connection";
  EXPECT_EQ(run.record.parse_errors, 0U);
  for (const Watch& w : run.w) {
    EXPECT_GE(w.snapshots_after_fault, w.count(core::FeedStatus::gap)) << "one fresh snapshot per break";
  }
}

// An operator resync of the second instrument (engine id 7) resubscribes it alone.
inline void expect_one_instrument_resynced(RunSynthetic run_synthetic) {
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
  const Watch& second = run.w[1];
  EXPECT_EQ(second.count(core::FeedStatus::resync), 1U);
  EXPECT_TRUE(second.live);
  EXPECT_EQ(second.snapshots_after_fault, 1U) << "the resubscribe brings exactly one fresh snapshot";
  EXPECT_GE(second.checks_after_fault, 20U);
  EXPECT_EQ(second.mismatches, 0U);
  EXPECT_EQ(run.w[0].count(core::FeedStatus::resync), 0U) << "only the asked instrument resyncs";
  EXPECT_EQ(run.w[0].mismatches, 0U);
  EXPECT_EQ(run.record.reconnects, 0U);
  EXPECT_EQ(run.record.gaps, 0U);
  EXPECT_GE(run.record.resyncs, 1U);
}

inline void expect_malformed_frames_counted(RunSynthetic run_synthetic) {
  const Outcome run = run_synthetic({"--malformed-every", "25"}, core::FeedStatus::gap,
                                    [](const Outcome& r) { return r.record.parse_errors >= 10; }, nullptr);
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

} // namespace qf::feeds::test

// The connection scenarios every resubscribe venue's test runs on its own `run_synthetic`: a drop,
// a stall, a shutdown notice, an operator resync of one instrument, malformed frames. Each venue
// adds its integrity scenarios (gap, checksum) by name.
#define QF_CONNECTION_FAULT_TESTS(suite)                                                          \
  TEST(suite, should_reconnect_after_a_drop_and_rebuild_the_books_from_a_fresh_snapshot) {        \
    ::qf::feeds::test::expect_reconnect_after_a_drop(run_synthetic);                             \
  }                                                                                               \
  TEST(suite, should_call_a_stalled_connection_stale_and_reconnect) {                            \
    ::qf::feeds::test::expect_stale_then_reconnect_after_a_stall(run_synthetic);                 \
  }                                                                                               \
  TEST(suite, should_reconnect_after_the_venue_shuts_the_connection_down) {                      \
    ::qf::feeds::test::expect_reconnect_after_a_shutdown(run_synthetic);                         \
  }                                                                                               \
  TEST(suite, should_resubscribe_one_instrument_on_resync_and_keep_the_connection) {             \
    ::qf::feeds::test::expect_one_instrument_resynced(run_synthetic);                            \
  }                                                                                               \
  TEST(suite, should_count_malformed_frames_and_keep_the_connection) {                           \
    ::qf::feeds::test::expect_malformed_frames_counted(run_synthetic);                           \
  }
