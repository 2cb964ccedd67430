#pragma once
// CoreAgent: the core thread's duty cycle as one agent (Aeron's aeron_agent_do_work). do_work()
// drains every feed ring into the Engine in bounded batches and, every housekeeping period,
// heartbeats the state segment, hands the risk snapshot off (at most once a second), executes
// the gateway's control commands and publishes the engine record; it returns the work done so
// an IdleStrategy (idle_strategy.hpp) decides what an empty cycle means. The same agent runs in
// split mode (feed threads fill the rings), inline mode (the driver services the network, then
// calls do_work) and replay (the driver parses a capture into a ring, with an Observer that taps
// each applied event). What it must reach outside the core (the feeds, the risk file) it reaches
// through Hooks, so qf::core stays free of feeds and of file I/O. Core thread only.

#include <cstddef>
#include <cstdint>
#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "qf/core/engine.hpp"
#include "qf/core/paper.hpp"
#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/state_layout.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::core {

// Sees each event the agent applies (replay's tap and allocation count); the default sees none.
struct NoObserver {
  void before_apply(const Event& /*e*/) noexcept {}
  void after_apply(const Event& /*e*/) noexcept {}
};

// A finished model load (ControlAction::model_reload), handed back by AgentHooks::take_model:
// the model to put in force, or why not (model null).
struct ModelLoad {
  ipc::ControlCommand command{};
  std::shared_ptr<const SignalModel> model;
  std::array<char, 192> error{};
};

struct AgentHooks {
  std::function<void()> heartbeat;                               // the state segment's liveness
  std::function<void(const RiskSnapshot&)> hand_off_risk;         // at most once a second
  std::function<bool(InstrumentId)> request_resync;               // to the feed serving it; false: refused
  ipc::ControlQueue* control = nullptr;                            // the gateway's commands
  // Model reload, the file read off the hot thread: request_model hands the command to the loader
  // (nullptr: taken; else why not), take_model returns a finished load (polled every housekeeping),
  // retire_model takes the replaced model to release it off the hot thread. Empty: no reload here.
  std::function<const char*(const ipc::ControlCommand&)> request_model;
  std::function<bool(ModelLoad&)> take_model;
  std::function<void(std::shared_ptr<const SignalModel>)> retire_model;
  ipc::FeedTable* feeds = nullptr;                                 // the engine record (messages in, core CPU)
  int core_cpu = -1;
};

template <typename Ring, typename Observer = NoObserver>
class CoreAgent {
public:
  // `housekeeping_ns` 0: no housekeeping (replay).
  CoreAgent(Engine& engine, const ipc::TscClock& clock, std::vector<Ring*> rings, AgentHooks hooks,
            std::uint64_t housekeeping_ns, Observer observer = {})
      : engine_(engine), clock_(clock), rings_(std::move(rings)), hooks_(std::move(hooks)),
        observer_(std::move(observer)),
        housekeeping_ticks_(static_cast<std::uint64_t>(clock.ticks_per_ns() * static_cast<double>(housekeeping_ns))),
        last_housekeeping_(clock.now()) {}

  // One duty cycle at engine time `now_unix_ns` (wall clock live, capture time in replay).
  std::size_t do_work(std::uint64_t now_ticks, std::uint64_t now_unix_ns) noexcept {
    std::size_t work = 0;
    for (Ring* ring : rings_) {
      work += drain(*ring, now_unix_ns);
    }
    if (housekeeping_ticks_ != 0 && now_ticks - last_housekeeping_ >= housekeeping_ticks_) {
      last_housekeeping_ = now_ticks;
      work += housekeeping(now_unix_ns);
    }
    return work;
  }

  [[nodiscard]] bool has_work() const noexcept {
    for (const Ring* ring : rings_) {
      if (ring->size_guess() != 0) {
        return true;
      }
    }
    return false;
  }
  // Nanoseconds to the next housekeeping tick (0: due now): the longest an idle park may last.
  [[nodiscard]] std::uint64_t ns_to_housekeeping() const noexcept {
    const std::uint64_t due = last_housekeeping_ + housekeeping_ticks_;
    const std::uint64_t now = clock_.now();
    return now < due ? clock_.delta_ns(now, due) : 0;
  }
  [[nodiscard]] Observer& observer() noexcept { return observer_; }

private:
  std::size_t drain(Ring& ring, std::uint64_t now_unix_ns) noexcept {
    if constexpr (std::is_same_v<Observer, NoObserver>) {
      return engine_.do_work(ring, now_unix_ns);
    } else {
      return ring.drain(
          [&](const Event& e) {
            observer_.before_apply(e);
            engine_.apply(e, now_unix_ns, clock_.now());
            observer_.after_apply(e);
          },
          kObservedBatch);
    }
  }

