#pragma once
// The gateway's producer side of the control queue. ControlClient attaches
// /qf.<instance>.control read-write (SegmentPeer), claims the producer slot by CAS (taking it
// over from a dead process), pushes ControlCommand values, and re-attaches when the engine
// restarts. find_ack looks a command's acknowledgement up in the state segment's ControlLog
// through the read-only view. Event-loop thread only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::gateway {

class ControlClient {
public:
  explicit ControlClient(std::string instance);
  ~ControlClient(); // frees the producer slot
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Pushes one command; returns its id, or nullopt with `why` filled (no engine, the slot is
  // held by another live process, the ring is full). The engine refuses it as `expired` after
  // `deadline_mono_ns` (ipc::monotonic_ns()).
  // `command` carries the action, instrument and arguments; id, times and actor are set here.
  std::optional<std::uint64_t> push(ipc::ControlCommand command, std::string_view actor, std::uint64_t deadline_mono_ns,
                                    std::string& why);

private:
  bool ensure(std::string& why);
  void release() noexcept;
  ipc::SegmentPeer peer_;
  ipc::ControlQueue* queue_ = nullptr;
  std::uint64_t last_id_ = 0;
};

// The acknowledgement of command `id` in the state segment, if the engine wrote it. `faulted` is
// set (never cleared) when the mapping raised SIGBUS (the file shrank since the last StateReader::read): the
// caller reads the state again, which reports it damaged and detaches.
[[nodiscard]] std::optional<ipc::ControlAck> find_ack(const ipc::SegmentView& state, std::uint64_t id,
                                                      bool& faulted) noexcept;

} // namespace qf::gateway
