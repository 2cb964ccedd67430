#pragma once
// The gateway's server object, private to its source files: the lws context, the snapshot and
// the GET cache, the HTTP transactions, the WebSocket clients, the pending control requests.
// Its member functions are defined by role:
//   server.cpp            the loop: context and protocol table, callback dispatch, timer, snapshot
//   http.cpp              HTTP transactions: request, body, dispatch, headers, chunked writes
//   ws_fanout.cpp         WebSocket clients: subscriptions, frames, pushes, slow clients
//   control_requests.cpp  control requests: authorise, push, resolve against the ControlLog
//   backtest_jobs.cpp     backtest jobs (qf-engine replay children), routed from http.cpp
// Event-loop thread only.

#include <libwebsockets.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "admin_auth.hpp"
#include "audit_log.hpp"
#include "backtest_jobs.hpp"
#include "control_client.hpp"
#include "control_requests.hpp"
#include "history.hpp"
#include "http.hpp"
#include "qf/ipc/state_reader.hpp"
#include "render_json.hpp"
#include "router.hpp"
#include "server.hpp"
#include "ws_fanout.hpp"

namespace qf::gateway::detail {

struct TickTimer {
  lws_sorted_usec_list_t sul; // first member: the callback gets its address
  class Server* server;
};

class Server {
public:
  explicit Server(const ServerOptions& o);

  int run();
  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);
  // A request past lws's header buffer (http.cpp): lws logs "Ran out of header data space" while
  // the request's headers are still attached, then drops them and closes the connection; this
  // answers 414 or 431 before that.
  void on_header_overflow();

private:
  // http.cpp
  int on_http(lws* wsi, const char* uri);
  int on_http_body(lws* wsi, const void* in, std::size_t len);
  int on_http_body_completion(lws* wsi);
  int on_http_writeable(lws* wsi);
  void dispatch(lws* wsi, HttpTxn& t);
  void finish(lws* wsi, HttpTxn& t, Response r, bool now);
  int write_headers(lws* wsi, HttpTxn& t);
  // control_requests.cpp
  bool authorize(lws* wsi, HttpTxn& t, const std::string& action);
  void start_control(lws* wsi, HttpTxn& t, const ControlTarget& target, const Response* invalid = nullptr);
  // backtest_requests in http.cpp: /api/backtests...
  void backtest_request(lws* wsi, HttpTxn& t);
  Response config_response(const Request& r); // GET /api/config, http.cpp
  void resolve_controls();
  // http.cpp: history answers from the read pool (LWS_CALLBACK_EVENT_WAIT_CANCELLED)
  void start_history(lws* wsi, HttpTxn& t);
  void finish_history();
  // ws_fanout.cpp
  int on_ws_filter(lws* wsi);
  int on_ws_established(lws* wsi);
  int on_ws_receive(lws* wsi, const void* in, std::size_t len);
  int on_ws_writeable(lws* wsi);
  void handle_ws_message(WsClient& c, const std::string& text);
  void build_frame();
  void build_message(const WsClient& c, std::uint64_t now_mono, std::string& out) const;
  void close_idle_clients();
  void request_pushes();
  // server.cpp
  void tick();
  const ipc::StateSnapshot& snapshot(bool force);

  ServerOptions opt_;
  std::string web_root_;
  ipc::StateReader reader_;
  ipc::StateSnapshot snap_;
  std::uint64_t snap_mono_ns_ = 0;
  std::uint64_t snap_unix_ns_ = 0;
  bool snap_valid_ = false;
  std::string damage_logged_; // the "segment damaged" message last written to stderr (once each)
  std::unordered_map<std::string, Response> cache_; // GET bodies of the current snapshot
  GatewayStats stats_;
  ControlClient control_;
  AdminAuth auth_;
  AuditLog audit_;
  BacktestJobs backtests_;
  std::string config_json_; // the config file, redacted (config::redacted_json), read at start
  std::uint64_t backtests_polled_mono_ns_ = 0;
  std::unordered_map<lws*, HttpTxn> http_;
  std::unordered_set<lws*> http_live_;                 // every connection (WSI_CREATE to WSI_DESTROY)
  std::unordered_map<lws*, WsClient> ws_;
  std::vector<PendingControl> pending_;
  std::vector<PendingControl> late_;
  std::unordered_map<std::string, AuthBucket> auth_buckets_; // by client address // answered 504; deadline_mono_ns = when to stop watching
  std::uint64_t serial_ = 0;
  Frame frame_;
  std::uint64_t period_ns_;
  std::uint64_t tick_us_;
  TickTimer timer_{};
  lws_context* context_ = nullptr;
  std::unique_ptr<HistoryPool> history_;              // null without a store URL
  std::unordered_map<std::uint64_t, lws*> history_waiting_; // by transaction serial
};

} // namespace qf::gateway::detail
