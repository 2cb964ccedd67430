// A stand-in for `qf-engine` live mode in the gateway tests: it owns /qf.<instance>.state and
// /qf.<instance>.control exactly as the engine does (layouts from ipc/ only), publishes records
// that change every step, and executes control commands by acknowledging them in the state's
// ControlLog. Every published value is a function of the step number k, written down once here
// and again, independently, in gateway_test.py:
//   instruments: 0 binance-spot:BTCUSDT (2/8 decimals, feed 0, health live),
//                1 coinbase:ETH-USD (2/8, feed 1, health gap),
//                2 binance-usdm:SOLUSDT (3/2, feed 0, syncing, never quoted)
//   quote of i in {0,1} at step k: base = 6183763 | 345012; bid = base + k % 100; ask = bid + 1 + k % 3;
//     bid_qty = 100000000 + k; ask_qty = 50000000 + 2k; last = bid, last_qty = 2000000 + k,
//     last_trade_id = 1000 + k, last_side = k % 2; update_id = k
//   book: 10 levels, bid j = (bid - j, (j+1)*10^8 + k), ask j = (ask + j, (j+1)*10^8 + 2k), update_id k
//   latency: parse 1000..1999 ns, queue 100..199 ns, process 5000 x 50000 ns,
//            receive_to_publish 1000*j for j = 1..1000, exchange_to_receive empty
//   position (fills = k for instrument 0, so a reader can recover k):
//     0: qty = 0.01 (k % 7), avg_cost = 60000, mark = mid = (bid + ask) / 200, realized = 12.5,
//        fees = 0.25 (k % 7), target = 0.01 ((k + 1) % 7), fills = k
//     1: qty = -0.5, avg_cost = 3500, mark = mid, realized = -3, fees = 1.75, target = -0.5, fills = 3
//     2: all zero;   unrealized = qty (mark - avg_cost)
//   portfolio: initial 100000; realized, unrealized, fees = sums over positions;
//     equity = initial + realized + unrealized - fees; cash = equity - sum qty mark;
//     peak_equity = 101000; drawdown = (peak - equity) / peak; day_start_equity = 100500;
//     daily_pnl = equity - day_start; gross_exposure = sum |qty mark|; fills = k + 3; orders = k + 5
//   risk: limits max_drawdown 0.15, daily_loss_limit 2000, max_order_notional 10000,
//     max_position_notional 20000, max_gross_notional 50000, price_band_bps 50, orders 5/60/10/200;
//     enabled; refusal_reasons 10; refusals[r] = r k for r = 2..9, refusals[1] (kill_switch) +1
//     per step while the kill switch is tripped; orders_last_s = k % 5, orders_last_min = k % 60
//   fills: one per 10 steps, n = k / 10: order_id n, instrument n % 2, side n % 2 (0 buy),
//     qty 0.01 n, price 1000 + n, fee qty price / 1000, realized n / 2
//   control: resync of a known instrument -> done "resync requested"; other ids -> unknown_instrument;
//            kill_on/kill_reduce_only/flatten trip the kill switch in halt/reduce-only/flatten mode
//            (cause command, since = now, trips + 1 when it was not tripped; a risk event), and
//            kill_off/resume/reset release it; acknowledged done "<changed|unchanged>; kill switch
//            <mode>" after the risk record is published. --ignore-control pops without acknowledging.
//   composite (layout v7) "BTC": price/qty decimals 2/8, stale_after_ms 5000, members instruments 0, 1, 2;
//     at step k, B = 6183763 + k % 100: bid level j in 0..2 = B - j with shares {(j+1) 10^8, k, 0};
//     ask level j = B + 1 + j with shares {j 10^8, 2k + 1, 0}; qty = sum of shares; bid_member 0,
//     ask_member 1, included 2, crossed 0, updates k; member 0 live, top (B, 10^8, B + 2, 10^8);
//     member 1 live, top (B, k, B + 1, 2k + 1); member 2 syncing, excluded not_live, empty, never updated
// Usage: fake_engine INSTANCE [--mode live|sim|replay] [--step-ms N] [--ignore-control]
// Prints "ready" once step 1 is published. Stops on SIGTERM/SIGINT (segments marked stopped).
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;
using namespace qf;

template <std::size_t N>
void copy_text(std::array<char, N>& dst, const char* src) {
  std::memset(dst.data(), 0, N);
  std::memcpy(dst.data(), src, strnlen(src, N - 1));
}

