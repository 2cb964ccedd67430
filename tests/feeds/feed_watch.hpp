#pragma once
// What the live-feed tests against qf-venue (coinbase_feed_test, kraken_feed_test,
// okx_feed_test) observe in the ring: Streams, the events of a run as comparable tuples (book
// events apart from bbo and trades), for replay equality; Watch, one instrument's book rebuilt
// from the events, checked at every bbo of a live book against the venue's own top (the synthetic
// venues' ticker follows each book change; a bbo that carries a sequence must carry the book's),
// counting what happened after the fault under test; run_synthetic, one session of two
// instruments against a synthetic qf-venue until a condition holds (60 s at most).
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

} // namespace qf::feeds::test
