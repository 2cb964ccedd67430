#include "live.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "host.hpp"
#include "qf/feeds/binance/session.hpp"
#include "qf/feeds/coinbase/session.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "qf/feeds/net/rest_budget.hpp"
#include "qf/feeds/recorder.hpp"
#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/eventcount.hpp"
#include "risk_store.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qf::engine {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int /*signal*/) {
  g_stop.store(true, std::memory_order_relaxed);
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Idle strategies (Aeron's names): spin burns the core for the lowest latency; backoff spins,
// then yields, then parks on the EventCount every feed push notifies, so the next event (or the
// housekeeping deadline) wakes it and no sleep is added to a message's latency; sleep naps 1 ms
// (CI, laptops).
class Idle {
public:
  Idle(config::IdleStrategy s, ipc::EventCount& wake) : strategy_(s), wake_(wake) {}
  // `has_work` re-checks the rings after the park is announced; the park lasts at most
  // `max_park_ns` (the time left to the next housekeeping tick).
  template <typename HasWork>
  void idle(const HasWork& has_work, std::uint64_t max_park_ns) noexcept {
    switch (strategy_) {
    case config::IdleStrategy::spin: cpu_relax(); return;
    case config::IdleStrategy::sleep: std::this_thread::sleep_for(std::chrono::milliseconds(1)); return;
    case config::IdleStrategy::backoff:
      if (count_ < 200) {
        ++count_;
        cpu_relax();
      } else if (count_ < 300) {
        ++count_;
        std::this_thread::yield();
      } else if (max_park_ns != 0) {
        const ipc::EventCount::Key key = wake_.prepare_wait();
        if (has_work()) {
          wake_.cancel_wait(key); // an event landed between the last drain and the announcement
        } else {
          wake_.wait_for(key, max_park_ns);
        }
      }
      return;
    }
  }
  void reset() noexcept { count_ = 0; }

private:
  config::IdleStrategy strategy_;
  ipc::EventCount& wake_;
  std::uint32_t count_ = 0;
};

feeds::LogFn make_log() {
  return [](feeds::LogLevel level, std::string_view text) {
    switch (level) {
    case feeds::LogLevel::info: spdlog::info("{}", text); break;
    case feeds::LogLevel::warn: spdlog::warn("{}", text); break;
    case feeds::LogLevel::error: spdlog::error("{}", text); break;
    }
  };
}

void setup_logging() {
  spdlog::init_thread_pool(8192, 1);
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>("qf-engine", sink, spdlog::thread_pool(),
                                                       spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

template <typename T>
void copy_text(T& out, const std::string& s) {
  const std::size_t n = std::min(s.size(), out.size() - 1);
  std::copy_n(s.data(), n, out.data());
  out[n] = '\0';
}

struct VenuePlan {
  const config::VenueEntry* venue = nullptr;
  std::uint16_t feed_index = 0;
  std::vector<feeds::SessionInstrument> instruments;
};

} // namespace

core::CoreConfig core_config_from(const config::Config& c) {
  core::CoreConfig cc;
  cc.book = core::BookConfig{c.book.window_ticks, c.book.cold_capacity};
  cc.features = core::FeatureConfig{c.features.fast_halflife_s, c.features.slow_halflife_s, c.features.vol_halflife_s,
                                    c.features.flow_halflife_s, c.features.vwap_window_s, c.features.imbalance_levels};
  core::RiskConfig& r = cc.risk; // [risk] and [paper]
  r.enabled = c.risk.enabled;
  r.sizing = core::SizingParams{c.risk.target_vol_annual, c.risk.allocation, c.risk.vol_floor, c.risk.lot_size,
                                c.risk.rebalance_notional, c.risk.rebalance_band,
                                static_cast<std::uint64_t>(c.risk.min_hold_s * 1e9),
                                static_cast<std::uint64_t>(c.risk.min_order_gap_ms * 1e6)};
  r.limits = core::RiskLimits{c.risk.price_band_bps,          c.risk.max_order_notional,   c.risk.max_position_notional,
                              c.risk.max_gross_notional,      c.risk.daily_loss_limit,     c.risk.max_drawdown,
                              c.risk.orders_per_s_instrument, c.risk.orders_per_min_instrument,
                              c.risk.orders_per_s_total,      c.risk.orders_per_min_total};
  r.paper = core::PaperParams{c.paper.initial_capital, c.paper.taker_fee_bps, c.paper.maker_fee_bps,
                              static_cast<std::uint64_t>(c.paper.latency_ms * 1e6)};
  r.trip_mode = c.risk.trip_mode == config::KillModeSetting::flatten       ? core::KillMode::flatten
                : c.risk.trip_mode == config::KillModeSetting::reduce_only ? core::KillMode::reduce_only
                                                                           : core::KillMode::halt;
  return cc;
}

core::BacktestCriteria backtest_criteria_from(const config::Config& c) {
  return core::BacktestCriteria{c.backtest.min_trades, c.backtest.min_win_rate, c.backtest.max_drawdown,
                               c.backtest.min_annualize_s};
}

int run_live(const LiveOptions& options) {
  const config::Config& cfg = options.config;
  const std::string instance = options.instance.empty() ? cfg.engine.instance : options.instance;
  if (cfg.instruments.empty()) {
    throw std::runtime_error("the config names no instrument ([[instruments]])");
  }
  setup_logging();
  spdlog::info("qf-engine {} starting: instance '{}', mode {}, {} instruments", "0.1", instance,
               config::to_string(cfg.engine.mode), cfg.instruments.size());

  // Host self-check: what would hurt latency here.
  for (const HostFinding& f : check_host(cfg.engine.core_cpu)) {
    if (f.hurts_latency) {
      spdlog::warn("host: {}: {} -> {}", f.what, f.found, f.advice);
    }
  }

  // Instruments (engine ids in config order) and one session per venue.
  std::vector<core::InstrumentSpec> specs;
  std::vector<VenuePlan> plans;
  for (const config::InstrumentEntry& i : cfg.instruments) {
    auto it = std::find_if(plans.begin(), plans.end(), [&](const VenuePlan& p) { return p.venue->venue == i.venue; });
    if (it == plans.end()) {
      const config::VenueEntry* v = config::find_venue(cfg, i.venue);
      if (v == nullptr) {
        throw std::runtime_error("no venue entry for " + i.venue);
      }
      plans.push_back({v, static_cast<std::uint16_t>(plans.size()), {}});
      it = plans.end() - 1;
    }
    const auto id = static_cast<core::InstrumentId>(specs.size());
    specs.push_back({i.venue, i.symbol, i.price_decimals, i.qty_decimals, it->feed_index});
    it->instruments.push_back({id, i.symbol, i.price_decimals, i.qty_decimals});
  }
  if (plans.size() > ipc::kMaxFeeds) {
    throw std::runtime_error("more venues than the state layout's feed table holds");
  }

  // Tuning of the process and of this (the core) thread, before anything big is allocated.
  TuningRequest tuning;
  tuning.cpu = cfg.engine.core_cpu;
  tuning.numa_node = cfg.engine.numa_node;
  tuning.lock_memory = cfg.engine.lock_memory;
  tuning.realtime_priority = cfg.engine.realtime_priority;
  for (const std::string& w : apply_tuning(tuning)) {
    spdlog::warn("tuning: {}", w);
  }

  const ipc::TscClock clock = ipc::TscClock::calibrate(std::chrono::milliseconds(20));
  const ipc::EngineMode mode = cfg.engine.mode == config::Mode::sim ? ipc::EngineMode::sim : ipc::EngineMode::live;

  // Segments: the state (read by everyone) and the control queue (one producer: the gateway).
  ipc::SegmentOptions so;
  so.instance = instance;
  so.name = ipc::kStateSegmentName;
  so.layout_version = ipc::kStateLayoutVersion;
  const auto bytes = ipc::state_section_bytes();
  so.section_bytes.assign(bytes.begin(), bytes.end());
  so.mode = static_cast<std::uint32_t>(mode);
  so.clock = clock.calibration();
  so.prefault = true;
  so.huge_pages = cfg.engine.huge_pages;
  ipc::SegmentOwner state(so);
  if (!state.warning().empty()) {
    spdlog::warn("state segment: {}", state.warning());
  }
  ipc::SegmentOptions co;
  co.instance = instance;
  co.name = ipc::kControlSegmentName;
  co.layout_version = ipc::kControlLayoutVersion;
  co.section_bytes = {sizeof(ipc::ControlQueue)};
  co.mode = so.mode;
  co.clock = so.clock;
  ipc::SegmentOwner control(co);
  auto* queue = new (control.section(0)) ipc::ControlQueue();
  control.set_state(ipc::SegmentState::running);

  core::StateSections sections;
  sections.instruments = state.section_as<ipc::InstrumentTable>(ipc::kSectionInstruments);
  sections.records = state.section_as<ipc::InstrumentState>(ipc::kSectionRecords);
  sections.feeds = state.section_as<ipc::FeedTable>(ipc::kSectionFeeds);
  sections.latency = state.section_as<ipc::LatencyTable>(ipc::kSectionLatency);
  sections.events = state.section_as<ipc::EventLog>(ipc::kSectionEvents);
  sections.control = state.section_as<ipc::ControlLog>(ipc::kSectionControl);
  core::Engine engine(core_config_from(cfg), specs, sections, clock);
  const std::string& risk_file = cfg.risk.state_file; // persisted portfolio + kill switch
  if (!risk_file.empty()) {
    if (const auto saved = load_risk_state(risk_file, static_cast<std::uint32_t>(specs.size()))) {
      engine.restore(*saved, ipc::realtime_ns());
      spdlog::info("risk state restored from {}: kill switch {}, equity {:.2f}", risk_file,
                   core::to_string(saved->kill_mode), engine.trader().portfolio().equity());
    }
  }
  std::uint64_t last_risk_save = 0;
  sections.feeds->count = static_cast<std::uint32_t>(plans.size());
  for (const VenuePlan& p : plans) {
    ipc::FeedRecord r{};
    copy_text(r.name, p.venue->venue);
    sections.feeds->feeds[p.feed_index].store(r);
  }

  // Feed threads and their sessions.
  int threads = 0;
  for (const VenuePlan& p : plans) {
    threads = std::max(threads, p.venue->feed_thread + 1);
  }
  feeds::net::RestBudget budget({cfg.rest_budget.weight_per_minute, cfg.rest_budget.max_in_flight},
                                ipc::monotonic_ns());
  std::vector<std::unique_ptr<feeds::Recorder>> recorders; // outlive the feed threads that write to them
  ipc::EventCount core_wake; // the core parks on it (idle backoff); every feed push notifies it
  std::vector<std::unique_ptr<feeds::FeedThread>> feed_threads;
  for (int t = 0; t < threads; ++t) {
    feeds::net::LoopConfig lc;
    for (const VenuePlan& p : plans) {
      if (p.venue->feed_thread == t && !p.venue->ca_file.empty()) {
        lc.ca_files.push_back(p.venue->ca_file);
      }
    }
    auto ft = std::make_unique<feeds::FeedThread>(lc, clock, make_log());
    for (const VenuePlan& p : plans) {
      if (p.venue->feed_thread != t) {
        continue;
      }
      feeds::binance::SessionConfig sc;
      sc.name = p.venue->venue;
      sc.market = p.venue->venue == "binance-usdm" ? feeds::binance::Market::usdm : feeds::binance::Market::spot;
      sc.ws = feeds::net::parse_url(p.venue->ws_url);
      sc.rest = feeds::net::parse_url(p.venue->rest_url);
      sc.depth_stream = p.venue->depth_stream;
      sc.snapshot_limit = p.venue->snapshot_limit;
      sc.snapshot_weight = cfg.rest_budget.snapshot_weight;
      sc.streams_per_connection = p.venue->streams_per_connection;
      sc.stale_after_ms = p.venue->stale_after_ms;
      sc.instrument_stale_after_ms = p.venue->instrument_stale_after_ms;
      sc.reconnect_min_ms = p.venue->reconnect_min_ms;
      sc.reconnect_max_ms = p.venue->reconnect_max_ms;
      sc.max_connection_age_s = p.venue->max_connection_age_s;
      sc.max_frame_bytes = static_cast<std::size_t>(p.venue->max_frame_bytes);
      if (!p.venue->record_dir.empty()) {
        recorders.push_back(std::make_unique<feeds::Recorder>(feeds::RecorderConfig{p.venue->record_dir, p.venue->venue}));
        sc.recorder = recorders.back().get();
        spdlog::info("feed {}: recording raw frames into {}", p.venue->venue, p.venue->record_dir);
      }
      std::vector<core::InstrumentId> ids;
      for (const auto& i : p.instruments) {
        ids.push_back(i.id);
      }
      feeds::coinbase::SessionConfig cc;
      cc.name = p.venue->venue;
      cc.ws = sc.ws;
      cc.depth_channel = p.venue->depth_stream;
      cc.stale_after_ms = sc.stale_after_ms;
      cc.instrument_stale_after_ms = sc.instrument_stale_after_ms;
      cc.reconnect_min_ms = sc.reconnect_min_ms;
      cc.reconnect_max_ms = sc.reconnect_max_ms;
      cc.max_connection_age_s = sc.max_connection_age_s;
      cc.recorder = sc.recorder;
      // A level2 snapshot is the whole book: never below the Coinbase parser's 4 MiB.
      cc.max_frame_bytes = std::max(cc.max_frame_bytes, sc.max_frame_bytes);
      ft->add_session(p.feed_index, ids,
                      [&](feeds::net::Loop& loop, feeds::EventSink sink) -> std::unique_ptr<feeds::VenueSession> {
        if (p.venue->venue == "coinbase") {
          return std::make_unique<feeds::coinbase::Session>(cc, p.instruments, loop, sink, make_log());
        }
        return std::make_unique<feeds::binance::Session>(sc, p.instruments, loop, budget, sink, make_log());
      });
      spdlog::info("feed {}: {} instruments on feed thread {}, {}", p.venue->venue, p.instruments.size(), t,
                   p.venue->ws_url);
    }
    ft->publish_to(sections.feeds);
    ft->wake_on_push(&core_wake);
    feed_threads.push_back(std::move(ft));
  }

  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  for (std::size_t t = 0; t < feed_threads.size(); ++t) {
    const int cpu = t < cfg.engine.feed_cpus.size() ? cfg.engine.feed_cpus[t] : -1;
    feed_threads[t]->start([cpu, t] {
      if (cpu >= 0) {
        const std::string why = pin_current_thread(cpu);
        if (!why.empty()) {
          spdlog::warn("feed thread {}: {}", t, why);
        }
      }
    });
  }

  state.set_state(ipc::SegmentState::running);
  state.heartbeat();
  spdlog::info("running: /dev/shm/qf.{}.state and .control; stop with Ctrl-C or SIGTERM", instance);

  // The core loop.
  Idle idle(cfg.engine.idle, core_wake);
  const auto has_work = [&feed_threads] {
    return std::any_of(feed_threads.begin(), feed_threads.end(),
                       [](const auto& ft) { return ft->ring().size_guess() != 0; });
  };
  const int core_cpu = current_cpu();
  const std::uint64_t housekeeping_ticks = static_cast<std::uint64_t>(clock.ticks_per_ns() * 10e6); // 10 ms
  std::uint64_t last_housekeeping = clock.now();
  const std::uint64_t unix_base = ipc::realtime_ns();
  const std::uint64_t tick_base = clock.now();
  while (!g_stop.load(std::memory_order_relaxed)) {
    const std::uint64_t now_ticks = clock.now();
    const std::uint64_t now_unix = unix_base + clock.delta_ns(tick_base, now_ticks);
    std::size_t work = 0;
    for (auto& ft : feed_threads) {
      work += engine.do_work(ft->ring(), now_unix);
    }
    if (now_ticks - last_housekeeping >= housekeeping_ticks) {
      last_housekeeping = now_ticks;
      state.heartbeat();
      if (!risk_file.empty() && now_unix - last_risk_save >= 1'000'000'000ULL) { // at most once a second
        last_risk_save = now_unix;
        try {
          save_risk_state(risk_file, engine.risk_snapshot());
        } catch (const std::exception& e) {
          spdlog::error("{}", e.what()); // keep trading state in memory; retried next second
        }
      }
      ipc::ControlCommand cmd{};
      while (queue->ring.try_pop(cmd)) {
        if (cmd.action != ipc::ControlAction::resync) {
          if (!engine.control(cmd, now_unix)) { // kill switch, flatten, resume, reset
            engine.acknowledge(cmd, ipc::ControlResult::unsupported, "unknown action", now_unix);
          }
          continue;
        }
        if (cmd.instrument >= specs.size()) {
          engine.acknowledge(cmd, ipc::ControlResult::unknown_instrument, "no such instrument", now_unix);
          continue;
        }
        bool sent = false;
        for (auto& ft : feed_threads) {
          if (ft->serves(cmd.instrument)) {
            sent = ft->requests().try_push({feeds::FeedRequest::Kind::resync, cmd.instrument});
          }
        }
        engine.acknowledge(cmd, sent ? ipc::ControlResult::done : ipc::ControlResult::rejected,
                           sent ? "resync scheduled" : "feed request queue full", now_unix);
      }
      std::uint64_t messages = 0;
      for (const VenuePlan& p : plans) {
        ipc::FeedRecord r{};
        if (sections.feeds->feeds[p.feed_index].try_load(r) == ipc::ReadStatus::ok) {
          messages += r.messages;
        }
      }
      sections.feeds->engine.update([&](ipc::EngineRecord& r) {
        r.messages_in = messages;
        r.core_cpu = core_cpu;
        r.updated_unix_ns = now_unix;
      });
    }
    if (work == 0) {
      const std::uint64_t due = last_housekeeping + housekeeping_ticks;
      const std::uint64_t idle_ticks = clock.now();
      idle.idle(has_work, idle_ticks < due ? clock.delta_ns(idle_ticks, due) : 0);
    } else {
      idle.reset();
    }
  }

  spdlog::info("stopping: closing feeds");
  for (auto& ft : feed_threads) {
    ft->stop();
  }
  feed_threads.clear();
  state.set_state(ipc::SegmentState::stopped);
  if (!risk_file.empty()) {
    save_risk_state(risk_file, engine.risk_snapshot()); // at shutdown
  }
  control.set_state(ipc::SegmentState::stopped);
  spdlog::info("stopped cleanly");
  spdlog::shutdown();
  return 0;
}

} // namespace qf::engine
