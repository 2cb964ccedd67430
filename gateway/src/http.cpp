#include "http.hpp"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include "qf/ipc/tsc_clock.hpp"

#include "router.hpp"
#include "server_state.hpp"

namespace qf::gateway::detail {
namespace {

constexpr std::size_t kBodyChunk = 64 * 1024;
constexpr std::size_t kMaxPostBody = 64 * 1024;
constexpr int kBodyTimeoutSecs = 10; // = the context's idle timeout_secs (server.cpp)

std::string peer_address(lws* wsi) {
  char ip[64] = {};
  lws_get_peer_simple(wsi, ip, sizeof ip);
  return ip;
}

struct MethodToken {
  lws_token_indexes token;
  const char* name;
};
constexpr MethodToken kMethods[] = {{WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
                                    {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_DELETE_URI, "DELETE"},
                                    {WSI_TOKEN_PATCH_URI, "PATCH"},     {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
                                    {WSI_TOKEN_HEAD_URI, "HEAD"}};

// The request's method, path and URL length (path + query) from lws's parsed headers.
RequestHead request_head(lws* wsi) {
  RequestHead h;
  h.method = "UNKNOWN";
  for (const auto& m : kMethods) {
    if (const int n = lws_hdr_total_length(wsi, m.token); n > 0) {
      h.method = m.name;
      h.path.resize(static_cast<std::size_t>(n) + 1);
      const int got = lws_hdr_copy(wsi, h.path.data(), n + 1, m.token);
      h.path.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
      break;
    }
  }
  const int args = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  h.url_bytes = h.path.size() + (args > 0 ? static_cast<std::size_t>(args) + 1 : 0);
  return h;
}

// A path kept for the audit line of a 414: its first bytes (the control path is a prefix).
std::string shortened(std::string path) {
  constexpr std::size_t kKeep = 200;
  if (path.size() > kKeep) {
    path.resize(kKeep);
    path += "...";
  }
  return path;
}

Response uri_too_long() { return json_error(414, "URL over " + std::to_string(kMaxUriBytes) + " bytes"); }

Response headers_too_large() {
  return json_error(431, "request headers over " + std::to_string(kMaxHeaderBytes) + " bytes");
}

} // namespace

int Server::write_headers(lws* wsi, HttpTxn& t) {
  unsigned char buf[LWS_PRE + 1024];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  const Response& r = t.response;
  const std::size_t body = t.out.size() - LWS_PRE;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.status), r.content_type.c_str(), body, &p, end) !=
      0) {
    return -1;
  }
  static const char kNoStore[] = "no-store";
  if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("cache-control:"),
                                  reinterpret_cast<const unsigned char*>(kNoStore), sizeof kNoStore - 1, &p, end) != 0) {
    return -1;
  }
  if (!r.allow.empty() &&
      lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("allow:"),
                                  reinterpret_cast<const unsigned char*>(r.allow.data()),
                                  static_cast<int>(r.allow.size()), &p, end) != 0) {
    return -1;
  }
  if (lws_finalize_write_http_header(wsi, start, &p, end) != 0) {
    return -1;
  }
  t.headers_sent = true;
  lws_callback_on_writable(wsi);
  return 0;
}

