#include "qf/core/engine.hpp"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "engine_fixture.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_reader.hpp"

#include "alloc_count.hpp" // every operator new of this binary is counted (qf_alloc_count)

using qf::alloc::g_allocations;

namespace qf::core {
namespace {

using test::level;
using test::marker;
using test::status;

Event trade(std::uint16_t instrument, std::int64_t price, std::int64_t qty, Side taker, std::uint64_t id,
            std::uint64_t t_ns) {
  Event e = marker(instrument, EventKind::trade, id);
  e.side = taker;
  e.level.price = price;
  e.level.qty = qty;
  e.level.exchange_ns = t_ns;
  return e;
}

// An engine publishing into a real state segment, and a read-only view of it.
class engine : public ::testing::Test {
protected:
  void SetUp() override {
    instance_ = "eng-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
    segment_ = std::make_unique<test::TestSegment>(instance_, ipc::EngineMode::replay);
    clock_ = std::make_unique<ipc::TscClock>(ipc::TscClock::calibrate(std::chrono::milliseconds(5)));
    engine_ = std::make_unique<Engine>(CoreConfig{},
                                       std::vector<InstrumentSpec>{{"binance-spot", "BTCUSDT", 2, 8, 0},
                                                                   {"coinbase", "ETH-USD", 2, 8, 1}},
                                       segment_->sections, *clock_);
    segment_->owner->set_state(ipc::SegmentState::running);
    view_ = std::make_unique<ipc::SegmentView>(instance_, ipc::kStateSegmentName, ipc::kStateLayoutVersion);
    ASSERT_EQ(view_->try_attach(), ipc::AttachStatus::attached) << view_->message();
  }
  const ipc::InstrumentState& published(std::size_t i) const {
    return view_->section_as<ipc::InstrumentState>(ipc::kSectionRecords)[i];
  }
  void load_snapshot(std::uint16_t id, std::int64_t mid, std::uint64_t seq) {
    engine_->apply(marker(id, EventKind::snapshot_begin, seq), now_, 0);
    for (int i = 1; i <= 20; ++i) {
      engine_->apply(level(id, Side::bid, mid - i, 100 * i, seq), now_, 0);
      engine_->apply(level(id, Side::ask, mid + i, 100 * i, seq), now_, 0);
    }
    engine_->apply(marker(id, EventKind::snapshot_end, seq), now_, 0);
  }