constexpr std::int64_t kBase[2] = {6'183'763, 345'012};
constexpr std::uint64_t kBarEpoch = 1'700'000'000'000'000'000ULL;

struct Kill {
  ipc::KillModeCode mode = ipc::KillModeCode::none;
  ipc::KillCauseCode cause = ipc::KillCauseCode::none;
  std::uint64_t since = 0, trips = 0, refused = 0;
};

void publish_risk(ipc::InstrumentState* rec, ipc::ControlLog* log, std::uint64_t k, std::uint64_t now, const Kill& kill,
                  bool step) {
  double realized = 0, unrealized = 0, fees = 0, value = 0, gross = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    ipc::PositionRecord p{};
    if (i < 2) {
      const auto ki = static_cast<std::int64_t>(k);
      const std::int64_t bid = kBase[i] + ki % 100;
      const std::int64_t ask = bid + 1 + ki % 3;
      p.mark = static_cast<double>(bid + ask) / 200.0;
      if (i == 0) {
        p.qty = 0.01 * static_cast<double>(k % 7);
        p.avg_cost = 60000.0;
        p.realized = 12.5;
        p.fees = 0.25 * static_cast<double>(k % 7);
        p.target = 0.01 * static_cast<double>((k + 1) % 7);
        p.fills = k;
      } else {
        p.qty = -0.5;
        p.avg_cost = 3500.0;
        p.realized = -3.0;
        p.fees = 1.75;
        p.target = -0.5;
        p.fills = 3;
      }
      p.unrealized = p.qty * (p.mark - p.avg_cost);
      p.updated_unix_ns = now;
    }
    realized += p.realized;
    unrealized += p.unrealized;
    fees += p.fees;
    value += p.qty * p.mark;
    gross += std::fabs(p.qty * p.mark);
    rec[i].position.store(p);
  }
  ipc::PortfolioRecord pf{};
  pf.initial_capital = 100000.0;
  pf.realized = realized;
  pf.unrealized = unrealized;
  pf.fees = fees;
  pf.equity = pf.initial_capital + realized + unrealized - fees;
  pf.cash = pf.equity - value;
  pf.peak_equity = 101000.0;
  pf.drawdown = (pf.peak_equity - pf.equity) / pf.peak_equity;
  pf.day_start_equity = 100500.0;
  pf.daily_pnl = pf.equity - pf.day_start_equity;
  pf.gross_exposure = gross;
  pf.fills = k + 3;
  pf.orders = k + 5;
  pf.updated_unix_ns = now;
  log->portfolio.store(pf);
  ipc::RiskRecord r{};
  r.kill_mode = kill.mode;
  r.kill_cause = kill.cause;
  r.enabled = 1;
  r.refusal_reasons = 10;
  r.kill_since_unix_ns = kill.since;
  r.kill_trips = kill.trips;
  r.max_drawdown = 0.15;
  r.daily_loss_limit = 2000;
  r.max_order_notional = 10000;
  r.max_position_notional = 20000;
  r.max_gross_notional = 50000;
  r.price_band_bps = 50;
  r.orders_per_s_instrument = 5;
  r.orders_per_min_instrument = 60;
  r.orders_per_s_total = 10;
  r.orders_per_min_total = 200;
  r.orders_last_s = static_cast<std::uint32_t>(k % 5);
  r.orders_last_min = static_cast<std::uint32_t>(k % 60);
  r.refusals[1] = kill.refused;
  for (std::size_t j = 2; j < 10; ++j) {
    r.refusals[j] = j * k;
  }
  r.updated_unix_ns = now;
  log->risk.store(r);
  if (step && k % 10 == 0) {
    const std::uint64_t n = k / 10;
    ipc::FillRecord f{};
    f.unix_ns = now;
    f.order_id = n;
    f.instrument = static_cast<std::uint16_t>(n % 2);
    f.side = static_cast<std::uint8_t>(n % 2);
    f.qty = 0.01 * static_cast<double>(n);
    f.price = 1000.0 + static_cast<double>(n);
    f.fee = f.qty * f.price / 1000.0;
    f.realized = static_cast<double>(n) / 2.0;
    log->append_fill(f);
  }
}

