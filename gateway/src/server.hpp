#pragma once
// The qf-gateway server: one libwebsockets context, one event loop thread, HTTP and WebSocket
// on one port. Everything (REST, /metrics, static files, controls, pushes) runs in lws
// callbacks and one periodic timer; nothing blocks the loop:
//  - REST reads a StateSnapshot at most every kSnapshotMaxAgeNs and caches rendered GET
//    bodies for that long, so a request flood costs one snapshot per 2 ms.
//  - Controls push a command, then the timer polls the ControlLog for its acknowledgement
//    (bounded wait) and only then answers the request.
//  - WebSocket clients are conflated: the timer builds one Frame of the newest state; a client
//    that is due (>= 1/push_hz since its last push) asks for WRITEABLE and gets the newest
//    frame then. A client whose socket stays full skips frames; once the skipped bytes pass
//    client_buffer_bytes it is cut off. Per client: one outgoing message and the kernel's
//    send buffer (SO_SNDBUF = client_buffer_bytes), nothing else.
// The code is split by role around the private Server class of server_state.hpp.

#include <cstdint>
#include <memory>
#include <string>

#include "qf/config/config.hpp"

namespace qf::gateway {

struct ServerOptions {
  config::GatewaySection gateway;
  std::string instance;
  std::string config_path; // shown (redacted) by GET /api/config; empty: none
  std::string vendor_root; // uPlot's dist folder, served under /vendor/
  int control_timeout_ms = 2000;
  // Unauthenticated control attempts (missing or wrong token) allowed per client address and
  // minute: a token bucket of this size refilled at this rate; past it every control request
  // from that address is 429 (token not even checked) and audited once per run with a count.
  int auth_failures_per_min = 30;
  // qf-store's database (libpq URL) for /api/history/...; empty: those answer 503.
  std::string store_url;
  int history_threads = 2; // the read pool (history.hpp)
};

// Runs until SIGINT/SIGTERM; returns the exit status. Prints
// "qf-gateway: listening http://HOST:PORT" on stdout once it accepts connections.
int run_server(const ServerOptions& options);

} // namespace qf::gateway
