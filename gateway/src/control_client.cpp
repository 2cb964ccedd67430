#include "control_client.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "qf/ipc/bus_guard.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::gateway {

ControlClient::ControlClient(std::string instance)
    : peer_(std::move(instance), ipc::kControlSegmentName, ipc::kControlLayoutVersion) {}

ControlClient::~ControlClient() { release(); }

void ControlClient::release() noexcept {
  if (queue_ != nullptr && peer_.attached() && !peer_.owner_restarted() && peer_.verify()) {
    std::int32_t me = static_cast<std::int32_t>(getpid());
    queue_->producer_pid.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
  }
  queue_ = nullptr;
}

bool ControlClient::ensure(std::string& why) {
  if (queue_ != nullptr && peer_.attached() && !peer_.owner_restarted() && peer_.verify()) {
    return true;
  }
  queue_ = nullptr;
  if (peer_.try_attach() != ipc::AttachStatus::attached) {
    why = "engine control queue not available: ";
    why += peer_.message();
    return false;
  }
  auto* q = peer_.section_as<ipc::ControlQueue>(0);
  if (q == nullptr) {
    why = "control segment smaller than this gateway's layout";
    return false;
  }
  const auto me = static_cast<std::int32_t>(getpid());
  std::int32_t holder = q->producer_pid.load(std::memory_order_acquire);
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (holder == me) {
      queue_ = q;
      return true;
    }
    // Free, or held by a process that no longer exists: take it over.
    const bool free = holder == 0 || (kill(holder, 0) != 0 && errno == ESRCH);
    if (!free) {
      why = "control queue producer slot held by live pid ";
      why += std::to_string(holder);
      return false;
    }
    if (q->producer_pid.compare_exchange_strong(holder, me, std::memory_order_acq_rel)) {
      queue_ = q;
      return true;
    }
  }
  why = "control queue producer slot contended";
  return false;
}

std::optional<std::uint64_t> ControlClient::push(ipc::ControlCommand c, std::string_view actor,
                                                 std::uint64_t deadline_mono_ns, std::string& why) {
  if (!ensure(why)) {
    return std::nullopt;
  }
  // Ids increase across gateway restarts too (wall clock ns), so an old ack never matches.
  const std::uint64_t now = ipc::realtime_ns();
  c.id = now > last_id_ ? now : last_id_ + 1;
  c.sent_unix_ns = now;
  c.deadline_mono_ns = deadline_mono_ns;
  ipc::set_actor(c, actor);
  if (!queue_->ring.try_push(c)) {
    why = "control queue full (the engine is not draining it)";
    return std::nullopt;
  }
  last_id_ = c.id;
  return c.id;
}

std::optional<ipc::ControlAck> find_ack(const ipc::SegmentView& state, std::uint64_t id, bool& faulted) noexcept {
  if (!state.attached()) {
    return std::nullopt;
  }
  std::optional<ipc::ControlAck> found;
  const bool read = ipc::guarded_read([&] {
    const auto* log = state.section_as<ipc::ControlLog>(ipc::kSectionControl);
    if (log == nullptr) {
      return;
    }
    const std::uint64_t written = log->written.load(std::memory_order_acquire);
    const std::uint64_t first = written > ipc::kControlLogSize ? written - ipc::kControlLogSize : 0;
    for (std::uint64_t i = written; i-- > first;) {
      ipc::ControlAck a{};
      if (log->entries[i % ipc::kControlLogSize].try_load(a) == ipc::ReadStatus::ok && a.id == id) {
        found = a;
        return;
      }
    }
  });
  if (!read) {
    faulted = true;
    return std::nullopt;
  }
  return found;
}

} // namespace qf::gateway
