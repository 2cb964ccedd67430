#include "live.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <memory>
#include <string>
#include <new>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "host.hpp"
#include "qf/core/agent.hpp"
#include "qf/core/idle_strategy.hpp"
#include "qf/feeds/binance/session.hpp"
#include "qf/feeds/bybit/session.hpp"
#include "qf/feeds/coinbase/session.hpp"
#include "qf/feeds/coinbase_advanced/session.hpp"
#include "qf/feeds/kraken/session.hpp"
#include "qf/feeds/okx/session.hpp"
#include "qf/feeds/feed_thread.hpp"
#include "qf/feeds/net/rest_budget.hpp"
#include "qf/feeds/recorder.hpp"
#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/eventcount.hpp"
#include "risk_store.hpp"
#include "model_loader.hpp"
#include "risk_writer.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::engine {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int /*signal*/) {
  g_stop.store(true, std::memory_order_relaxed);
}

// A segment whose file changes size under the engine is fatal (readers see the change and report
// the segment damaged). Truncation is met first by a write past the new end (SIGBUS, caught
// here); growth, and truncation while idle, by the size check once a second (segment_size_check).
constexpr int kExitSegmentChanged = 3;
struct GuardedSegment {
  const char* base = nullptr;
  std::uint64_t bytes = 0;
  char message[320] = {};
};
GuardedSegment g_guarded[2]; // the state and control segments, set once before the core loop

extern "C" void on_sigbus(int /*signal*/, siginfo_t* info, void* /*context*/) {
  const char* a = static_cast<const char*>(info->si_addr);
  for (const GuardedSegment& g : g_guarded) {
    if (g.base != nullptr && a >= g.base && a < g.base + g.bytes) {
      (void)!::write(STDERR_FILENO, g.message, std::strlen(g.message)); // async-signal-safe
      ::_exit(kExitSegmentChanged);
    }
  }
  ::signal(SIGBUS, SIG_DFL); // not a segment: the repeated access gets the default (a core dump)
}

void guard_segment(std::size_t slot, const ipc::SegmentOwner& seg) {
  GuardedSegment& g = g_guarded[slot];
  g.base = static_cast<const char*>(seg.base());
  g.bytes = seg.mapped_bytes();
  std::snprintf(g.message, sizeof g.message,
                "qf-engine: fatal: segment /dev/shm%s was truncated under the engine (SIGBUS inside its "
                "%llu-byte mapping); exiting\n",
                seg.path().c_str(), static_cast<unsigned long long>(g.bytes));
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, nullptr);
}

// fstat of both segments against their mapped size; a change is fatal with a message naming it.
void segment_size_check(const ipc::SegmentOwner& seg) {
  const std::int64_t now = seg.file_bytes();
  if (now == static_cast<std::int64_t>(seg.mapped_bytes())) {
    return;
  }
  std::fprintf(stderr, "qf-engine: fatal: segment /dev/shm%s changed size under the engine: %lld bytes, %llu mapped; exiting\n",
               seg.path().c_str(), static_cast<long long>(now), static_cast<unsigned long long>(seg.mapped_bytes()));
  std::fflush(stderr);
  std::_Exit(kExitSegmentChanged);
}

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

constexpr std::uint64_t kHousekeepingNs = 10'000'000; // heartbeat, control, risk hand-off: 100 Hz

core::IdleKind idle_kind(config::IdleStrategy s) {
  switch (s) {
  case config::IdleStrategy::spin: return core::IdleKind::spin;
  case config::IdleStrategy::sleep: return core::IdleKind::sleep;
  case config::IdleStrategy::backoff: return core::IdleKind::backoff;
  }
  return core::IdleKind::backoff;
}

struct VenuePlan {
  const config::VenueEntry* venue = nullptr;
  std::uint16_t feed_index = 0;
  std::vector<feeds::SessionInstrument> instruments;
};

} // namespace

