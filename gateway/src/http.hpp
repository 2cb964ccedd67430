#pragma once
// One HTTP transaction of the gateway's server: the parsed request, the body of a POST (kept
// for the JSON controls) and the response, written in WRITEABLE chunks. Its handlers (on_http,
// dispatch, the body callbacks, write_headers, finish, on_http_writeable) are Server members
// defined in http.cpp. Event-loop thread only.

#include <cstddef>
#include <cstdint>
#include <string>

#include "router.hpp"

namespace qf::gateway::detail {

struct HttpTxn {
  std::uint64_t serial = 0;
  Request request;
  std::string remote;
  bool deferred_post = false; // answered at body completion
  std::size_t body_seen = 0;
  std::string body; // kept for the JSON controls (/api/risk/...), at most kMaxPostBody
  bool ready = false;
  bool headers_sent = false;
  Response response;
  std::string out; // LWS_PRE + body
  std::size_t offset = 0;
  bool audited = false;     // a control path's outcome is in the audit log (start_control or finish)
  bool close_after = false;
  std::uint64_t body_deadline_mono_ns = 0; // a deferred body must be complete by then // close once answered (a body refused unread: 413)
};

} // namespace qf::gateway::detail