  // Cold: once per housekeeping period.
  [[gnu::cold]] std::size_t housekeeping(std::uint64_t now_unix_ns) noexcept {
    if (hooks_.heartbeat) {
      hooks_.heartbeat();
    }
    engine_.refresh_composites(now_unix_ns); // a member that went quiet turns stale
    std::size_t commands = 0;
    if (hooks_.take_model) { // between events: no instrument is mid-update when the model changes
      ModelLoad load;
      if (hooks_.take_model(load)) {
        ++commands;
        if (load.model != nullptr) {
          std::shared_ptr<const SignalModel> old = engine_.install_model(std::move(load.model), load.command, now_unix_ns);
          if (hooks_.retire_model) {
            hooks_.retire_model(std::move(old));
          }
        } else {
          engine_.refuse_model(load.command, load.error.data(), now_unix_ns);
        }
      }
    }
    if (hooks_.control != nullptr) {
      ipc::ControlCommand cmd{};
      while (hooks_.control->ring.try_pop(cmd)) {
        ++commands;
        execute(cmd, now_unix_ns);
      }
    }
    // After the commands: a snapshot handed off in this pass already holds their effect.
    if (hooks_.hand_off_risk && now_unix_ns - last_risk_ns_ >= 1'000'000'000ULL) {
      last_risk_ns_ = now_unix_ns;
      hooks_.hand_off_risk(engine_.risk_snapshot());
    }
    if (hooks_.feeds != nullptr) {
      std::uint64_t messages = 0;
      for (std::uint32_t f = 0; f < hooks_.feeds->count; ++f) {
        ipc::FeedRecord r{};
        if (hooks_.feeds->feeds[f].try_load(r) == ipc::ReadStatus::ok) {
          messages += r.messages;
        }
      }
      hooks_.feeds->engine.update([&](ipc::EngineRecord& r) {
        r.messages_in = messages;
        r.core_cpu = hooks_.core_cpu;
        r.updated_unix_ns = now_unix_ns;
      });
    }
    return commands;
  }

  void execute(const ipc::ControlCommand& cmd, std::uint64_t now_unix_ns) noexcept {
    if (cmd.action == ipc::ControlAction::model_reload && !ipc::expired(cmd, ipc::monotonic_ns())) {
      if (!hooks_.request_model) {
        engine_.acknowledge(cmd, ipc::ControlResult::unsupported, "no model reload in this mode", now_unix_ns);
      } else if (const char* why = hooks_.request_model(cmd)) {
        engine_.refuse_model(cmd, why, now_unix_ns);
      } // else acknowledged when the load is taken (install_model / refuse_model)
      return;
    }
    // Engine::control refuses an expired command of any action (a resync included) as `expired`.
    if (cmd.action != ipc::ControlAction::resync || ipc::expired(cmd, ipc::monotonic_ns())) {
      if (!engine_.control(cmd, now_unix_ns)) { // kill switch, flatten, resume, reset
        engine_.acknowledge(cmd, ipc::ControlResult::unsupported, "unknown action", now_unix_ns);
      }
      return;
    }
    if (cmd.instrument >= engine_.instrument_count()) {
      engine_.acknowledge(cmd, ipc::ControlResult::unknown_instrument, "no such instrument", now_unix_ns);
      return;
    }
    const bool sent = hooks_.request_resync && hooks_.request_resync(static_cast<InstrumentId>(cmd.instrument));
    engine_.acknowledge(cmd, sent ? ipc::ControlResult::done : ipc::ControlResult::rejected,
                        sent ? "resync scheduled" : "feed request queue full", now_unix_ns);
  }

  static constexpr std::size_t kObservedBatch = 256; // as CoreConfig::batch

  Engine& engine_;
  ipc::TscClock clock_;
  std::vector<Ring*> rings_;
  AgentHooks hooks_;
  Observer observer_;
  std::uint64_t housekeeping_ticks_;
  std::uint64_t last_housekeeping_;
  std::uint64_t last_risk_ns_ = 0;
};

} // namespace qf::core
