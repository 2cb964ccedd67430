#pragma once
// Publisher: the engine's single writer of the state segment. It turns what the core computed
// into the seqlocked records of each instrument (quote, top-N book, signal, features, health,
// position), the portfolio and risk records and the recent fills (control section), the latency
// histograms, the engine's progress record, the notable-event log and the acknowledgements of
// control commands, and appends the tick journal. Core thread only; nothing allocates. The records written on every venue
// message are inline here (the engine's per-event path), the others are in publisher.cpp.

#include <array>
#include <cstddef>
#include <cstdint>

#include "qf/core/bars.hpp"
#include "qf/core/event.hpp"
#include "qf/core/features.hpp"
#include "qf/core/fusion.hpp"
#include "qf/core/order_book.hpp"
#include "qf/core/regime.hpp"
#include "qf/ipc/state_layout.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::core {

class PaperTrader;
class Portfolio;
struct OrderOutcome;

// Where the engine publishes: the sections of a state segment (or plain memory in tests).
struct StateSections {
  ipc::InstrumentTable* instruments = nullptr;
  ipc::InstrumentState* records = nullptr; // kMaxInstruments entries
  ipc::FeedTable* feeds = nullptr;
  ipc::LatencyTable* latency = nullptr;
  ipc::EventLog* events = nullptr;
  ipc::ControlLog* control = nullptr; // acknowledgements of control commands
  ipc::CompositeTable* composites = nullptr; // composite books (section 1's tail); null: not published
};

// What an instrument's health record counts (kept by the engine, written with the health).
struct HealthCounters {
  std::uint64_t book_updates = 0, trades = 0, gaps = 0, resyncs = 0, crossed = 0;
  std::uint64_t last_update_mono_ns = 0;
};

class Publisher {
public:
  // Throws std::invalid_argument when a section other than `control` is missing (start-up only).
  Publisher(StateSections state, const ipc::TscClock& clock);

  // The tick journal (EventLog::journal): stores only, never waits for its readers.
  void trade_tick(std::size_t i, const Event& e, std::uint64_t unix_ns, ipc::BookHealth health) noexcept {
    ipc::TickRecord t{};
    t.kind = ipc::TickKind::trade;
    t.side = e.side == Side::bid ? 0 : 1;
    t.health = health;
    t.instrument = static_cast<std::uint16_t>(i);
    t.price = e.level.price;
    t.qty = e.level.qty;
    t.id = e.seq;
    t.unix_ns = unix_ns;
    state_.events->journal.append(t);
  }
  void bbo_tick(std::size_t i, const ipc::QuoteRecord& q, ipc::TickSource source, ipc::BookHealth health) noexcept {
    ipc::TickRecord t{};
    t.kind = ipc::TickKind::bbo;
    t.source = source;
    t.health = health;
    t.instrument = static_cast<std::uint16_t>(i);
    t.price = q.bid_price;
    t.qty = q.bid_qty;
    t.ask_price = q.ask_price;
    t.ask_qty = q.ask_qty;
    t.id = q.update_id;
    t.unix_ns = q.updated_unix_ns;
    state_.events->journal.append(t);
  }
  void health_tick(std::size_t i, ipc::BookHealth health, std::uint64_t now_unix_ns) noexcept {
    ipc::TickRecord t{};
    t.kind = ipc::TickKind::health;
    t.health = health;
    t.instrument = static_cast<std::uint16_t>(i);
    t.unix_ns = now_unix_ns;
    state_.events->journal.append(t);
  }

  // Per-instrument records; `i` is the instrument's dense id.
  void quote(std::size_t i, const ipc::QuoteRecord& q) noexcept { state_.records[i].quote.store(q); }

  void book(std::size_t i, const std::array<Level, ipc::kBookDepth>& bids,
            const std::array<Level, ipc::kBookDepth>& asks, std::uint64_t update_id) noexcept {
    state_.records[i].book.update([&](ipc::BookRecord& r) {
      r.bid_levels = 0;
      r.ask_levels = 0;
      for (const Level& l : bids) {
        if (l.qty == 0 || r.bid_levels == ipc::kBookDepth) {
          break;
        }
        r.bids[r.bid_levels++] = ipc::PriceLevel{l.price, l.qty};
      }
      for (const Level& l : asks) {
        if (l.qty == 0 || r.ask_levels == ipc::kBookDepth) {
          break;
        }
        r.asks[r.ask_levels++] = ipc::PriceLevel{l.price, l.qty};
      }
      r.update_id = update_id;
    });
  }

