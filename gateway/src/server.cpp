#include "server.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "qf/ipc/tsc_clock.hpp"
#include "server_state.hpp"

namespace qf::gateway {
namespace detail {
namespace {

constexpr std::uint64_t kSnapshotMaxAgeNs = 2'000'000;

volatile std::sig_atomic_t g_stop = 0;
lws_context* g_context = nullptr;

Server* g_server = nullptr; // for lws's log lines (lws_log)

// lws's log: a request over the header buffer is reported only as this line, from inside its
// parse (Server::on_header_overflow); the gateway answers and counts it, so the line is not printed.
void lws_log(int level, const char* line) {
  if (g_server != nullptr && (std::strstr(line, "Ran out of header data space") != nullptr ||
                              std::strstr(line, "More hdr frags than we can deal with") != nullptr)) {
    g_server->on_header_overflow();
    return;
  }
  lwsl_emit_stderr(level, line);
}

void on_signal(int) {
  g_stop = 1;
  if (g_context != nullptr) {
    lws_cancel_service(g_context);
  }
}

BacktestOptions backtest_options(const config::GatewaySection& g) {
  BacktestOptions b;
  b.engine_binary = g.engine_binary;
  if (b.engine_binary.empty()) { // the qf-engine built beside this qf-gateway
    std::error_code ec;
    b.engine_binary = (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "qf-engine").string();
  }
  b.data_dir = g.backtest_data_dir;
  b.jobs_dir = g.backtest_dir;
  b.max_queued = g.backtest_queue;
  return b;
}

} // namespace

Server::Server(const ServerOptions& o)
    : opt_(o), reader_(o.instance, static_cast<std::uint64_t>(o.gateway.stall_after_ms) * std::uint64_t{1'000'000}),
      control_(o.instance), auth_(std::getenv("QF_ADMIN_TOKEN"), o.gateway.admin_token_file),
      audit_(o.gateway.audit_log), backtests_(backtest_options(o.gateway)) {
  stats_.start_unix_ns = ipc::realtime_ns();
  stats_.history = !o.store_url.empty();
  period_ns_ = static_cast<std::uint64_t>(1e9 / o.gateway.push_hz);
  tick_us_ = std::clamp<std::uint64_t>(period_ns_ / 4 / 1000, 2'000, 10'000);
  web_root_ = o.gateway.web_root;
  if (!o.config_path.empty()) {
    config_json_ = config::redacted_json(o.config_path);
  }
  timer_.server = this;
}

const ipc::StateSnapshot& Server::snapshot(bool force) {
  const std::uint64_t now = ipc::monotonic_ns();
  if (force || !snap_valid_ || now - snap_mono_ns_ >= kSnapshotMaxAgeNs) {
    reader_.read(snap_);
    if (snap_.status != ipc::EngineStatus::damaged) {
      damage_logged_.clear();
    } else if (snap_.message != damage_logged_) {
      std::fprintf(stderr, "qf-gateway: %s\n", snap_.message.c_str());
      damage_logged_ = snap_.message;
    }
    snap_mono_ns_ = now;
    snap_unix_ns_ = ipc::realtime_ns();
    snap_valid_ = true;
    cache_.clear();
    stats_.ws_clients = ws_.size();
  }
  return snap_;
}

void Server::tick() {
  bool any_subscriber = false;
  for (const auto& [wsi, c] : ws_) {
    any_subscriber = any_subscriber || c.channels != 0;
  }
  if (any_subscriber || !pending_.empty()) {
    snapshot(true);
  }
  resolve_controls();
  close_idle_clients();
  if (const std::uint64_t now = ipc::monotonic_ns(); now - backtests_polled_mono_ns_ > 100'000'000ULL) {
    backtests_polled_mono_ns_ = now; // children and their progress files, ten times a second
    backtests_.poll();
  }
  if (any_subscriber) {
    build_frame();
    request_pushes();
  }
  lws_sul_schedule(context_, 0, &timer_.sul, [](lws_sorted_usec_list_t* sul) {
    reinterpret_cast<TickTimer*>(sul)->server->tick();
  }, static_cast<lws_usec_t>(tick_us_));
}

int Server::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* self = static_cast<Server*>(lws_context_user(lws_get_context(wsi)));
  switch (reason) {
  case LWS_CALLBACK_HTTP: return self->on_http(wsi, static_cast<const char*>(in));
  case LWS_CALLBACK_HTTP_BODY: return self->on_http_body(wsi, in, len);
  case LWS_CALLBACK_HTTP_BODY_COMPLETION: return self->on_http_body_completion(wsi);
  case LWS_CALLBACK_HTTP_WRITEABLE: return self->on_http_writeable(wsi);
  case LWS_CALLBACK_WSI_CREATE: self->http_live_.insert(wsi); return 0;
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL: self->http_.erase(wsi); return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return self->on_ws_filter(wsi);
  case LWS_CALLBACK_ESTABLISHED: return self->on_ws_established(wsi);
  case LWS_CALLBACK_RECEIVE: return self->on_ws_receive(wsi, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE: return self->on_ws_writeable(wsi);
  case LWS_CALLBACK_CLOSED:
    self->ws_.erase(wsi);
    self->stats_.ws_clients = self->ws_.size();
    return 0;
  case LWS_CALLBACK_EVENT_WAIT_CANCELLED: self->finish_history(); return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    self->http_.erase(wsi);
    self->http_live_.erase(wsi);
    if (self->ws_.erase(wsi) != 0) {
      self->stats_.ws_clients = self->ws_.size();
    }
    return 0;
  default: break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int Server::run() {
  static const lws_protocols kProtocols[] = {
      {"qf", &Server::callback, 0, kMaxWsMessage, 0, nullptr, 0},
      {nullptr, nullptr, 0, 0, 0, nullptr, 0},
  };
  g_server = this;
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
  lws_context_creation_info info{};
  info.port = opt_.gateway.port;
  info.iface = opt_.gateway.host.c_str();
  info.protocols = kProtocols;
  info.user = this;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  info.timeout_secs = 10;
  info.keepalive_timeout = 30;
  info.max_http_header_data = static_cast<unsigned short>(kMaxHeaderBytes); // the bounds: http.hpp
  context_ = lws_create_context(&info);
  if (context_ == nullptr) {
    std::fprintf(stderr, "qf-gateway: cannot listen on %s:%d\n", opt_.gateway.host.c_str(), opt_.gateway.port);
    return 1;
  }
  g_context = context_;
  if (!auth_.warning().empty()) { // before the listening line, so whoever waits for it has the warning too
    std::fprintf(stderr, "qf-gateway: warning: %s\n", auth_.warning().c_str());
  }
  if (!opt_.store_url.empty()) {
    history_ = std::make_unique<HistoryPool>(opt_.store_url, opt_.history_threads,
                                             [ctx = context_] { lws_cancel_service(ctx); });
  }
  lws_vhost* vh = lws_get_vhost_by_name(context_, "default");
  const int port = vh != nullptr ? lws_get_vhost_listen_port(vh) : opt_.gateway.port;
  std::printf("qf-gateway: listening http://%s:%d\n", opt_.gateway.host.c_str(), port);
  std::fflush(stdout);
  if (!auth_.configured()) {
    std::fprintf(stderr, "qf-gateway: no admin token configured: control endpoints answer 403\n");
  }
  tick();
  while (g_stop == 0) {
    if (lws_service(context_, 0) < 0) {
      break;
    }
  }
  lws_sul_cancel(&timer_.sul);
  history_.reset(); // joins the readers before the context goes
  g_context = nullptr;
  lws_context_destroy(context_);
  g_server = nullptr;
  context_ = nullptr;
  return 0;
}

} // namespace detail

int run_server(const ServerOptions& options) {
  std::signal(SIGINT, detail::on_signal);
  std::signal(SIGTERM, detail::on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  auto server = std::make_unique<detail::Server>(options);
  return server->run();
}

} // namespace qf::gateway
