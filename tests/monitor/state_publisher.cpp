// Test publisher for the monitor tests: the real core Engine publishing a deterministic
// synthetic market into /qf.<instance>.state (mode SIM), heart-beating until SIGTERM.
//   state_publisher INSTANCE
// Two instruments: binance-spot BTCUSDT with bid 61837.63 / ask 61837.64 at the end of the
// warm-up, and coinbase ETH-USD which is reported in a gap. Events carry TSC stamps, so every
// latency stage but exchange_to_receive has samples. The engine's portfolio and risk records are
// published too (section 5), and after the warm-up the kill switch is tripped by a kill_on
// command (mode halt, cause command). A third instrument, coinbase BTC-USD (live, bid 61837.60 x 0.5,
// ask 61837.64 x 2), and the composite "BTC" over BTCUSDT, BTC-USD and ETH-USD (the member in a gap,
// so excluded not_live; stale_after 60 s): best bid 61837.63 x 1 @ binance-spot:BTCUSDT, best ask
// 61837.64 x 3 @ coinbase:BTC-USD. Prints "ready" once published.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <new>
#include <thread>

#include "qf/core/engine.hpp"
#include "qf/ipc/segment.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;

qf::core::Event make(qf::core::EventKind kind, std::uint16_t instrument, std::uint64_t seq) {
  qf::core::Event e{};
  e.kind = kind;
  e.instrument = instrument;
  e.seq = seq;
  e.flags = qf::core::kFlagLastInMessage;
  return e;
}
} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: state_publisher INSTANCE\n");
    return 2;
  }
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  using namespace qf;
  ipc::SegmentOptions o;
  o.instance = argv[1];
  o.name = ipc::kStateSegmentName;
  o.layout_version = ipc::kStateLayoutVersion;
  const auto bytes = ipc::state_section_bytes();
  o.section_bytes.assign(bytes.begin(), bytes.end());
  o.mode = static_cast<std::uint32_t>(ipc::EngineMode::sim);
  const ipc::TscClock clock = ipc::TscClock::calibrate(std::chrono::milliseconds(10));
  o.clock = clock.calibration();
  ipc::SegmentOwner owner(o);
  core::StateSections s;
  s.instruments = new (owner.section(ipc::kSectionInstruments)) ipc::InstrumentTable{};
  s.records = owner.section_as<ipc::InstrumentState>(ipc::kSectionRecords);
  s.feeds = owner.section_as<ipc::FeedTable>(ipc::kSectionFeeds);
  s.latency = owner.section_as<ipc::LatencyTable>(ipc::kSectionLatency);
  s.events = owner.section_as<ipc::EventLog>(ipc::kSectionEvents);
  s.control = new (owner.section(ipc::kSectionControl)) ipc::ControlLog();
  s.composites = ipc::composite_table(owner.section(ipc::kSectionRecords));
  core::CoreConfig config;
  config.composites.push_back({"BTC", {0, 2, 1}, 60'000'000'000ULL});
  core::Engine engine(config,
                      {{"binance-spot", "BTCUSDT", 2, 8, 0}, {"coinbase", "ETH-USD", 2, 8, 1}, {"coinbase", "BTC-USD", 2, 8, 1}},
                      s, clock);
  owner.set_state(ipc::SegmentState::running);

  std::uint64_t now = ipc::realtime_ns();
  auto send = [&](core::Event e) {
    e.recv_ticks = clock.now();
    e.push_delta_ticks = 50;
    engine.apply(e, now, clock.now());
  };
  send(make(core::EventKind::snapshot_begin, 0, 100));
  for (int i = 1; i <= 10; ++i) {
    core::Event b = make(core::EventKind::book_level, 0, 100);
    b.flags = 0;
    b.side = core::Side::bid;
    b.level.price = 6'183'763 - (i - 1);
    b.level.qty = 100'000'000;
    send(b);
    b.side = core::Side::ask;
    b.level.price = 6'183'764 + (i - 1);
    send(b);
  }
  send(make(core::EventKind::snapshot_end, 0, 100));
  core::Event live = make(core::EventKind::status, 0, 0);
  live.status = core::FeedStatus::book_live;
  send(live);
  for (int i = 0; i < 1000; ++i) {
    core::Event t = make(core::EventKind::trade, 0, 5000 + static_cast<std::uint64_t>(i));
    t.side = (i % 3 == 0) ? core::Side::ask : core::Side::bid;
    t.level.price = 6'183'763 + (i % 2);
    t.level.qty = 2'000'000;
    t.level.exchange_ns = now - 1'000'000;
    send(t);
    now += 10'000'000;
  }
  send(make(core::EventKind::snapshot_begin, 2, 7));
  core::Event l = make(core::EventKind::book_level, 2, 7);
  l.flags = 0;
  l.side = core::Side::bid;
  l.level.price = 6'183'760;
  l.level.qty = 50'000'000;
  send(l);
  l.side = core::Side::ask;
  l.level.price = 6'183'764;
  l.level.qty = 200'000'000;
  send(l);
  send(make(core::EventKind::snapshot_end, 2, 7));
  core::Event cb_live = make(core::EventKind::status, 2, 0);
  cb_live.status = core::FeedStatus::book_live;
  send(cb_live);
  core::Event gap = make(core::EventKind::status, 1, 0);
  gap.status = core::FeedStatus::gap;
  send(gap);
  ipc::ControlCommand kill{};
  kill.id = 1;
  kill.action = ipc::ControlAction::kill_on;
  kill.instrument = ipc::kNoInstrument;
  ipc::set_actor(kill, "state_publisher");
  if (!engine.control(kill, now)) {
    std::fprintf(stderr, "state_publisher: kill_on not handled\n");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  while (g_stop == 0) {
    owner.heartbeat();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0; // ~SegmentOwner marks the segment stopped
}