// Sets the response; `now` writes the headers at once (inside the request's own callback),
// otherwise WRITEABLE does.
void Server::finish(lws* wsi, HttpTxn& t, Response r, bool now) {
  // Every request to a control path is audited whatever its outcome: start_control audits what
  // it decides; the rest (404, 405, 413, ...) here, with the error text as the detail.
  if (!t.audited && (is_control_path(t.request.path) || is_risk_control_path(t.request.path) ||
                     is_trading_control_path(t.request.path))) {
    t.audited = true;
    std::string action = t.request.method;
    action += ' ';
    action += t.request.path;
    std::string detail;
    try {
      detail = nlohmann::json::parse(r.body).at("error").get<std::string>();
    } catch (const std::exception&) {
    }
    audit_.write(t.remote, action, "refused", r.status, 0, detail);
  }
  t.response = std::move(r);
  t.out.assign(LWS_PRE, '\0');
  t.out += t.response.body;
  t.response.body.clear();
  t.ready = true;
  ++stats_.http_requests;
  if (now) {
    if (write_headers(wsi, t) != 0) {
      lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
  } else {
    lws_callback_on_writable(wsi);
  }
}

int Server::on_http(lws* wsi, const char* uri) {
  HttpTxn& t = http_[wsi];
  t = HttpTxn{};
  t.serial = ++serial_;
  const RequestHead head = request_head(wsi);
  t.request.method = head.method;
  t.request.path = uri != nullptr ? uri : "/";
  t.remote = peer_address(wsi);
  if (head.url_bytes > kMaxUriBytes) { // within lws's buffer but over the bound
    t.request.path = shortened(std::move(t.request.path));
    t.close_after = true;
    finish(wsi, t, uri_too_long(), true);
    return 0;
  }
  char frag[512];
  for (int n = 0;; ++n) {
    const int len = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, n);
    if (len < 0) {
      break;
    }
    const std::string_view f(frag, static_cast<std::size_t>(len));
    const auto eq = f.find('=');
    if (eq == std::string_view::npos) {
      t.request.query.emplace_back(std::string(f), std::string());
    } else {
      t.request.query.emplace_back(std::string(f.substr(0, eq)), std::string(f.substr(eq + 1)));
    }
  }
  if (t.request.method != "GET" && t.request.method != "HEAD" &&
      lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
    char cl[32] = {};
    lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    const unsigned long long length = std::strtoull(cl, nullptr, 10);
    if (length > kMaxPostBody) { // refused before a byte of it is read
      t.close_after = true;
      finish(wsi, t, json_error(413, "request body over " + std::to_string(kMaxPostBody) + " bytes"), true);
      return 0;
    }
    if (length > 0) {
      t.deferred_post = true; // let lws read the body first; answer at completion
      // The whole body within the idle timeout, however slowly it trickles in: lws restarts its
      // own timer on each chunk, so on_http_body checks the time since the headers.
      t.body_deadline_mono_ns = ipc::monotonic_ns() + std::uint64_t{kBodyTimeoutSecs} * 1'000'000'000ULL;
      return 0;
    }
  }
  dispatch(wsi, t);
  return 0;
}

