#pragma once
// What the live-feed tests against qf-venue (coinbase_feed_test, kraken_feed_test) observe in the
// ring: Streams, the events of a run as comparable tuples (book events apart from bbo and
// trades), for replay equality; Watch, one instrument's book rebuilt from the events, checked at
// every bbo of a live book against the venue's own top (the synthetic venues' ticker follows each
// book change), counting what happened after the fault under test.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "qf/core/event.hpp"

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
      bids.clear();
      asks.clear();
      snapshots_after_fault += fault_seen ? 1 : 0;
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
      return;
    }
    case core::EventKind::bbo:
      if (!live || bids.empty() || asks.empty() || e.bbo.bid_qty == 0) {
        return;
      }
      ++checks;
      checks_after_fault += fault_seen ? 1 : 0;
      if (bids.begin()->first != e.bbo.bid_price || bids.begin()->second != e.bbo.bid_qty ||
          asks.begin()->first != e.bbo.ask_price || asks.begin()->second != e.bbo.ask_qty) {
        ++mismatches;
      }
      return;
    default: return;
    }
  }
  [[nodiscard]] std::size_t count(core::FeedStatus s) const { return statuses[static_cast<std::size_t>(s)]; }
};

} // namespace qf::feeds::test