void publish(ipc::InstrumentState* rec, ipc::FeedTable* feeds, std::uint64_t k, std::uint64_t now,
             const std::uint64_t* resyncs) {
  for (std::size_t i = 0; i < 2; ++i) {
    const auto ki = static_cast<std::int64_t>(k);
    ipc::QuoteRecord q{};
    q.bid_price = kBase[i] + ki % 100;
    q.ask_price = q.bid_price + 1 + ki % 3;
    q.bid_qty = 100'000'000 + ki;
    q.ask_qty = 50'000'000 + 2 * ki;
    q.last_price = q.bid_price;
    q.last_qty = 2'000'000 + ki;
    q.last_trade_id = 1000 + k;
    q.last_trade_unix_ns = now;
    q.last_side = static_cast<std::uint8_t>(k % 2);
    q.update_id = k;
    q.updated_unix_ns = now;
    rec[i].quote.store(q);
    ipc::BookRecord b{};
    b.bid_levels = b.ask_levels = 10;
    for (std::size_t j = 0; j < 10; ++j) {
      const auto jj = static_cast<std::int64_t>(j);
      b.bids[j] = {q.bid_price - jj, (jj + 1) * 100'000'000 + ki};
      b.asks[j] = {q.ask_price + jj, (jj + 1) * 100'000'000 + 2 * ki};
    }
    b.update_id = k;
    rec[i].book.store(b);
    ipc::FeatureRecord f{};
    const double base = static_cast<double>(kBase[i]) / 100.0;
    f.mid = static_cast<double>(q.bid_price + q.ask_price) / 200.0;
    f.microprice = f.mid;
    f.spread_bps = 1.5;
    f.imbalance = 0.25;
    f.trade_flow = -0.5;
    f.ret_fast = 0.001;
    f.ret_slow = 0.002;
    f.realized_vol = 0.003;
    f.vwap = base;
    f.rsi = 50.0 + static_cast<double>(k % 10);
    f.bollinger_z = 0.5;
    f.atr = 1.25;
    f.bar_1s = {kBarEpoch + (k / 50) * 1'000'000'000ULL, base, base + 0.07, base - 0.03, base + 0.02, 1.5,
                static_cast<std::uint32_t>(k / 50), 1};
    f.bar_1m = {kBarEpoch, base, base + 1.0, base - 1.0, base + 0.5, 90.25, 42, 1};
    f.updated_unix_ns = now;
    rec[i].features.store(f);
    ipc::SignalRecord s{};
    s.signal = (static_cast<double>(k % 200) - 100.0) / 100.0;
    s.confidence = 0.75;
    s.regime = {0.5, 0.3, 0.2, 0.0};
    s.regimes = 3;
    s.dominant = 0;
    s.updated_unix_ns = now;
    rec[i].signal.store(s);
    ipc::HealthRecord h{};
    h.health = i == 0 ? ipc::BookHealth::live : ipc::BookHealth::gap;
    h.book_updates = k;
    h.trades = k;
    h.gaps = i == 1 ? 1 : 0;
    h.resyncs = resyncs[i];
    h.last_update_mono_ns = ipc::monotonic_ns();
    rec[i].health.store(h);
  }
  ipc::HealthRecord h{};
  h.health = ipc::BookHealth::syncing;
  h.resyncs = resyncs[2];
  rec[2].health.store(h);
  ipc::EngineRecord e{};
  e.messages_in = 2 * k;
  e.events_processed = 10 * k;
  e.core_cpu = 1;
  e.hot_cpu = 1; // a tuned profile, as `qf-engine --tuned` publishes it
  e.sched_policy = ipc::SchedPolicy::fifo;
  e.sched_priority = 80;
  e.threads = ipc::EngineThreads::split;
  e.tuned = 1;
  e.updated_unix_ns = now;
  feeds->engine.store(e);
  for (std::size_t f = 0; f < 2; ++f) {
    ipc::FeedRecord r{};
    copy_text(r.name, f == 0 ? "binance" : "coinbase");
    r.state = f == 0 ? ipc::ConnectionState::connected : ipc::ConnectionState::disconnected;
    r.messages = 2 * k + f;
    r.bytes = 300 * k;
    r.reconnects = 1;
    r.gaps = f;
    r.resyncs = resyncs[f];
    r.ring_high_water = 5;
    r.record_dropped = 3 * f; // the recorder's losses: coinbase only
    r.record_write_errors = 2 * f;
    feeds->feeds[f].store(r);
  }
}

