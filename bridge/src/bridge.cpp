#include "bridge.hpp"

#include <nats/nats.h>

#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "qf/ipc/broadcast_ring.hpp"
#include "qf/ipc/bus_guard.hpp"
#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/state_reader.hpp"
#include "render.hpp"

namespace qf::bridge {

namespace {

std::uint64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void log_line(const std::string& text) { std::fprintf(stderr, "qf-bridge: %s\n", text.c_str()); }

// What the bridge remembers per instrument to publish conflated records only when they changed.
struct Seen {
  std::uint64_t bar_1s = 0, bar_1m = 0; // start of the last closed bar published
  std::uint64_t signal = 0;
  std::array<double, ipc::kMaxRegimes> regime{};
  std::uint32_t dominant = ~0U;
  ipc::HealthRecord health{};
};

struct Stream {
  const char* suffix; // stream name suffix and subject kind
  const char* kind;
};
constexpr std::array<Stream, 4> kStreams = {{{"BARS", "bar"}, {"SIGNALS", "signal"}, {"FILLS", "fill"},
                                             {"EVENTS", "event"}}};

} // namespace

struct Bridge::Impl {
  Impl(const config::Config& c, std::string inst)
      : cfg(c.bridge), instance(std::move(inst)), reader(instance, stall_ns(c)), rng(std::random_device{}()) {}

  static std::uint64_t stall_ns(const config::Config& c) {
    return static_cast<std::uint64_t>(c.gateway.stall_after_ms) * std::uint64_t{1'000'000};
  }

  config::BridgeSection cfg;
  std::string instance;
  ipc::StateReader reader;
  ipc::StateSnapshot snap;
  std::mt19937_64 rng;
  BridgeStats stats;

  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::atomic<bool> need_streams{true};
  std::atomic<std::uint64_t> reconnects{0}, disconnects{0};

  // The engine incarnation being followed.
  const ipc::TickJournal* journal = nullptr;
  std::unique_ptr<ipc::BroadcastCursor<ipc::TickJournal>> cursor;
  std::uint64_t generation = 0;
  std::uint64_t start_unix_ns = 0;
  std::vector<ipc::InstrumentInfo> infos;
  std::vector<Seen> seen;
  std::uint64_t fills_next = 0, events_next = 0;
  std::uint64_t portfolio_seen = 0, risk_seen = 0;
  std::array<std::uint64_t, ipc::kMaxComposites> composites_seen{}; // CompositeRecord::updates last published
  ipc::JsonWriter w;
  std::string subject;

  static std::int64_t reconnect_delay(natsConnection* /*nc*/, int attempts, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    const int shift = std::min(attempts, 20);
    const std::int64_t cap = std::min<std::int64_t>(self->cfg.reconnect_max_ms,
                                                    static_cast<std::int64_t>(self->cfg.reconnect_min_ms) << shift);
    std::uniform_int_distribution<std::int64_t> jitter(1, std::max<std::int64_t>(1, cap)); // full jitter
    return jitter(self->rng);
  }
  static void on_disconnected(natsConnection* /*nc*/, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    self->disconnects.fetch_add(1, std::memory_order_relaxed);
    log_line("NATS disconnected; counting unsent messages until it is back");
  }
  static void on_reconnected(natsConnection* /*nc*/, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    self->reconnects.fetch_add(1, std::memory_order_relaxed);
    self->need_streams.store(true, std::memory_order_release);
    log_line("NATS reconnected");
  }
  static void on_connected(natsConnection* /*nc*/, void* closure) {
    static_cast<Impl*>(closure)->need_streams.store(true, std::memory_order_release);
    log_line("NATS connected");
  }

  bool connect() {
    if (natsOptions_Create(&opts) != NATS_OK || natsOptions_SetURL(opts, cfg.nats_url.c_str()) != NATS_OK) {
      log_line("bad nats_url '" + cfg.nats_url + "'");
      return false;
    }
    (void)natsOptions_SetName(opts, ("qf-bridge." + instance).c_str());
    (void)natsOptions_SetMaxReconnect(opts, -1);
    (void)natsOptions_SetCustomReconnectDelay(opts, &Impl::reconnect_delay, this);
    (void)natsOptions_SetDisconnectedCB(opts, &Impl::on_disconnected, this);
    (void)natsOptions_SetReconnectedCB(opts, &Impl::on_reconnected, this);
    (void)natsOptions_SetRetryOnFailedConnect(opts, true, &Impl::on_connected, this);
    (void)natsOptions_SetTimeout(opts, 2000);
    (void)natsOptions_SetPingInterval(opts, 2000);
    const natsStatus s = natsConnection_Connect(&nc, opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
      log_line(std::string("cannot connect to ") + cfg.nats_url + ": " + natsStatus_GetText(s));
      return false;
    }
    if (s == NATS_OK) {
      log_line("NATS connected to " + cfg.nats_url);
    } else {
      log_line("NATS at " + cfg.nats_url + " not up yet; retrying with backoff");
    }
    if (natsConnection_JetStream(&js, nc, nullptr) != NATS_OK) {
      log_line("no JetStream context");
      return false;
    }
    return true;
  }