void Server::on_header_overflow() {
  // Called from lws's log line, inside the parse of the overflowing request, before lws drops its
  // headers and shuts its socket down. lws does not say which connection it is: when exactly one
  // connection has a request under way it is that one, answered here at once; with several half-
  // sent requests at the same moment the overflow is only counted (lws closes it unanswered).
  lws* culprit = nullptr;
  RequestHead head;
  for (lws* w : http_live_) {
    RequestHead h = request_head(w);
    if (h.method == "UNKNOWN") {
      continue; // no request under way on this connection
    }
    if (culprit != nullptr) {
      ++stats_.http_oversized_unanswered;
      return;
    }
    culprit = w;
    head = std::move(h);
  }
  const int fd = culprit != nullptr ? lws_get_socket_fd(culprit) : -1;
  if (fd < 0) {
    ++stats_.http_oversized_unanswered;
    return;
  }
  // A URL that filled the buffer is the URL's fault; anything else the headers'.
  const bool long_url = head.url_bytes >= kMaxUriBytes;
  const Response r = long_url ? uri_too_long() : headers_too_large();
  if (is_control_path(head.path) || is_risk_control_path(head.path) || is_trading_control_path(head.path)) {
    std::string detail;
    try {
      detail = nlohmann::json::parse(r.body).at("error").get<std::string>();
    } catch (const std::exception&) {
    }
    audit_.write(peer_address(culprit), head.method + ' ' + shortened(head.path), "refused", r.status, 0, detail);
  }
  ++stats_.http_requests;
  ++stats_.http_oversized;
  // lws closes the connection as soon as this returns, so the reply is written on its socket now,
  // whole (a few hundred bytes: the send buffer takes them).
  std::string out = "HTTP/1.1 ";
  out += long_url ? "414 URI Too Long" : "431 Request Header Fields Too Large";
  out += "\r\ncontent-type: application/json\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: ";
  out += std::to_string(r.body.size());
  out += "\r\n\r\n";
  out += r.body;
  (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // What the client still sends is read and dropped (bounded), so the close is less likely to
  // be a reset that could overtake the reply.
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

int Server::on_http_body(lws* wsi, const void* in, std::size_t len) {
  auto it = http_.find(wsi);
  if (it != http_.end()) {
    HttpTxn& t = it->second;
    t.body_seen += len;
    if (t.body_deadline_mono_ns != 0 && ipc::monotonic_ns() > t.body_deadline_mono_ns) {
      return -1; // a slow body: closed at the idle timeout counted from the headers
    }
    if (t.close_after) {
      return 0; // refused: the rest is not kept
    }
    if (t.body_seen > kMaxPostBody) { // a chunked body without a length grew past the bound
      t.close_after = true;
      t.deferred_post = false;
      t.body.clear();
      finish(wsi, t, json_error(413, "request body over " + std::to_string(kMaxPostBody) + " bytes"), false);
      return 0;
    }
    t.body.append(static_cast<const char*>(in), len);
  }
  return 0;
}

int Server::on_http_body_completion(lws* wsi) {
  auto it = http_.find(wsi);
  if (it != http_.end() && it->second.deferred_post) {
    it->second.deferred_post = false;
    dispatch(wsi, it->second);
  }
  return 0;
}

void Server::dispatch(lws* wsi, HttpTxn& t) {
  const Request& r = t.request;
  if (r.method == "HEAD") {
    Response resp = json_error(405, "method not allowed; use GET");
    resp.allow = "GET";
    finish(wsi, t, std::move(resp), true);
    return;
  }
  if (r.path == "/ws") {
    finish(wsi, t, json_error(426, "WebSocket endpoint: connect with an Upgrade request"), true);
    return;
  }
  if (r.path.starts_with("/api/") || r.path == "/api" || r.path == "/metrics") {
    if (r.path == "/api/backtests" || r.path.starts_with("/api/backtests/")) {
      backtest_request(wsi, t);
      return;
    }
    if (r.path == "/api/config") {
      finish(wsi, t, config_response(r), true);
      return;
    }
    if (r.method == "POST" && is_trading_control_path(r.path)) {
      ControlTarget target;
      const auto invalid = parse_trading_control(r.path, t.body, target);
      start_control(wsi, t, target, invalid ? &*invalid : nullptr);
      return;
    }
    if (r.method == "POST" && is_risk_control_path(r.path)) {
      ControlTarget target;
      const auto invalid = parse_risk_control(r.path, t.body, target);
      start_control(wsi, t, target, invalid ? &*invalid : nullptr);
      return;
    }
    if (is_history_path(r.path)) {
      start_history(wsi, t);
      return;
    }
    if (r.method == "POST" && is_control_path(r.path)) {
      Response err;
      const auto target = match_control(r.path, err);
      if (!target) {
        finish(wsi, t, std::move(err), true);
        return;
      }
      start_control(wsi, t, *target);
      return;
    }
    std::string key;
    if (r.method == "GET") {
      key = r.path;
      for (const auto& [k, v] : r.query) {
        key += '&';
        key += k;
        key += '=';
        key += v;
      }
    }
    const ipc::StateSnapshot& s = snapshot(false);
    if (!key.empty()) {
      const auto it = cache_.find(key);
      if (it != cache_.end()) {
        finish(wsi, t, it->second, true);
        return;
      }
    }
    Response resp = route_api(r, s, stats_, snap_unix_ns_);
    if (!key.empty() && resp.status == 200) {
      cache_.emplace(key, resp);
    }
    finish(wsi, t, std::move(resp), true);
    return;
  }
  if (r.method != "GET") {
    Response resp = json_error(405, "method not allowed; use GET");
    resp.allow = "GET";
    finish(wsi, t, std::move(resp), true);
    return;
  }
  const auto file = resolve_static(web_root_, opt_.vendor_root, r.path);
  if (!file) {
    std::string msg = "not found: ";
    msg += r.path;
    finish(wsi, t, json_error(404, msg), true);
    return;
  }
  ++stats_.http_requests;
  static const char kHeaders[] = "cache-control: no-cache\r\nx-content-type-options: nosniff\r\n";
  const int n = lws_serve_http_file(wsi, file->path.c_str(), file->mime, kHeaders, sizeof kHeaders - 1);
  if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi) != 0)) {
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
  http_.erase(wsi); // lws serves the file from here on
}

void Server::start_history(lws* wsi, HttpTxn& t) {
  ++stats_.http_requests;
  Response error;
  auto q = parse_history(t.request, error);
  if (!q) {
    finish(wsi, t, std::move(error), true);
    return;
  }
  if (!history_) {
    finish(wsi, t, json_error(503, "no history store configured ([store] or --store-url)"), true);
    return;
  }
  history_waiting_[t.serial] = wsi;
  history_->submit(t.serial, std::move(*q));
}