void publish_composite(ipc::CompositeTable* t, std::uint64_t k, std::uint64_t now) {
  const std::int64_t b = kBase[0] + static_cast<std::int64_t>(k % 100);
  const auto ki = static_cast<std::int64_t>(k);
  ipc::CompositeRecord r{};
  r.bid_levels = r.ask_levels = 3;
  for (std::size_t j = 0; j < 3; ++j) {
    const auto jj = static_cast<std::int64_t>(j);
    r.bids[j].price = b - jj;
    r.bids[j].member_qty[0] = (jj + 1) * 100'000'000;
    r.bids[j].member_qty[1] = ki;
    r.bids[j].qty = r.bids[j].member_qty[0] + ki;
    r.asks[j].price = b + 1 + jj;
    r.asks[j].member_qty[0] = jj * 100'000'000;
    r.asks[j].member_qty[1] = 2 * ki + 1;
    r.asks[j].qty = r.asks[j].member_qty[0] + r.asks[j].member_qty[1];
  }
  r.bid_member = 0;
  r.ask_member = 1;
  r.included = 2;
  r.member[0] = {ipc::BookHealth::live, ipc::CompositeExclusion::none, {}, b, 100'000'000, b + 2, 100'000'000, now};
  r.member[1] = {ipc::BookHealth::live, ipc::CompositeExclusion::none, {}, b, ki, b + 1, 2 * ki + 1, now};
  r.member[2] = {ipc::BookHealth::syncing, ipc::CompositeExclusion::not_live, {}, 0, 0, 0, 0, 0};
  r.updates = k;
  r.updated_unix_ns = now;
  t->records[0].store(r);
}