  template <int K, int D>
  void signal(std::size_t i, const SignalOutput& signal, const RegimeFilter<K, D>& regime,
              std::uint64_t now_unix_ns) noexcept {
    ipc::SignalRecord r{};
    r.signal = signal.signal;
    r.confidence = signal.confidence;
    for (int k = 0; k < K; ++k) {
      r.regime[static_cast<std::size_t>(k)] = regime.posterior()(k);
    }
    r.regimes = K;
    r.dominant = static_cast<std::uint32_t>(regime.dominant());
    r.updated_unix_ns = now_unix_ns;
    state_.records[i].signal.store(r);
  }

  void features(std::size_t i, const FeatureValues& f, const BarIndicators& indicators, const BarBuilder& bars_1s,
                const BarBuilder& bars_1m, std::uint64_t now_unix_ns) noexcept;
  void health(std::size_t i, ipc::BookHealth health, const HealthCounters& c, std::uint64_t dropped_levels) noexcept;
  void position(std::size_t i, const PaperTrader& trader, std::uint64_t now_unix_ns) noexcept;

  // Composite books (nothing when the state has no composite table): the static info once, the
  // record at each change.
  void composite_info(std::size_t c, const ipc::CompositeInfo& info) noexcept {
    if (state_.composites != nullptr) {
      state_.composites->info[c] = info;
      state_.composites->count = static_cast<std::uint32_t>(c + 1);
      ipc::seal(*state_.composites);
    }
  }
  void composite(std::size_t c, const ipc::CompositeRecord& r) noexcept {
    if (state_.composites != nullptr) {
      state_.composites->records[c].store(r);
    }
  }

  // The learned model's drift of one instrument (at its bar closes) and the model in force (cold).
  void drift(std::size_t i, const ipc::DriftRecord& r) noexcept { state_.records[i].drift.store(r); }
  void model(const ipc::ModelRecord& r) noexcept { state_.feeds->model.store(r); }

  // The control section (portfolio, risk, fills); nothing when the state has none.
  void portfolio(const PaperTrader& trader, std::uint64_t now_unix_ns) noexcept;
  void risk(const PaperTrader& trader, std::uint64_t now_unix_ns) noexcept;
  // Appends the fills made since the last call (at most the kRecentFills newest).
  void fills(const Portfolio& p) noexcept;
  // The first `count` fills are already published (a restored portfolio).
  void fills_restored(std::uint64_t count) noexcept { fills_published_ = count; }

  // The engine's progress (events processed, at the end of each venue message).
  void progress(std::uint64_t events_processed, std::uint64_t now_unix_ns) noexcept {
    state_.feeds->engine.update([&](ipc::EngineRecord& r) {
      r.events_processed = events_processed;
      r.updated_unix_ns = now_unix_ns;
    });
  }

  // Latency stages of one event: parse, queue, process and receive-to-publish (TscClock ticks).
  void latency(const Event& e, std::uint64_t popped_ticks) noexcept {
    if (e.recv_ticks == 0) {
      return;
    }
    const std::uint64_t published = clock_.now();
    const std::uint64_t pushed = e.recv_ticks + e.push_delta_ticks;
    auto& stages = state_.latency->stages;
    stages[static_cast<std::size_t>(ipc::Stage::parse)].record(clock_.ticks_to_ns(e.push_delta_ticks));
    stages[static_cast<std::size_t>(ipc::Stage::queue)].record(clock_.delta_ns(pushed, popped_ticks));
    stages[static_cast<std::size_t>(ipc::Stage::process)].record(clock_.delta_ns(popped_ticks, published));
    stages[static_cast<std::size_t>(ipc::Stage::receive_to_publish)].record(clock_.delta_ns(e.recv_ticks, published));
  }

  // Exchange time to the engine's `now` (a BBO carries no exchange time).
  void exchange_to_receive(const Event& e, std::uint64_t now_unix_ns) noexcept {
    if (e.kind != EventKind::bbo && e.level.exchange_ns != 0 && now_unix_ns > e.level.exchange_ns) {
      state_.latency->stages[static_cast<std::size_t>(ipc::Stage::exchange_to_receive)].record(now_unix_ns -
                                                                                               e.level.exchange_ns);
    }
  }

  // A notable event for the log (cold: formatting happens here, not per event).
  [[gnu::cold]] void note(ipc::NotableKind kind, std::uint16_t instrument, const char* text,
                          std::uint64_t now_unix_ns) noexcept;
  // Acknowledges a control command in the state (ControlLog) and notes it.
  [[gnu::cold]] void acknowledge(const ipc::ControlCommand& command, ipc::ControlResult result, const char* text,
                                 std::uint64_t now_unix_ns) noexcept;
  // A paper order's acknowledgement: the result above plus its refusal, id and immediate fill.
  [[gnu::cold]] void acknowledge_order(const ipc::ControlCommand& command, ipc::ControlResult result, const char* text,
                                       const OrderOutcome& order, std::uint64_t now_unix_ns) noexcept;

private:
  StateSections state_;
  ipc::TscClock clock_;
  std::uint64_t fills_published_ = 0;
};

} // namespace qf::core