std::vector<core::CompositeSpec> composite_specs(const config::Config& c) {
  std::vector<core::CompositeSpec> out;
  for (const config::CompositeEntry& e : c.composites) {
    core::CompositeSpec spec;
    spec.asset = e.asset;
    spec.stale_after_ns = static_cast<std::uint64_t>(e.stale_after_ms) * std::uint64_t{1'000'000};
    for (const std::string& member : e.members) {
      const auto it = std::find_if(c.instruments.begin(), c.instruments.end(), [&](const config::InstrumentEntry& i) {
        return i.venue + ":" + i.symbol == member;
      });
      if (it == c.instruments.end()) { // the loader refuses this; defend the index anyway
        throw std::runtime_error("composite " + e.asset + ": no instrument " + member);
      }
      spec.members.push_back(static_cast<std::size_t>(it - c.instruments.begin())); // engine ids are config order
    }
    out.push_back(std::move(spec));
  }
  return out;
}

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
  if (!c.signal.model.empty()) {
    cc.use_model(core::load_signal_model(c.signal.model));
  }
  cc.drift.bound = c.signal.drift_bound;
  cc.drift.window = static_cast<std::size_t>(c.signal.drift_window);
  return cc;
}

core::BacktestCriteria backtest_criteria_from(const config::Config& c) {
  return core::BacktestCriteria{c.backtest.min_trades, c.backtest.min_win_rate, c.backtest.max_drawdown,
                               c.backtest.min_annualize_s};
}

