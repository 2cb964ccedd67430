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

// Unauthenticated control attempts of one client address (ServerOptions::auth_failures_per_min).
struct AuthBucket {
  double tokens = 0;
  std::uint64_t refilled_mono_ns = 0;
  std::uint64_t suppressed = 0; // 429s since the last audit line for this address
};

// How long after a command's deadline the gateway still looks for its acknowledgement before it
// answers 504: the engine checks the deadline before it executes, then acknowledges; this covers
// the step between the two.
inline constexpr std::uint64_t kAckGraceNs = 50'000'000;
// How long the gateway keeps looking for the late acknowledgement of a command it answered 504
// (audited as "late <result>" when it comes: the final outcome it saw).
inline constexpr std::uint64_t kLateAckWatchNs = 60'000'000'000ULL;

} // namespace qf::gateway::detail
