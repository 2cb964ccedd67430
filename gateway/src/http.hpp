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

// Request bounds: a URL (path and query) over kMaxUriBytes is answered 414; a request head (the
// URL and the headers as lws keeps them) over kMaxHeaderBytes, lws's header buffer (the context's
// max_http_header_data), 431. lws 4.1 closes a request that overflows its buffer without a status
// and has no hook for it, so the gateway answers it from lws's log line (Server::on_header_overflow).
inline constexpr std::size_t kMaxUriBytes = 2048;
inline constexpr std::size_t kMaxHeaderBytes = 4096;

// A request's method, path and URL length as lws parsed them (so far).
struct RequestHead {
  std::string method;
  std::string path;
  std::size_t url_bytes = 0; // path and query, as far as they were read
};

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
  bool close_after = false;                // close once answered (refused unread: 413, 414, 431)
  std::uint64_t body_deadline_mono_ns = 0; // a deferred body must be complete by then
};

} // namespace qf::gateway::detail