  static inline int counter_ = 0;
  std::string instance_;
  std::uint64_t now_ = 1'723'161'255'000'000'000ULL;
  std::unique_ptr<test::TestSegment> segment_;
  std::unique_ptr<ipc::TscClock> clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ipc::SegmentView> view_;
};

TEST_F(engine, should_publish_the_instrument_table_for_readers) {
  const auto* table = view_->section_as<ipc::InstrumentTable>(ipc::kSectionInstruments);
  ASSERT_NE(table, nullptr);
  ASSERT_EQ(table->count, 2U);
  EXPECT_EQ(std::string(table->items[0].venue.data()), "binance-spot");
  EXPECT_EQ(std::string(table->items[1].symbol.data()), "ETH-USD");
  EXPECT_EQ(table->items[0].price_decimals, 2);
  EXPECT_EQ(view_->header().mode, static_cast<std::uint32_t>(ipc::EngineMode::replay));
}

TEST_F(engine, should_publish_book_quote_and_health_that_a_read_only_reader_sees) {
  load_snapshot(0, 6'183'763, 50);
  engine_->apply(status(0, FeedStatus::book_live), now_, 0);
  engine_->apply(level(0, Side::bid, 6'183'763, 7, 51), now_, 0); // new best bid, not yet message end
  engine_->apply(level(0, Side::ask, 6'183'764, 0, 51, true), now_, 0); // delete best ask

  ipc::BookRecord book{};
  ASSERT_EQ(published(0).book.try_load(book), ipc::ReadStatus::ok);
  EXPECT_EQ(book.bid_levels, 10U);
  EXPECT_EQ(book.bids[0].price, 6'183'763);
  EXPECT_EQ(book.bids[0].qty, 7);
  EXPECT_EQ(book.asks[0].price, 6'183'765);
  EXPECT_EQ(book.update_id, 51U);
  ipc::QuoteRecord quote{};
  ASSERT_EQ(published(0).quote.try_load(quote), ipc::ReadStatus::ok);
  EXPECT_EQ(quote.bid_price, 6'183'763);
  EXPECT_EQ(quote.ask_price, 6'183'765);
  ipc::HealthRecord health{};
  ASSERT_EQ(published(0).health.try_load(health), ipc::ReadStatus::ok);
  EXPECT_EQ(health.health, ipc::BookHealth::live);
  EXPECT_EQ(health.book_updates, 2U) << "the snapshot and one diff message";
  ipc::FeatureRecord f{};
  ASSERT_EQ(published(0).features.try_load(f), ipc::ReadStatus::ok);
  EXPECT_DOUBLE_EQ(f.mid, (61837.63 + 61837.65) / 2);
}

TEST_F(engine, should_fade_the_signal_and_log_an_event_when_a_gap_is_reported) {
  load_snapshot(0, 10'000, 1);
  engine_->apply(status(0, FeedStatus::book_live), now_, 0);
  for (int i = 0; i < 50; ++i) {
    engine_->apply(trade(0, 10'000 + i, 5, Side::bid, static_cast<std::uint64_t>(i), now_ + static_cast<std::uint64_t>(i) * std::uint64_t{300'000'000}), now_, 0);
  }
  EXPECT_NE(engine_->signal(0).signal, 0.0) << "buy flow on a live book moves the signal";
  engine_->apply(status(0, FeedStatus::gap), now_, 0);
  EXPECT_EQ(engine_->health(0), ipc::BookHealth::gap);
  engine_->apply(trade(0, 10'100, 5, Side::bid, 99, now_ + 20'000'000'000ULL), now_, 0);
  ipc::SignalRecord sig{};
  ASSERT_EQ(published(0).signal.try_load(sig), ipc::ReadStatus::ok);
  EXPECT_EQ(sig.signal, 0.0);
  EXPECT_EQ(sig.confidence, 0.0);
  const auto* log = view_->section_as<ipc::EventLog>(ipc::kSectionEvents);
  ASSERT_NE(log, nullptr);
  ASSERT_GE(log->written.load(), 1U);
  ipc::NotableEvent ev{};
  ASSERT_EQ(log->entries[0].try_load(ev), ipc::ReadStatus::ok);
  EXPECT_EQ(ev.kind, ipc::NotableKind::gap);
  EXPECT_NE(std::strstr(ev.text.data(), "gap"), nullptr);
}

TEST_F(engine, should_mark_a_crossed_book_and_recover_when_it_uncrosses) {
  load_snapshot(1, 5'000, 1);
  engine_->apply(status(1, FeedStatus::book_live), now_, 0);
  engine_->apply(level(1, Side::bid, 5'003, 1, 2, true), now_, 0); // above the best ask 5001
  EXPECT_EQ(engine_->health(1), ipc::BookHealth::crossed);
  EXPECT_EQ(engine_->crossed_count(1), 1U);
  engine_->apply(level(1, Side::bid, 5'003, 0, 3, true), now_, 0);
  EXPECT_EQ(engine_->health(1), ipc::BookHealth::live);
}

TEST_F(engine, should_record_latency_per_stage_when_events_carry_stamps) {
  ipc::SpscRing<Event, 1024> ring;
  for (int i = 0; i < 100; ++i) {
    Event e = level(0, Side::bid, 1000 + i, 1, static_cast<std::uint64_t>(i), true);
    e.recv_ticks = clock_->now();
    e.push_delta_ticks = 10;
    ASSERT_TRUE(ring.try_push(e));
  }
  std::size_t done = 0;
  while (done < 100) {
    done += engine_->do_work(ring, now_);
  }
  const auto* latency = view_->section_as<ipc::LatencyTable>(ipc::kSectionLatency);
  ASSERT_NE(latency, nullptr);
  for (const ipc::Stage s : {ipc::Stage::parse, ipc::Stage::queue, ipc::Stage::process, ipc::Stage::receive_to_publish}) {
    EXPECT_EQ(latency->stages[static_cast<std::size_t>(s)].count(), 100U) << ipc::to_string(s);
  }
  EXPECT_EQ(engine_->events_processed(), 100U);
}

TEST_F(engine, should_not_allocate_per_event_after_warm_up) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> near(0.0, 30.0);
  load_snapshot(0, 6'000'000, 1);
  load_snapshot(1, 300'000, 1);
  engine_->apply(status(0, FeedStatus::book_live), now_, 0);
  engine_->apply(status(1, FeedStatus::book_live), now_, 0);
  const auto run = [&](int n, std::uint64_t start_ns) {
    std::uint64_t t = start_ns;
    for (int i = 0; i < n; ++i) {
      t += 7'000'000; // 7 ms apart: bars close, the regime filter runs
      const auto id = static_cast<std::uint16_t>(i & 1);
      const std::int64_t mid = id == 0 ? 6'000'000 : 300'000;
      const auto off = static_cast<std::int64_t>(std::abs(std::lround(near(rng)))) + 1;
      switch (i % 4) {
      case 0: engine_->apply(level(id, Side::bid, mid - off, i % 3 == 0 ? 0 : 5, 2, true), t, clock_->now()); break;
      case 1: engine_->apply(level(id, Side::ask, mid + off, 5, 2, true), t, clock_->now()); break;
      case 2: engine_->apply(trade(id, mid, 3, (i & 2) ? Side::bid : Side::ask, static_cast<std::uint64_t>(i), t), t, clock_->now()); break;
      default: {
        Event b = marker(id, EventKind::bbo, 3);
        b.bbo.bid_price = mid - 1;
        b.bbo.ask_price = mid + 1;
        b.bbo.bid_qty = b.bbo.ask_qty = 4;
        engine_->apply(b, t, clock_->now());
      }
      }
    }
    return t;
  };
  const std::uint64_t t = run(20'000, now_); // warm-up
  const std::uint64_t before = g_allocations.load();
  run(200'000, t);
  EXPECT_EQ(g_allocations.load() - before, 0U);
  EXPECT_GT(engine_->events_processed(), 220'000U);
  // the risk path ran inside the counted loop: marks always, orders or refusals when sized
  EXPECT_GT(engine_->trader().portfolio().position(0).mark, 0.0);
}

TEST_F(engine, should_trade_on_paper_publish_the_portfolio_and_obey_a_kill_command) {
  load_snapshot(0, 6'000'000, 1);
  engine_->apply(status(0, FeedStatus::book_live), now_, 0);
  const auto* log = view_->section_as<ipc::ControlLog>(ipc::kSectionControl);
  ipc::PortfolioRecord p{};
  ASSERT_EQ(log->portfolio.try_load(p), ipc::ReadStatus::ok);
  EXPECT_DOUBLE_EQ(p.initial_capital, 100'000.0);
  EXPECT_DOUBLE_EQ(p.equity, 100'000.0);
  ipc::ControlCommand kill{};
  kill.id = 41;
  kill.action = ipc::ControlAction::kill_on;
  kill.instrument = ipc::kNoInstrument;
  EXPECT_TRUE(engine_->control(kill, now_));
  ipc::RiskRecord r{};
  ASSERT_EQ(log->risk.try_load(r), ipc::ReadStatus::ok);
  EXPECT_EQ(r.kill_mode, ipc::KillModeCode::halt);
  EXPECT_EQ(r.kill_cause, ipc::KillCauseCode::command);
  EXPECT_EQ(r.kill_since_unix_ns, now_);
  ASSERT_EQ(log->written.load(), 1U);
  ipc::ControlAck ack{};
  ASSERT_EQ(log->entries[0].try_load(ack), ipc::ReadStatus::ok);
  EXPECT_EQ(ack.id, 41U);
  EXPECT_EQ(ack.result, ipc::ControlResult::done);
  // halted: a moving market produces no order at all
  std::uint64_t t = now_;
  for (int i = 0; i < 5'000; ++i) {
    t += 50'000'000;
    engine_->apply(trade(0, 6'000'000 + (i % 7) * 30, 3, (i & 1) ? Side::bid : Side::ask, static_cast<std::uint64_t>(i), t), t, 0);
    engine_->apply(level(0, Side::bid, 6'000'000 - 1 + (i % 7) * 30, 500, 2, true), t, 0);
  }
  EXPECT_EQ(engine_->trader().orders(), 0U);
  ipc::ControlCommand resync{};
  resync.action = ipc::ControlAction::resync;
  EXPECT_FALSE(engine_->control(resync, t)); // not a risk command: the caller handles it
  // A command past its deadline is acknowledged `expired` and not executed (issue 17).
  ipc::ControlCommand late{};
  late.id = 43;
  late.action = ipc::ControlAction::resume;
  late.deadline_mono_ns = 1; // long past
  EXPECT_TRUE(engine_->control(late, t));
  ASSERT_EQ(log->entries[1].try_load(ack), ipc::ReadStatus::ok);
  EXPECT_EQ(ack.id, 43U);
  EXPECT_EQ(ack.result, ipc::ControlResult::expired);
  ASSERT_EQ(log->risk.try_load(r), ipc::ReadStatus::ok);
  EXPECT_EQ(r.kill_mode, ipc::KillModeCode::halt);
  late.deadline_mono_ns = ipc::monotonic_ns() + 60'000'000'000ULL; // a deadline to come: executed
  late.id = 44;
  late.action = ipc::ControlAction::kill_on;
  EXPECT_TRUE(engine_->control(late, t));
  ASSERT_EQ(log->entries[2].try_load(ack), ipc::ReadStatus::ok);
  EXPECT_EQ(ack.result, ipc::ControlResult::done);
  ipc::ControlCommand reset{};
  reset.id = 42;
  reset.action = ipc::ControlAction::reset;
  EXPECT_TRUE(engine_->control(reset, t));
  ASSERT_EQ(log->risk.try_load(r), ipc::ReadStatus::ok);
  EXPECT_EQ(r.kill_mode, ipc::KillModeCode::none);
}

// The tick journal, followed through the read-only view as qf-bridge does.
const ipc::TickJournal& journal_of(const ipc::SegmentView& view) {
  return view.section_as<ipc::EventLog>(ipc::kSectionEvents)->journal;
}

TEST_F(engine, should_journal_every_trade_top_of_book_change_and_health_change) {
  ipc::BroadcastCursor<ipc::TickJournal> cursor(journal_of(*view_), 0);
  load_snapshot(0, 6'183'763, 50);
  engine_->apply(status(0, FeedStatus::book_live), now_, 0);
  engine_->apply(level(0, Side::bid, 6'183'700, 5, 51, true), now_, 0);  // deep level: top unchanged
  engine_->apply(level(0, Side::ask, 6'183'764, 9, 52, true), now_, 0);  // best ask qty changes
  engine_->apply(trade(0, 6'183'764, 3, Side::bid, 777, now_ - 5), now_, 0);
  std::vector<ipc::TickRecord> ticks;
  ipc::TickRecord t{};
  while (cursor.poll(t)) {
    ticks.push_back(t);
  }
  ASSERT_EQ(ticks.size(), 4U);
  EXPECT_EQ(ticks[0].kind, ipc::TickKind::bbo); // the snapshot's top
  EXPECT_EQ(ticks[0].source, ipc::TickSource::book);
  EXPECT_EQ(ticks[0].price, 6'183'762);
  EXPECT_EQ(ticks[0].ask_price, 6'183'764);
  EXPECT_EQ(ticks[0].ask_qty, 100);
  EXPECT_EQ(ticks[0].id, 50U);
  EXPECT_EQ(ticks[1].kind, ipc::TickKind::health);
  EXPECT_EQ(ticks[1].health, ipc::BookHealth::live);
  EXPECT_EQ(ticks[2].kind, ipc::TickKind::bbo); // update 51 left the top alone: no tick for it
  EXPECT_EQ(ticks[2].ask_qty, 9);
  EXPECT_EQ(ticks[2].id, 52U);
  EXPECT_EQ(ticks[3].kind, ipc::TickKind::trade);
  EXPECT_EQ(ticks[3].price, 6'183'764);
  EXPECT_EQ(ticks[3].qty, 3);
  EXPECT_EQ(ticks[3].side, 0);
  EXPECT_EQ(ticks[3].id, 777U);
  EXPECT_EQ(ticks[3].unix_ns, now_ - 5);
  EXPECT_EQ(cursor.lost(), 0U);
}

// A reader that does not keep up is lapped: the engine went on without waiting (every event
// applied, its counters complete, no allocation), the reader counts exactly the ticks it missed
// and resumes at the head with the newest ones.
TEST_F(engine, should_overrun_a_slow_journal_reader_that_counts_its_loss_exactly) {
  const ipc::TickJournal& journal = journal_of(*view_);
  const std::uint64_t start = journal.head();
  ipc::BroadcastCursor<ipc::TickJournal> slow(journal);
  constexpr std::uint64_t kTrades = 2 * ipc::kTickJournalSize + 100;
  std::uint64_t id = 1000;
  const std::uint64_t allocations_before = g_allocations.load();
  for (std::uint64_t k = 0; k < kTrades; ++k) {
    engine_->apply(trade(1, 300'000 + static_cast<std::int64_t>(k % 50), 1, Side::ask, id++, now_), now_, 0);
  }
  EXPECT_EQ(g_allocations.load() - allocations_before, 0U);
  ipc::EngineRecord counters{};
  ASSERT_EQ(view_->section_as<ipc::FeedTable>(ipc::kSectionFeeds)->engine.try_load(counters), ipc::ReadStatus::ok);
  EXPECT_EQ(counters.events_processed, kTrades) << "every event applied while the reader lagged";
  ipc::HealthRecord health{};
  ASSERT_EQ(published(1).health.try_load(health), ipc::ReadStatus::ok);
  EXPECT_EQ(health.trades, kTrades);
  EXPECT_EQ(journal.head() - start, kTrades) << "one tick per trade, none skipped by the writer";

  ipc::TickRecord t{};
  EXPECT_FALSE(slow.poll(t)); // lapped: jumps to the head
  EXPECT_EQ(slow.lost(), kTrades);
  EXPECT_EQ(slow.laps(), 1U);
  for (int k = 0; k < 3; ++k) {
    engine_->apply(trade(1, 300'000, 2, Side::bid, id++, now_), now_, 0);
  }
  for (std::uint64_t k = 0; k < 3; ++k) {
    ASSERT_TRUE(slow.poll(t));
    EXPECT_EQ(t.kind, ipc::TickKind::trade);
    EXPECT_EQ(t.id, 1000 + kTrades + k);
    EXPECT_EQ(t.instrument, 1U);
  }
  EXPECT_FALSE(slow.poll(t));
  EXPECT_EQ(slow.delivered() + slow.lost(), journal.head() - start);
}

TEST_F(engine, should_be_read_back_whole_by_a_state_reader) {
  load_snapshot(0, 6'183'763, 50);
  engine_->apply(status(0, FeedStatus::book_live), now_, 0);
  engine_->apply(status(1, FeedStatus::gap), now_, 0);
  ipc::StateReader reader(instance_);
  ipc::StateSnapshot snap;
  reader.read(snap);
  ASSERT_EQ(snap.status, ipc::EngineStatus::running) << snap.message;
  EXPECT_EQ(snap.mode, ipc::EngineMode::replay);
  EXPECT_EQ(snap.engine_pid, ::getpid());
  ASSERT_EQ(snap.instruments.size(), 2U);
  EXPECT_EQ(std::string(snap.instruments[0].info.symbol.data()), "BTCUSDT");
  EXPECT_FALSE(snap.instruments[0].busy);
  EXPECT_EQ(snap.instruments[0].health.health, ipc::BookHealth::live);
  EXPECT_EQ(snap.instruments[0].book.bids[0].price, 6'183'762);
  EXPECT_EQ(snap.instruments[1].health.health, ipc::BookHealth::gap);
  ASSERT_EQ(snap.events.size(), 1U);
  EXPECT_EQ(snap.events[0].instrument, 1);
  segment_->owner->set_state(ipc::SegmentState::stopped);
  reader.read(snap);
  EXPECT_EQ(snap.status, ipc::EngineStatus::stopped);
}

TEST(state_reader, should_await_an_engine_that_is_not_there) {
  ipc::StateReader reader("absent-" + std::to_string(::getpid()));
  ipc::StateSnapshot snap;
  reader.read(snap);
  EXPECT_EQ(snap.status, ipc::EngineStatus::awaiting);
  EXPECT_NE(snap.message.find("awaiting"), std::string::npos) << snap.message;
  EXPECT_TRUE(snap.instruments.empty());
}

TEST(engine_config, should_refuse_a_symbol_too_long_for_the_layout) {
  ipc::InstrumentTable table{};
  auto records = std::make_unique<ipc::InstrumentState[]>(ipc::kMaxInstruments);
  auto feeds = std::make_unique<ipc::FeedTable>();
  auto latency = std::make_unique<ipc::LatencyTable>();
  auto events = std::make_unique<ipc::EventLog>();
  const StateSections s{&table, records.get(), feeds.get(), latency.get(), events.get()};
  const ipc::TscClock clock = ipc::TscClock::monotonic();
  EXPECT_THROW(Engine(CoreConfig{}, {{"binance-spot", std::string(40, 'X'), 2, 8, 0}}, s, clock), std::invalid_argument);
  EXPECT_THROW(Engine(CoreConfig{}, {}, s, clock), std::invalid_argument);
}

} // namespace
} // namespace qf::core