int run_live(const LiveOptions& options) {
  const config::Config& cfg = options.config;
  const std::string instance = options.instance.empty() ? cfg.engine.instance : options.instance;
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
  // The thread's pinning and SCHED_FIFO wait until the other threads exist (feed threads in split
  // mode, the risk writer): they inherit the process's CPUs and policy, not the hot thread's.
  TuningRequest tuning;
  tuning.numa_node = cfg.engine.numa_node;
  tuning.lock_memory = cfg.engine.lock_memory;
  for (const std::string& w : apply_tuning(tuning)) {
    spdlog::warn("tuning: {}", w);
  }

  const ipc::TscClock clock = ipc::TscClock::calibrate(std::chrono::milliseconds(20));
  const ipc::EngineMode mode = cfg.engine.mode == config::Mode::sim ? ipc::EngineMode::sim : ipc::EngineMode::live;

  // Everything the configuration can still refuse (the model file, the risk state file, each
  // venue's parser and session) is built before the segments exist: a refused start leaves none.
  core::CoreConfig core_config = core_config_from(cfg);
  core_config.composites = composite_specs(cfg); // live only: replay serves one venue
  const std::string& risk_file = cfg.risk.state_file; // persisted portfolio + kill switch
  const std::optional<core::RiskSnapshot> saved =
      risk_file.empty() ? std::nullopt : load_risk_state(risk_file, static_cast<std::uint32_t>(specs.size()));

  // Feed threads and their sessions.
  int threads = 0;
  for (const VenuePlan& p : plans) {
    threads = std::max(threads, p.venue->feed_thread + 1);
  }
  // Run to completion when one feed thread would serve every venue: the core thread services the
  // connections itself, between drains of the same ring (HACKING.md, "Engine threads").
  const bool inline_mode = cfg.engine.threads == config::ThreadsMode::inline_ && threads == 1;
  if (cfg.engine.threads == config::ThreadsMode::inline_ && threads > 1) {
    spdlog::warn("engine.threads = inline needs every venue on one feed thread; {} feed threads: split", threads);
  }
  spdlog::info("engine threads: {}", inline_mode ? "inline (the core thread services the feeds)"
                                                 : "split (feed threads -> rings -> core thread)");
  feeds::net::RestBudget budget({cfg.rest_budget.weight_per_minute, cfg.rest_budget.max_in_flight},
                                ipc::monotonic_ns());
  std::vector<std::unique_ptr<feeds::Recorder>> recorders; // outlive the feed threads that write to them
  ipc::EventCount core_wake; // the core parks on it (idle backoff); every feed push notifies it
  std::vector<std::unique_ptr<feeds::FeedThread>> feed_threads;
  for (int t = 0; t < threads; ++t) {
    feeds::net::LoopConfig lc;
    if (inline_mode) {
      lc.tick_ms = 10; // a parked poll returns by the next housekeeping tick at the latest
    }
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
      // The one-connection venues: the reconnect fields and the recorder as for Binance.
      const auto one_connection = [&](feeds::ResubscribeSessionConfig& rc) {
        static_cast<feeds::ReconnectConfig&>(rc) = sc;
        rc.name = p.venue->venue;
        rc.ws = sc.ws;
        rc.recorder = sc.recorder;
        rc.max_frame_bytes = std::max(rc.max_frame_bytes, sc.max_frame_bytes);
      };
      feeds::coinbase::SessionConfig cc;
      one_connection(cc); // a level2 snapshot is the whole book: never below the parser's 4 MiB
      cc.depth_channel = p.venue->depth_stream;
      feeds::kraken::SessionConfig kc;
      one_connection(kc);
      feeds::okx::SessionConfig oc;
      one_connection(oc); // the text ping well inside the stale watchdog, so a missing pong is stale
      oc.ping_interval_ms = std::min(oc.ping_interval_ms, std::max(1, oc.stale_after_ms / 2));
      feeds::bybit::SessionConfig yc;
      one_connection(yc);
      feeds::coinbase_advanced::SessionConfig ac;
      one_connection(ac); // a level2 snapshot is the whole book: never below the parser's 16 MiB
      if (p.venue->venue == "bybit-spot" || p.venue->venue == "bybit-linear") {
        yc.depth = static_cast<std::size_t>(std::stoul(p.venue->depth_stream.substr(sizeof "orderbook." - 1))); // validated
      }
      ft->add_session(p.feed_index, ids,
                      [&](feeds::net::Loop& loop, feeds::EventSink sink) -> std::unique_ptr<feeds::VenueSession> {
        if (p.venue->venue == "coinbase") {
          return std::make_unique<feeds::coinbase::Session>(cc, p.instruments, loop, sink, make_log());
        }
        if (p.venue->venue == "kraken") {
          return std::make_unique<feeds::kraken::Session>(kc, p.instruments, loop, sink, make_log());
        }
        if (p.venue->venue == "okx") {
          return std::make_unique<feeds::okx::Session>(oc, p.instruments, loop, sink, make_log());
        }
        if (p.venue->venue == "bybit-spot" || p.venue->venue == "bybit-linear") {
          return std::make_unique<feeds::bybit::Session>(yc, p.instruments, loop, sink, make_log());
        }
        if (p.venue->venue == "coinbase-advanced") {
          return std::make_unique<feeds::coinbase_advanced::Session>(ac, p.instruments, loop, sink, make_log());
        }
        return std::make_unique<feeds::binance::Session>(sc, p.instruments, loop, budget, sink, make_log());
      });
      spdlog::info("feed {}: {} instruments on feed thread {}, {}", p.venue->venue, p.instruments.size(), t,
                   p.venue->ws_url);
    }
    if (!inline_mode) {
      ft->wake_on_push(&core_wake);
    }
    feed_threads.push_back(std::move(ft));
  }

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
  // Declared after the segments: on any way out, the feed threads stop (and publish their last
  // record) while the state mapping still exists.
  struct StopFeeds {
    std::vector<std::unique_ptr<feeds::FeedThread>>& threads;
    ~StopFeeds() { threads.clear(); }
  } stop_feeds{feed_threads};

  core::StateSections sections;
  sections.instruments = state.section_as<ipc::InstrumentTable>(ipc::kSectionInstruments);
  sections.records = state.section_as<ipc::InstrumentState>(ipc::kSectionRecords);
  sections.feeds = state.section_as<ipc::FeedTable>(ipc::kSectionFeeds);
  sections.latency = state.section_as<ipc::LatencyTable>(ipc::kSectionLatency);
  sections.events = state.section_as<ipc::EventLog>(ipc::kSectionEvents);
  sections.control = state.section_as<ipc::ControlLog>(ipc::kSectionControl);
  sections.composites = ipc::composite_table(state.section(ipc::kSectionRecords));
  core::Engine engine(core_config, specs, sections, clock);
  for (const config::CompositeEntry& e : cfg.composites) {
    spdlog::info("composite {}: {} members, stale after {} ms (no FX conversion)", e.asset, e.members.size(),
                 e.stale_after_ms);
  }
  if (!cfg.signal.model.empty()) {
    spdlog::info("signal model: {}", cfg.signal.model);
  }
  if (saved) {
    engine.restore(*saved, ipc::realtime_ns());
    spdlog::info("risk state restored from {}: kill switch {}, equity {:.2f}", risk_file,
                 core::to_string(saved->kill_mode), engine.trader().portfolio().equity());
    for (std::size_t id = 1; saved->has_limits == 1 && id < ipc::kRiskLimitIds; ++id) {
      const auto limit = static_cast<ipc::RiskLimitId>(id);
      const double kept = core::limit_value(saved->limits, limit);
      const double configured = core::limit_value(core_config.risk.limits, limit);
      if (kept != configured) { // the persisted value wins (HACKING.md Decisions)
        spdlog::warn("risk limit {} = {} restored from {} (the config says {}: the persisted value wins; "
                     "--discard-risk-state starts flat on the config)",
                     ipc::to_string(limit), kept, risk_file, configured);
      }
    }
  }
  sections.feeds->count = static_cast<std::uint32_t>(plans.size());
  for (const VenuePlan& p : plans) {
    ipc::FeedRecord r{};
    copy_text(r.name, p.venue->venue);
    sections.feeds->feeds[p.feed_index].store(r);
  }

  for (auto& ft : feed_threads) {
    ft->publish_to(sections.feeds);
  }

  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  for (std::size_t t = 0; t < feed_threads.size() && !inline_mode; ++t) {
    const int cpu = t < cfg.engine.feed_cpus.size() ? cfg.engine.feed_cpus[t] : -1;
    feed_threads[t]->start([cpu, t] {
      const std::string name = "qf-feed-" + std::to_string(t);
      pthread_setname_np(pthread_self(), name.c_str());
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

  // The core loop: one agent, driven until a stop signal.
  std::vector<feeds::FeedRing*> rings;
  for (auto& ft : feed_threads) {
    rings.push_back(&ft->ring());
  }
  core::AgentHooks hooks;
  guard_segment(0, state);
  guard_segment(1, control);
  hooks.heartbeat = [&state, &control, passes = std::uint64_t{0}]() mutable {
    state.heartbeat();
    if (++passes % (1'000'000'000ULL / kHousekeepingNs) == 0) { // once a second: two fstat calls
      segment_size_check(state);
      segment_size_check(control);
    }
  };
  std::unique_ptr<RiskWriter> risk_writer; // the file write and rename, off the hot thread
  if (!risk_file.empty()) {
    risk_writer = std::make_unique<RiskWriter>(risk_file);
    hooks.hand_off_risk = [w = risk_writer.get()](const core::RiskSnapshot& s) { w->offer(s); };
  }
  // Model reload (POST /api/control/model/reload): [signal] model's file, read on the loader thread.
  std::unique_ptr<ModelLoader> model_loader;
  if (!cfg.signal.model.empty()) {
    model_loader = std::make_unique<ModelLoader>(cfg.signal.model);
    hooks.request_model = [l = model_loader.get()](const ipc::ControlCommand& c) { return l->request(c); };
    hooks.take_model = [l = model_loader.get()](core::ModelLoad& out) { return l->take(out); };
    hooks.retire_model = [l = model_loader.get()](std::shared_ptr<const core::SignalModel> m) {
      l->retire(std::move(m));
    };
  } else {
    hooks.request_model = [](const ipc::ControlCommand&) -> const char* {
      return "no [signal] model configured: the engine runs its built-in parameters";
    };
  }
  hooks.request_resync = [&feed_threads](core::InstrumentId id) {
    bool sent = false;
    for (auto& ft : feed_threads) {
      if (ft->serves(id)) {
        sent = ft->requests().try_push({feeds::FeedRequest::Kind::resync, id});
      }
    }
    return sent;
  };
  TuningRequest hot;
  hot.cpu = cfg.engine.core_cpu;
  hot.realtime_priority = cfg.engine.realtime_priority;
  if (hot.cpu >= 0 || hot.realtime_priority > 0) {
    const std::vector<std::string> refused = apply_tuning(hot);
    for (const std::string& w : refused) {
      spdlog::warn("tuning: {}", w);
    }
    spdlog::info("tuning: hot thread on CPU {}, SCHED_FIFO {}: {}", hot.cpu, hot.realtime_priority,
                 refused.empty() ? "applied" : "partly refused (above)");
  }
  hooks.control = queue;
  hooks.feeds = sections.feeds;
  hooks.core_cpu = current_cpu();
  {
    // The profile in force on the hot thread, as the kernel reports it (the monitor and /api/health show it).
    const ThreadProfile tp = current_thread_profile();
    const ipc::SchedPolicy policy = tp.policy == SCHED_OTHER ? ipc::SchedPolicy::other
                                    : tp.policy == SCHED_FIFO ? ipc::SchedPolicy::fifo
                                    : tp.policy == SCHED_RR   ? ipc::SchedPolicy::rr
                                                              : ipc::SchedPolicy::unknown;
    const bool tuned = tp.pinned_cpu >= 0 && policy == ipc::SchedPolicy::fifo;
    sections.feeds->engine.update([&](ipc::EngineRecord& r) {
      r.hot_cpu = tp.pinned_cpu;
      r.sched_priority = tp.priority;
      r.sched_policy = policy;
      r.threads = inline_mode ? ipc::EngineThreads::inline_ : ipc::EngineThreads::split;
      r.tuned = tuned ? 1 : 0;
    });
    spdlog::info("profile: {} (hot thread cpu {}, {} {}, threads {})", tuned ? "tuned" : "untuned", tp.pinned_cpu,
                 ipc::to_string(policy), tp.priority, inline_mode ? "inline" : "split");
  }
  core::CoreAgent<feeds::FeedRing> agent(engine, clock, rings, std::move(hooks), kHousekeepingNs);
  core::IdleStrategy idle(idle_kind(cfg.engine.idle));
  const auto park = [&] { core::park_on(core_wake, [&] { return agent.has_work(); }, agent.ns_to_housekeeping()); };
  const std::uint64_t unix_base = ipc::realtime_ns();
  const std::uint64_t tick_base = clock.now();
  const auto duty_cycle = [&] {
    const std::uint64_t now_ticks = clock.now();
    return agent.do_work(now_ticks, unix_base + clock.delta_ns(tick_base, now_ticks));
  };
  pthread_setname_np(pthread_self(), "qf-hot"); // the thread the syscall test traces
  if (inline_mode) {
    // One network pass (a poll that returns at once, or parks until data or the next tick once
    // the idle strategy says so), then the agent drains what it pushed.
    feeds::FeedThread& feed = *feed_threads.front();
    feed.drain_when_full([](void* cycle) { (void)(*static_cast<decltype(duty_cycle)*>(cycle))(); },
                         const_cast<void*>(static_cast<const void*>(&duty_cycle)));
    feed.start_inline();
    bool block = false;
    while (!g_stop.load(std::memory_order_relaxed)) {
      (void)feed.service(block);
      block = false;
      idle.idle(duty_cycle(), [&block] { block = true; });
    }
  } else {
    while (!g_stop.load(std::memory_order_relaxed)) {
      idle.idle(duty_cycle(), park);
    }
  }

  spdlog::info("stopping: closing feeds");
  for (auto& ft : feed_threads) {
    inline_mode ? ft->stop_inline() : ft->stop();
  }
  feed_threads.clear();
  state.set_state(ipc::SegmentState::stopped);
  if (risk_writer) {
    risk_writer->stop();
    save_risk_state(risk_file, engine.risk_snapshot()); // at shutdown
  }
  control.set_state(ipc::SegmentState::stopped);
  spdlog::info("stopped cleanly");
  spdlog::shutdown();
  return 0;
}

} // namespace qf::engine
