#pragma once
// A control request waiting for the engine: its command has been pushed to the control queue,
// and the timer answers the HTTP transaction once the ControlLog holds the command's id, or
// with 504 at the deadline. start_control and resolve_controls are Server members defined in
// control_requests.cpp. Event-loop thread only.

#include <cstdint>
#include <string>

struct lws;

namespace qf::gateway::detail {

struct PendingControl {
  lws* wsi;
  std::uint64_t serial;
  std::uint64_t id;
  std::uint64_t deadline_mono_ns;
  std::string action;
  std::string instrument; // key, or empty
  std::string remote;
};

} // namespace qf::gateway::detail