ipc::NotableEvent event(std::uint64_t now, std::uint16_t instrument, ipc::NotableKind kind, const char* text) {
  ipc::NotableEvent e{};
  e.unix_ns = now;
  e.instrument = instrument;
  e.kind = kind;
  copy_text(e.text, text);
  return e;
}
} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fake_engine INSTANCE [--mode live|sim|replay] [--step-ms N] [--ignore-control]\n");
    return 2;
  }
  ipc::EngineMode mode = ipc::EngineMode::sim;
  int step_ms = 20;
  bool ignore_control = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mode" && i + 1 < argc) {
      const std::string m = argv[++i];
      mode = m == "live" ? ipc::EngineMode::live : m == "replay" ? ipc::EngineMode::replay : ipc::EngineMode::sim;
    } else if (a == "--step-ms" && i + 1 < argc) {
      step_ms = std::atoi(argv[++i]);
    } else if (a == "--ignore-control") {
      ignore_control = true;
    } else {
      std::fprintf(stderr, "fake_engine: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });

  const ipc::TscClock clock = ipc::TscClock::calibrate(std::chrono::milliseconds(5));
  ipc::SegmentOptions so;
  so.instance = argv[1];
  so.name = ipc::kStateSegmentName;
  so.layout_version = ipc::kStateLayoutVersion;
  const auto bytes = ipc::state_section_bytes();
  so.section_bytes.assign(bytes.begin(), bytes.end());
  so.mode = static_cast<std::uint32_t>(mode);
  so.clock = clock.calibration();
  ipc::SegmentOwner state(so);

  ipc::SegmentOptions co;
  co.instance = argv[1];
  co.name = ipc::kControlSegmentName;
  co.layout_version = ipc::kControlLayoutVersion;
  co.section_bytes = {sizeof(ipc::ControlQueue)};
  co.clock = clock.calibration();
  ipc::SegmentOwner control(co);
  auto* queue = new (control.section(0)) ipc::ControlQueue();

  auto* table = new (state.section(ipc::kSectionInstruments)) ipc::InstrumentTable{};
  const struct {
    const char* venue;
    const char* symbol;
    std::int8_t pd, qd;
    std::uint16_t feed;
  } kInstruments[] = {{"binance-spot", "BTCUSDT", 2, 8, 0}, {"coinbase", "ETH-USD", 2, 8, 1},
                      {"binance-usdm", "SOLUSDT", 3, 2, 0}};
  for (const auto& in : kInstruments) {
    ipc::InstrumentInfo& info = table->items[table->count++];
    copy_text(info.venue, in.venue);
    copy_text(info.symbol, in.symbol);
    info.price_decimals = in.pd;
    info.qty_decimals = in.qd;
    info.feed = in.feed;
  }
  auto* records = state.section_as<ipc::InstrumentState>(ipc::kSectionRecords);
  ipc::CompositeTable* composites = ipc::composite_table(state.section(ipc::kSectionRecords));
  copy_text(composites->info[0].asset, "BTC");
  composites->info[0].price_decimals = 2;
  composites->info[0].qty_decimals = 8;
  composites->info[0].members = 3;
  composites->info[0].stale_after_ms = 5000;
  composites->info[0].instrument = {0, 1, 2};
  composites->count = 1;
  ipc::seal(*table); // the write-once tables' checksums (layout v10)
  ipc::seal(*composites);
  auto* feeds = state.section_as<ipc::FeedTable>(ipc::kSectionFeeds);
  feeds->count = 2;
  auto* latency = state.section_as<ipc::LatencyTable>(ipc::kSectionLatency);
  for (std::uint64_t v = 1000; v < 2000; ++v) {
    latency->stages[0].record(v);
  }
  for (std::uint64_t v = 100; v < 200; ++v) {
    latency->stages[1].record(v);
  }
  for (int n = 0; n < 5000; ++n) {
    latency->stages[2].record(50'000);
  }
  for (std::uint64_t j = 1; j <= 1000; ++j) {
    latency->stages[3].record(1000 * j);
  }
  auto* events = state.section_as<ipc::EventLog>(ipc::kSectionEvents);
  auto* acks = state.section_as<ipc::ControlLog>(ipc::kSectionControl);
  const std::uint64_t t0 = ipc::realtime_ns();
  events->append(event(t0, ipc::kNoInstrument, ipc::NotableKind::info, "fake engine started"));
  events->append(event(t0 + 1, 1, ipc::NotableKind::gap, "sequence gap 100 -> 105"));

  std::uint64_t resyncs[3] = {0, 0, 0};
  Kill kill;
  std::uint64_t k = 1;
  publish(records, feeds, k, ipc::realtime_ns(), resyncs);
  publish_risk(records, acks, k, ipc::realtime_ns(), kill, true);
  publish_composite(composites, k, ipc::realtime_ns());
  state.heartbeat();
  state.set_state(ipc::SegmentState::running);
  control.set_state(ipc::SegmentState::running);
  std::printf("ready\n");
  std::fflush(stdout);

  auto next = std::chrono::steady_clock::now();
  while (g_stop == 0) {
    next += std::chrono::milliseconds(step_ms);
    std::this_thread::sleep_until(next);
    ++k;
    const std::uint64_t now = ipc::realtime_ns();
    ipc::ControlCommand c{};
    while (queue->ring.try_pop(c)) {
      if (ignore_control) {
        continue;
      }
      ipc::ControlAck a{};
      a.id = c.id;
      a.unix_ns = now;
      a.action = c.action;
      a.instrument = c.instrument;
      if (c.action == ipc::ControlAction::paper_order || c.action == ipc::ControlAction::set_limit) {
        a.result = ipc::ControlResult::unsupported; // no trader here: tests/engine/paper_orders_test.py
        copy_text(a.text, "not in the fake engine");
      } else if (c.action != ipc::ControlAction::resync) {
        ipc::KillModeCode want = ipc::KillModeCode::none;
        switch (c.action) {
        case ipc::ControlAction::kill_on: want = ipc::KillModeCode::halt; break;
        case ipc::ControlAction::kill_reduce_only: want = ipc::KillModeCode::reduce_only; break;
        case ipc::ControlAction::flatten: want = ipc::KillModeCode::flatten; break;
        default: break;
        }
        const bool changed = want != kill.mode;
        if (want == ipc::KillModeCode::none) {
          kill.mode = want;
          kill.cause = ipc::KillCauseCode::none;
          kill.since = 0;
        } else {
          if (kill.mode == ipc::KillModeCode::none) {
            kill.cause = ipc::KillCauseCode::command;
            kill.since = now;
            ++kill.trips;
            char text[84];
            std::snprintf(text, sizeof text, "kill switch tripped: command, mode %s", ipc::to_string(want));
            events->append(event(now, ipc::kNoInstrument, ipc::NotableKind::risk, text));
          }
          kill.mode = want;
        }
        publish_risk(records, acks, k, now, kill, false); // the state first, then the acknowledgement
        a.result = ipc::ControlResult::done;
        char text[40];
        std::snprintf(text, sizeof text, "%s; kill switch %s", changed ? "changed" : "unchanged", ipc::to_string(kill.mode));
        copy_text(a.text, text);
      } else if (c.instrument >= table->count) {
        a.result = ipc::ControlResult::unknown_instrument;
        copy_text(a.text, "no such instrument");
      } else {
        a.result = ipc::ControlResult::done;
        copy_text(a.text, "resync requested");
        ++resyncs[c.instrument];
        char text[84];
        std::snprintf(text, sizeof text, "resync by %s", c.actor.data());
        events->append(event(now, c.instrument, ipc::NotableKind::resync, text));
      }
      acks->append(a);
    }
    if (kill.mode != ipc::KillModeCode::none) {
      ++kill.refused; // a tripped switch refuses the strategy's orders
    }
    publish(records, feeds, k, now, resyncs);
    publish_risk(records, acks, k, now, kill, true);
    publish_composite(composites, k, now);
    state.heartbeat();
    control.heartbeat();
  }
  return 0;
}