void Server::finish_history() {
  if (!history_) {
    return;
  }
  for (auto& [serial, resp] : history_->take()) {
    const auto w = history_waiting_.find(serial);
    if (w == history_waiting_.end()) {
      continue;
    }
    lws* wsi = w->second;
    history_waiting_.erase(w);
    const auto h = http_.find(wsi);
    if (h != http_.end() && h->second.serial == serial) { // the client may have gone meanwhile
      finish(wsi, h->second, std::move(resp), true);
    }
  }
}

// GET /api/backtests[/{id}] (no token: read-only, like the rest of the API); POST /api/backtests
// and POST /api/backtests/{id}/cancel need the admin token and are audited with their outcome.
void Server::backtest_request(lws* wsi, HttpTxn& t) {
  const Request& r = t.request;
  const std::string_view rest = std::string_view(r.path).substr(std::string_view("/api/backtests").size());
  const std::string_view id = rest.empty() ? rest : rest.substr(1, rest.find('/', 1) == std::string_view::npos
                                                                         ? std::string_view::npos
                                                                         : rest.find('/', 1) - 1);
  const bool is_cancel = !id.empty() && rest == "/" + std::string(id) + "/cancel";
  const bool is_one = !id.empty() && rest == "/" + std::string(id);
  if (r.method == "GET" && rest == "/captures") {
    finish(wsi, t, backtests_.captures(), true);
    return;
  }
  if (r.method == "GET" && (rest.empty() || is_one)) {
    finish(wsi, t, rest.empty() ? backtests_.list() : backtests_.get(id), true);
    return;
  }
  if (r.method == "POST" && (rest.empty() || is_cancel)) {
    const std::string action = rest.empty() ? "backtest" : "backtest cancel " + std::string(id);
    if (!authorize(wsi, t, action)) {
      return;
    }
    Response resp = rest.empty() ? backtests_.submit(t.body) : backtests_.cancel(id);
    std::string detail;
    if (resp.status >= 400) {
      try {
        detail = nlohmann::json::parse(resp.body).at("error").get<std::string>();
      } catch (const std::exception&) {
      }
    }
    audit_.write(t.remote, action, resp.status < 400 ? "accepted" : "refused", resp.status, 0, detail);
    finish(wsi, t, std::move(resp), true);
    return;
  }
  if (rest.empty() || is_one || is_cancel) {
    Response resp = json_error(405, is_cancel ? "method not allowed; use POST" : "method not allowed; use GET or POST");
    resp.allow = is_cancel ? "POST" : (is_one ? "GET" : "GET, POST");
    finish(wsi, t, std::move(resp), true);
    return;
  }
  finish(wsi, t, json_error(404, "not found: " + r.path), true);
}

int Server::on_http_writeable(lws* wsi) {
  const auto it = http_.find(wsi);
  if (it == http_.end() || !it->second.ready) {
    return 0;
  }
  HttpTxn& t = it->second;
  if (!t.headers_sent) {
    return write_headers(wsi, t);
  }
  const std::size_t remaining = t.out.size() - LWS_PRE - t.offset;
  const std::size_t chunk = std::min(remaining, kBodyChunk);
  const bool last = chunk == remaining;
  auto* data = reinterpret_cast<unsigned char*>(t.out.data()) + LWS_PRE + t.offset;
  if (lws_write(wsi, data, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0) {
    return -1;
  }
  t.offset += chunk;
  if (!last) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  t.ready = false;
  t.out.clear();
  t.out.shrink_to_fit();
  if (t.close_after) {
    return -1; // the refused body may still be arriving: do not read it as the next request
  }
  return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

// GET /api/config: the file the gateway was started with (secrets redacted, read once at start,
// so it is the configuration running, not later edits) and the risk limits the engine has in
// force now (its risk record: a set_limit shows here).
Response Server::config_response(const Request& r) {
  if (r.method != "GET") {
    Response resp = json_error(405, "method not allowed; use GET");
    resp.allow = "GET";
    return resp;
  }
  if (!r.query.empty()) {
    std::string msg = "unknown parameter: ";
    msg += r.query.front().first;
    return json_error(400, msg, r.query.front().first);
  }
  ipc::JsonWriter o;
  o.begin_object().key("path");
  opt_.config_path.empty() ? o.null() : o.str(opt_.config_path);
  o.key("risk");
  render_risk(o, snapshot(false));
  o.key("config").raw(config_json_.empty() ? std::string_view("null") : std::string_view(config_json_));
  o.end_object();
  Response resp;
  resp.body = o.take();
  return resp;
}

} // namespace qf::gateway::detail
