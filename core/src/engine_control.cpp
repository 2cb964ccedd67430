// Engine: control commands (kill switch, flatten, resume, risk limits; paper orders are engine.cpp), the risk state a restart persists and
// restores, and the notes and acknowledgements they leave in the state segment. Cold paths, core
// thread only; event application is engine.cpp.
#include "qf/core/engine.hpp"

#include <cstdio>

#include "qf/ipc/tsc_clock.hpp"

namespace qf::core {

void Engine::note_trip(KillCause cause, std::uint16_t instrument, std::uint64_t now_unix_ns) noexcept {
  const Portfolio& p = trader_->portfolio();
  char line[84];
  std::snprintf(line, sizeof line, "kill switch tripped: %s, mode %s, equity %.2f, drawdown %.2f%%", to_string(cause),
                to_string(trader_->kill_switch().mode()), p.equity(), p.drawdown() * 100.0);
  note(ipc::NotableKind::risk, instrument, line, now_unix_ns);
}

bool Engine::control(const ipc::ControlCommand& command, std::uint64_t now_unix_ns) noexcept {
  // A command past its deadline is not executed: its producer has already told its client so.
  if (ipc::expired(command, ipc::monotonic_ns())) {
    acknowledge(command, ipc::ControlResult::expired, "expired: deadline passed, not executed", now_unix_ns);
    return true;
  }
  if (command.action == ipc::ControlAction::paper_order) {
    paper_order(command, now_unix_ns);
    return true;
  }
  if (command.action == ipc::ControlAction::set_limit) {
    set_limit(command, now_unix_ns);
    return true;
  }
  bool changed = false;
  switch (command.action) {
  case ipc::ControlAction::kill_on:
    changed = trader_->kill(KillMode::halt, now_unix_ns);
    break;
  case ipc::ControlAction::kill_reduce_only:
    changed = trader_->kill(KillMode::reduce_only, now_unix_ns);
    break;
  case ipc::ControlAction::flatten:
    changed = trader_->kill(KillMode::flatten, now_unix_ns);
    break;
  case ipc::ControlAction::kill_off:
  case ipc::ControlAction::resume:
  case ipc::ControlAction::reset:
    changed = trader_->reset();
    break;
  default:
    return false;
  }
  char text[40];
  std::snprintf(text, sizeof text, "%s; kill switch %s", changed ? "changed" : "unchanged",
                to_string(trader_->kill_switch().mode()));
  // The new state first, then the acknowledgement: a reader that sees `done` sees the result.
  publisher_.risk(*trader_, now_unix_ns);
  publisher_.portfolio(*trader_, now_unix_ns);
  acknowledge(command, ipc::ControlResult::done, text, now_unix_ns);
  return true;
}

void Engine::set_limit(const ipc::ControlCommand& c, std::uint64_t now_unix_ns) noexcept {
  double scale = 1; // 10^d is exact in a double up to 10^22, so the quotient is correctly rounded
  for (std::uint8_t d = 0; d < c.value_decimals && d < 18; ++d) {
    scale *= 10.0;
  }
  const double value = static_cast<double>(c.value_mantissa) / scale;
  const char* why = c.value_decimals > 18 ? "more than 18 decimals" : trader_->set_limit(c.limit, value);
  char text[64]; // the acknowledgement keeps 39 characters
  if (why != nullptr) {
    std::snprintf(text, sizeof text, "refused: %s", why);
    acknowledge(c, ipc::ControlResult::rejected, text, now_unix_ns);
    return;
  }
  std::snprintf(text, sizeof text, "%s = %.10g", ipc::to_string(c.limit), value);
  publisher_.risk(*trader_, now_unix_ns); // the new limit first, then the acknowledgement
  acknowledge(c, ipc::ControlResult::done, text, now_unix_ns);
}

RiskSnapshot Engine::risk_snapshot() const noexcept {
  const Portfolio& p = trader_->portfolio();
  const KillSwitch& k = trader_->kill_switch();
  RiskSnapshot s;
  s.count = static_cast<std::uint32_t>(count_);
  for (std::size_t i = 0; i < count_; ++i) {
    s.positions[i] = p.position(i);
  }
  s.cash = p.cash();
  s.peak = p.peak();
  s.day_start_equity = p.day_start_equity();
  s.fees = p.fees();
  s.day = p.day();
  s.fills = p.fill_count();
  s.kill_mode = k.mode();
  s.kill_cause = k.cause();
  s.kill_since_ns = k.since_ns();
  s.has_limits = 1;
  s.limits = trader_->config().limits;
  return s;
}

void Engine::restore(const RiskSnapshot& s, std::uint64_t now_unix_ns) noexcept {
  Portfolio& p = trader_->portfolio_mut();
  for (std::size_t i = 0; i < count_ && i < s.count; ++i) {
    p.position_mut(i) = s.positions[i];
  }
  p.restore_cash(s.cash, s.peak, s.day_start_equity, s.day, s.fees, s.fills);
  trader_->kill_switch_mut().restore(s.kill_mode, s.kill_cause, s.kill_since_ns);
  if (s.has_limits == 1) {
    trader_->set_limits(s.limits); // the persisted limits win over the config's (HACKING.md Decisions)
  }
  publisher_.fills_restored(s.fills);
  for (std::size_t i = 0; i < count_; ++i) {
    publisher_.position(i, *trader_, now_unix_ns);
  }
  publisher_.portfolio(*trader_, now_unix_ns);
  publisher_.risk(*trader_, now_unix_ns);
  if (trader_->kill_switch().tripped()) {
    char line[84];
    std::snprintf(line, sizeof line, "restored: kill switch %s (%s)", to_string(s.kill_mode), to_string(s.kill_cause));
    note(ipc::NotableKind::risk, ipc::kNoInstrument, line, now_unix_ns);
  }
}

void Engine::note(ipc::NotableKind kind, std::uint16_t instrument, const char* text,
                  std::uint64_t now_unix_ns) noexcept {
  publisher_.note(kind, instrument, text, now_unix_ns);
}

void Engine::acknowledge(const ipc::ControlCommand& command, ipc::ControlResult result, const char* text,
                         std::uint64_t now_unix_ns) noexcept {
  publisher_.acknowledge(command, result, text, now_unix_ns);
}

} // namespace qf::core