  [[nodiscard]] bool connected() const { return natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED; }

  // Creates (or updates to the configured limits) the four streams of this instance.
  void ensure_streams() {
    if (!need_streams.load(std::memory_order_acquire) || !connected()) {
      return;
    }
    need_streams.store(false, std::memory_order_release);
    for (const Stream& st : kStreams) {
      std::string name = subject_token(cfg.subject_prefix) + "_" + instance + "_" + st.suffix;
      std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c == '-' ? '_' : c; });
      const std::string subj = cfg.subject_prefix + "." + instance + "." + st.kind + ".>";
      const char* subjects[] = {subj.c_str()};
      jsStreamConfig sc;
      jsStreamConfig_Init(&sc);
      sc.Name = name.c_str();
      sc.Subjects = subjects;
      sc.SubjectsLen = 1;
      sc.Storage = js_FileStorage;
      sc.MaxMsgs = cfg.stream_max_msgs;
      sc.MaxBytes = cfg.stream_max_bytes;
      sc.MaxAge = static_cast<std::int64_t>(cfg.stream_max_age_s * 1e9);
      jsErrCode jerr = static_cast<jsErrCode>(0);
      jsStreamInfo* si = nullptr;
      natsStatus s = js_AddStream(&si, js, &sc, nullptr, &jerr);
      if (s != NATS_OK && jerr == JSStreamNameExistErr) {
        s = js_UpdateStream(&si, js, &sc, nullptr, &jerr);
      }
      jsStreamInfo_Destroy(si);
      if (s != NATS_OK) {
        log_line("stream " + name + ": " + natsStatus_GetText(s) + " (JetStream error " + std::to_string(jerr) +
                 "); retried at the next reconnect");
        need_streams.store(true, std::memory_order_release);
        return;
      }
    }
    ++stats.streams_ready;
    log_line("JetStream streams ready");
  }

  // One message; `msg_id` (JetStream de-duplication) for stream subjects, empty otherwise.
  void publish(const std::string& subj, std::string_view payload, const std::string& msg_id = {}) {
    if (!connected()) {
      ++stats.unsent;
      return;
    }
    natsStatus s = NATS_OK;
    if (msg_id.empty()) {
      s = natsConnection_Publish(nc, subj.c_str(), payload.data(), static_cast<int>(payload.size()));
    } else {
      natsMsg* m = nullptr;
      s = natsMsg_Create(&m, subj.c_str(), nullptr, payload.data(), static_cast<int>(payload.size()));
      if (s == NATS_OK) {
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id.c_str());
      }
      if (s == NATS_OK) {
        s = natsConnection_PublishMsg(nc, m);
      }
      natsMsg_Destroy(m);
    }
    if (s == NATS_OK) {
      ++stats.published;
    } else {
      ++stats.unsent;
      ++stats.publish_errors;
    }
  }

  std::string msg_id(const char* kind, std::uint64_t seq) const {
    return instance + "-" + std::to_string(generation) + "-" + kind + "-" + std::to_string(seq);
  }

  // A new engine incarnation (or the first): follow its journal from the oldest entry it holds.
  void follow(const ipc::StateSnapshot& s) {
    if (generation != 0 && (s.generation != generation || s.start_unix_ns != start_unix_ns)) {
      ++stats.engine_restarts;
    }
    journal = reader.journal();
    generation = s.generation;
    start_unix_ns = s.start_unix_ns;
    const std::uint64_t head = journal->head();
    cursor = std::make_unique<ipc::BroadcastCursor<ipc::TickJournal>>(
        *journal, head > ipc::kTickJournalSize ? head - ipc::kTickJournalSize : 0);
    infos.clear();
    for (const auto& i : s.instruments) {
      infos.push_back(i.info);
    }
    seen.assign(infos.size(), Seen{});
    fills_next = 0;
    events_next = 0;
    portfolio_seen = risk_seen = 0;
    composites_seen.fill(0);
    log_line("following engine " + instance + " (generation " + std::to_string(generation) + ", " +
             std::to_string(infos.size()) + " instruments)");
  }

  // After read() the old mapping may be gone (a restarted engine is remapped): the cursor is
  // dropped or moved to the new journal before anything else reads.
  void refresh() {
    reader.read(snap);
    const ipc::TickJournal* j = ipc::has_engine(snap.status) ? reader.journal() : nullptr;
    if (j == nullptr) {
      cursor.reset();
      return;
    }
    if (cursor == nullptr || j != journal || snap.generation != generation || snap.start_unix_ns != start_unix_ns) {
      follow(snap);
    }
  }

  // Journal ticks, all of them, in order. Returns how many were published.
  std::size_t drain(std::size_t max = 8192) {
    if (cursor == nullptr) {
      return 0;
    }
    std::size_t n = 0;
    ipc::TickRecord t{};
    while (n < max) {
      bool got = false;
      if (!ipc::guarded_read([&] { got = cursor->poll(t); })) {
        // SIGBUS: the segment was truncated under the copy. Drop the cursor; the next refresh()
        // re-checks the segment and follows the journal again.
        ++stats.bus_faults;
        log_line("journal read faulted (segment truncated?): re-following on the next refresh");
        cursor.reset();
        return n;
      }
      if (!got) {
        break;
      }
      ++n;
      if (t.instrument >= infos.size()) {
        ++stats.publish_errors; // cannot name it: a damaged entry, counted
        ++stats.unsent;
        continue;
      }
      const std::uint64_t at = cursor->next() - 1; // the entry's own position in the journal
      const char* kind = t.kind == ipc::TickKind::trade ? "trade" : t.kind == ipc::TickKind::bbo ? "bbo" : "health";
      subject = instrument_subject(cfg.subject_prefix, instance, kind, infos[t.instrument]);
      render_tick(w, t, infos[t.instrument], at);
      publish(subject, w.view());
    }
    stats.ticks = cursor->delivered();
    stats.ticks_lost = cursor->lost();
    stats.laps = cursor->laps();
    return n;
  }

  void conflated() {
    if (cursor == nullptr || !ipc::has_engine(snap.status)) {
      return;
    }
    const std::size_t n = std::min(snap.instruments.size(), infos.size());
    for (std::size_t i = 0; i < n; ++i) {
      const ipc::InstrumentSnapshot& in = snap.instruments[i];
      Seen& s = seen[i];
      const ipc::FeatureRecord& f = in.features;
      if (f.bar_1s.closed != 0 && f.bar_1s.start_unix_ns != s.bar_1s) {
        s.bar_1s = f.bar_1s.start_unix_ns;
        render_bar(w, f.bar_1s, in.info, "1s");
        publish(instrument_subject(cfg.subject_prefix, instance, "bar.1s", in.info), w.view(),
                msg_id("bar1s", f.bar_1s.start_unix_ns) + "-" + std::to_string(i));
      }
      if (f.bar_1m.closed != 0 && f.bar_1m.start_unix_ns != s.bar_1m) {
        s.bar_1m = f.bar_1m.start_unix_ns;
        render_bar(w, f.bar_1m, in.info, "1m");
        publish(instrument_subject(cfg.subject_prefix, instance, "bar.1m", in.info), w.view(),
                msg_id("bar1m", f.bar_1m.start_unix_ns) + "-" + std::to_string(i));
      }
      if (in.signal.updated_unix_ns != 0 && in.signal.updated_unix_ns != s.signal) {
        s.signal = in.signal.updated_unix_ns;
        render_signal(w, in.signal, in.info);
        publish(instrument_subject(cfg.subject_prefix, instance, "signal", in.info), w.view(),
                msg_id("signal", in.signal.updated_unix_ns) + "-" + std::to_string(i));
      }
      if (in.signal.regimes != 0 && (in.signal.regime != s.regime || in.signal.dominant != s.dominant)) {
        s.regime = in.signal.regime;
        s.dominant = in.signal.dominant;
        render_regime(w, in.signal, in.info);
        publish(instrument_subject(cfg.subject_prefix, instance, "regime", in.info), w.view());
      }
      if (std::memcmp(&in.health, &s.health, sizeof(ipc::HealthRecord)) != 0) {
        s.health = in.health;
        render_health(w, in.health, in.info);
        publish(instrument_subject(cfg.subject_prefix, instance, "counters", in.info), w.view());
      }
    }
    // Fills and notable events: each once, from the recent rings the snapshot holds.
    const std::uint64_t first_fill = snap.fills_written - snap.fills.size();
    if (fills_next < first_fill) {
      stats.fills_lost += first_fill - fills_next;
      fills_next = first_fill;
    }
    for (std::uint64_t k = fills_next; k < snap.fills_written; ++k) {
      const ipc::FillRecord& fl = snap.fills[k - first_fill];
      if (fl.instrument < infos.size()) {
        render_fill(w, fl, infos[fl.instrument], k);
        publish(instrument_subject(cfg.subject_prefix, instance, "fill", infos[fl.instrument]), w.view(),
                msg_id("fill", k));
      }
    }
    fills_next = snap.fills_written;
    const std::uint64_t first_event = snap.events_written - snap.events.size();
    if (events_next < first_event) {
      stats.events_lost += first_event - events_next;
      events_next = first_event;
    }
    ipc::InstrumentTable table{};
    table.count = static_cast<std::uint32_t>(std::min(infos.size(), ipc::kMaxInstruments));
    std::copy_n(infos.begin(), table.count, table.items.begin());
    for (std::uint64_t k = events_next; k < snap.events_written; ++k) {
      const ipc::NotableEvent& e = snap.events[k - first_event];
      render_event(w, e, table, k);
      publish(cfg.subject_prefix + "." + instance + ".event." + ipc::to_string(e.kind), w.view(), msg_id("event", k));
    }
    events_next = snap.events_written;
    if (snap.portfolio.updated_unix_ns != portfolio_seen) {
      portfolio_seen = snap.portfolio.updated_unix_ns;
      render_portfolio(w, snap.portfolio);
      publish(cfg.subject_prefix + "." + instance + ".portfolio", w.view());
    }
    if (snap.risk.updated_unix_ns != risk_seen) {
      risk_seen = snap.risk.updated_unix_ns;
      render_risk(w, snap.risk);
      publish(cfg.subject_prefix + "." + instance + ".risk", w.view());
    }
    // Composite books: the newest record of each, when it changed since the last pass.
    for (std::size_t c = 0; c < std::min(snap.composites.size(), composites_seen.size()); ++c) {
      const ipc::CompositeSnapshot& cs = snap.composites[c];
      if (!cs.busy && cs.record.updates != composites_seen[c]) {
        composites_seen[c] = cs.record.updates;
        render_composite(w, cs.info, cs.record, infos.data(), infos.size());
        publish(cfg.subject_prefix + "." + instance + ".composite." + subject_token(ipc::text_of(cs.info.asset)),
                w.view());
      }
    }
  }

  std::string stats_json() const {
    ipc::JsonWriter j;
    j.begin_object();
    j.key("instance").str(instance).key("mono_ns").u64(mono_ns()).key("connected").boolean(nc != nullptr && connected());
    j.key("engine").str(ipc::to_string(snap.status)).key("generation").u64(generation);
    j.key("published").u64(stats.published).key("unsent").u64(stats.unsent);
    j.key("publish_errors").u64(stats.publish_errors);
    j.key("ticks").u64(stats.ticks).key("ticks_lost").u64(stats.ticks_lost).key("laps").u64(stats.laps);
    j.key("journal_next").u64(cursor != nullptr ? cursor->next() : 0);
    j.key("fills_lost").u64(stats.fills_lost).key("events_lost").u64(stats.events_lost);
    j.key("bus_faults").u64(stats.bus_faults);
    j.key("reconnects").u64(reconnects.load()).key("disconnects").u64(disconnects.load());
    j.key("streams_ready").u64(stats.streams_ready).key("engine_restarts").u64(stats.engine_restarts);
    j.end_object();
    return std::string(j.view());
  }

  int run(const std::atomic<bool>& stop) {
    if (!connect()) {
      return 1;
    }
    const std::uint64_t conflate_ns = static_cast<std::uint64_t>(1e9 / cfg.conflate_hz);
    std::uint64_t next_conflate = 0, next_stats = mono_ns() + 1'000'000'000ULL;
    const std::string stats_subject = cfg.subject_prefix + "." + instance + ".bridge.stats";
    while (!stop.load(std::memory_order_relaxed)) {
      ensure_streams();
      const std::uint64_t now = mono_ns();
      if (now >= next_conflate || cursor == nullptr) {
        refresh();
        conflated();
        next_conflate = now + conflate_ns;
      }
      const std::size_t n = drain();
      if (now >= next_stats) {
        stats.reconnects = reconnects.load();
        stats.disconnects = disconnects.load();
        publish(stats_subject, stats_json());
        next_stats = now + 1'000'000'000ULL;
      }
      if (n == 0 && cfg.poll_idle_us > 0) {
        timespec ts{0, static_cast<long>(cfg.poll_idle_us) * 1000L};
        nanosleep(&ts, nullptr); // the bridge's own thread; the engine never waits for it
      }
    }
    drain(~std::size_t{0} >> 1);
    if (connected()) {
      (void)natsConnection_FlushTimeout(nc, 2000);
    }
    stats.reconnects = reconnects.load();
    stats.disconnects = disconnects.load();
    return 0;
  }

  ~Impl() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
  }
};

Bridge::Bridge(const config::Config& config, std::string instance)
    : impl_(std::make_unique<Impl>(config, std::move(instance))) {}
Bridge::~Bridge() = default;
int Bridge::run(const std::atomic<bool>& stop) { return impl_->run(stop); }
const BridgeStats& Bridge::stats() const noexcept { return impl_->stats; }
std::string Bridge::stats_json() const { return impl_->stats_json(); }

} // namespace qf::bridge
