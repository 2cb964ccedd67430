#include "server.hpp"

#include <libwebsockets.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "admin_auth.hpp"
#include "audit_log.hpp"
#include "control_client.hpp"
#include "json_out.hpp"
#include "qf/ipc/state_reader.hpp"
#include "qf/ipc/tsc_clock.hpp"
#include "render_json.hpp"
#include "router.hpp"

namespace qf::gateway {
namespace {

constexpr std::uint64_t kSnapshotMaxAgeNs = 2'000'000;
constexpr std::size_t kBodyChunk = 64 * 1024;
constexpr std::size_t kMaxWsMessage = 16 * 1024; // client -> gateway (subscribe requests)
constexpr std::size_t kMaxPostBody = 64 * 1024;
constexpr std::size_t kPushEvents = 20;
constexpr std::size_t kMaxReplies = 16; // a client flooding requests loses the oldest answers

enum Channel : std::uint32_t {
  kQuotes = 1U << 0U,
  kSignals = 1U << 1U,
  kHealth = 1U << 2U,
  kLatency = 1U << 3U,
  kFeeds = 1U << 4U,
  kEvents = 1U << 5U,
};
constexpr std::pair<const char*, std::uint32_t> kChannels[] = {{"quotes", kQuotes},   {"signals", kSignals},
                                                               {"health", kHealth},   {"latency", kLatency},
                                                               {"feeds", kFeeds},     {"events", kEvents}};

volatile std::sig_atomic_t g_stop = 0;
lws_context* g_context = nullptr;

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
};

struct PendingControl {
  lws* wsi;
  std::uint64_t serial;
  std::uint64_t id;
  std::uint64_t deadline_mono_ns;
  std::string action;
  std::string instrument; // key, or empty
  std::string remote;
};

struct WsClient {
  std::uint32_t channels = 0;
  bool all_instruments = true;
  std::vector<std::string> instruments;
  std::string rx;
  std::deque<std::string> replies; // answers to the client's requests, at most kMaxReplies
  std::string out;              // LWS_PRE + the message being written
  std::uint64_t last_sent_mono_ns = 0;
  std::uint64_t last_version = 0;      // frame version last sent
  std::uint64_t requested_version = 0; // frame version when WRITEABLE was requested
  bool write_requested = false;
  std::uint64_t owed_bytes = 0; // bytes of frames skipped while the socket stayed full
  std::size_t last_message_bytes = 0;
  bool cut = false;
};

// The newest state, pre-rendered per channel and per instrument; clients filter.
struct Frame {
  std::uint64_t version = 0;
  std::string head; // "engine":..,"mode":..,"generation":..
  std::vector<std::pair<std::string, std::string>> quotes, signals;
  std::string health, latency, feeds, events;
};

struct TickTimer {
  lws_sorted_usec_list_t sul; // first member: the callback gets its address
  class Server* server;
};

class Server {
public:
  explicit Server(const ServerOptions& o)
      : opt_(o), reader_(o.instance, static_cast<std::uint64_t>(o.gateway.stall_after_ms) * std::uint64_t{1'000'000}),
        control_(o.instance), auth_(std::getenv("QF_ADMIN_TOKEN"), o.gateway.admin_token_file),
        audit_(o.gateway.audit_log) {
    stats_.start_unix_ns = ipc::realtime_ns();
    period_ns_ = static_cast<std::uint64_t>(1e9 / o.gateway.push_hz);
    tick_us_ = std::clamp<std::uint64_t>(period_ns_ / 4 / 1000, 2'000, 10'000);
    web_root_ = o.gateway.web_root;
    timer_.server = this;
  }

  int run();
  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len);

private:
  int on_http(lws* wsi, const char* uri);
  int on_http_writeable(lws* wsi);
  void dispatch(lws* wsi, HttpTxn& t);
  void start_control(lws* wsi, HttpTxn& t, const ControlTarget& target, const Response* invalid = nullptr);
  void finish(lws* wsi, HttpTxn& t, Response r, bool now);
  int write_headers(lws* wsi, HttpTxn& t);
  int on_ws_receive(lws* wsi, const void* in, std::size_t len);
  int on_ws_writeable(lws* wsi);
  void handle_ws_message(WsClient& c, const std::string& text);
  void tick();
  void build_frame();
  void build_message(const WsClient& c, std::uint64_t now_mono, std::string& out) const;
  const ipc::StateSnapshot& snapshot(bool force);
  void resolve_controls();

  ServerOptions opt_;
  std::string web_root_;
  ipc::StateReader reader_;
  ipc::StateSnapshot snap_;
  std::uint64_t snap_mono_ns_ = 0;
  std::uint64_t snap_unix_ns_ = 0;
  bool snap_valid_ = false;
  std::unordered_map<std::string, Response> cache_; // GET bodies of the current snapshot
  GatewayStats stats_;
  ControlClient control_;
  AdminAuth auth_;
  AuditLog audit_;
  std::unordered_map<lws*, HttpTxn> http_;
  std::unordered_map<lws*, WsClient> ws_;
  std::vector<PendingControl> pending_;
  std::uint64_t serial_ = 0;
  Frame frame_;
  std::uint64_t period_ns_;
  std::uint64_t tick_us_;
  TickTimer timer_{};
  lws_context* context_ = nullptr;
};

const ipc::StateSnapshot& Server::snapshot(bool force) {
  const std::uint64_t now = ipc::monotonic_ns();
  if (force || !snap_valid_ || now - snap_mono_ns_ >= kSnapshotMaxAgeNs) {
    reader_.read(snap_);
    snap_mono_ns_ = now;
    snap_unix_ns_ = ipc::realtime_ns();
    snap_valid_ = true;
    cache_.clear();
    stats_.ws_clients = ws_.size();
  }
  return snap_;
}

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto p : parts) {
    out += p;
  }
  return out;
}

std::string peer_address(lws* wsi) {
  char ip[64] = {};
  lws_get_peer_simple(wsi, ip, sizeof ip);
  return ip;
}

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
  struct MethodToken {
    lws_token_indexes token;
    const char* name;
  };
  static const MethodToken kMethods[] = {{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
                                         {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_DELETE_URI, "DELETE"},
                                         {WSI_TOKEN_PATCH_URI, "PATCH"},   {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
                                         {WSI_TOKEN_HEAD_URI, "HEAD"}};
  t.request.method = "UNKNOWN";
  for (const auto& m : kMethods) {
    if (lws_hdr_total_length(wsi, m.token) > 0) {
      t.request.method = m.name;
      break;
    }
  }
  t.request.path = uri != nullptr ? uri : "/";
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
  t.remote = peer_address(wsi);
  if (t.request.method != "GET" && t.request.method != "HEAD" &&
      lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
    char cl[32] = {};
    lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (std::strtoull(cl, nullptr, 10) > 0) {
      t.deferred_post = true; // let lws read the body first; answer at completion
      return 0;
    }
  }
  dispatch(wsi, t);
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
    if (r.method == "POST" && is_risk_control_path(r.path)) {
      ControlTarget target;
      const auto invalid = parse_risk_control(r.path, t.body, target);
      start_control(wsi, t, target, invalid ? &*invalid : nullptr);
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

void Server::start_control(lws* wsi, HttpTxn& t, const ControlTarget& target, const Response* invalid) {
  const std::string action = target.name();
  const auto refuse = [&](int status, const char* result, const std::string& why) {
    ++stats_.control_results[result];
    audit_.write(t.remote, action, result, status, 0, why);
    finish(wsi, t, json_error(status, why), true);
  };
  std::optional<std::string> token;
  const int tl = lws_hdr_custom_length(wsi, "x-admin-token:", 14);
  if (tl > 0) {
    std::string v(static_cast<std::size_t>(tl) + 1, '\0');
    if (lws_hdr_custom_copy(wsi, v.data(), tl + 1, "x-admin-token:", 14) > 0) {
      v.resize(static_cast<std::size_t>(tl));
      token = std::move(v);
    }
  }
  switch (auth_.check(token)) {
  case AdminAuth::Verdict::not_configured:
    refuse(403, "forbidden",
           "controls are disabled: no admin token configured (set QF_ADMIN_TOKEN or [gateway] admin_token_file)");
    return;
  case AdminAuth::Verdict::missing: refuse(401, "unauthorized", "missing X-Admin-Token header"); return;
  case AdminAuth::Verdict::wrong: refuse(401, "unauthorized", "wrong admin token"); return;
  case AdminAuth::Verdict::ok: break;
  }
  if (invalid != nullptr) { // a bad body, answered only to an authorised caller
    ++stats_.control_results["bad_request"];
    std::string why = "bad request body";
    try {
      why = nlohmann::json::parse(invalid->body).at("error").get<std::string>();
    } catch (const std::exception&) {
    }
    audit_.write(t.remote, action, "bad_request", invalid->status, 0, why);
    finish(wsi, t, *invalid, true);
    return;
  }
  const ipc::StateSnapshot& s = snapshot(true);
  if (s.status != ipc::EngineStatus::running) {
    std::string why = "engine not running: ";
    why += status_text(s.status);
    refuse(503, "unavailable", why);
    return;
  }
  std::uint16_t instrument = ipc::kNoInstrument;
  std::string key;
  if (target.action == ipc::ControlAction::resync) {
    const int idx = find_instrument(s, target.venue, target.symbol);
    if (idx < 0) {
      std::string why = "unknown instrument ";
      why += target.venue;
      why += ':';
      why += target.symbol;
      refuse(404, "unknown_instrument", why);
      return;
    }
    instrument = static_cast<std::uint16_t>(idx);
    key = instrument_key(s.instruments[static_cast<std::size_t>(idx)].info);
  }
  std::string why;
  std::string actor = "gateway ";
  actor += t.remote;
  const auto id = control_.push(target.action, instrument, actor, why);
  if (!id) {
    refuse(503, "unavailable", why);
    return;
  }
  pending_.push_back(PendingControl{wsi, t.serial, *id,
                                    ipc::monotonic_ns() + static_cast<std::uint64_t>(opt_.control_timeout_ms) * std::uint64_t{1'000'000},
                                    action, key, t.remote});
}

void Server::resolve_controls() {
  if (pending_.empty()) {
    return;
  }
  const std::uint64_t now = ipc::monotonic_ns();
  for (auto it = pending_.begin(); it != pending_.end();) {
    const auto ack = find_ack(reader_.view(), it->id);
    if (!ack && now < it->deadline_mono_ns) {
      ++it;
      continue;
    }
    Response resp;
    const char* result = "timeout";
    std::string detail;
    if (ack) {
      result = ipc::to_string(ack->result);
      detail.assign(ack->text.data(), strnlen(ack->text.data(), ack->text.size()));
      switch (ack->result) {
      case ipc::ControlResult::done: resp.status = 200; break;
      case ipc::ControlResult::unknown_instrument: resp.status = 404; break;
      case ipc::ControlResult::unsupported: resp.status = 501; break;
      case ipc::ControlResult::rejected: resp.status = 409; break;
      }
      JsonOut o;
      o.begin_object().key("id").u64(it->id).key("action").str(it->action);
      o.key("instrument");
      it->instrument.empty() ? o.null() : o.str(it->instrument);
      o.key("result").str(result).key("text").str(detail);
      o.time("acknowledged", ack->unix_ns);
      o.key("status").i64(resp.status).end_object();
      resp.body = o.take();
    } else {
      detail = "no acknowledgement from the engine within ";
      detail += std::to_string(opt_.control_timeout_ms);
      detail += " ms (control timeout)";
      resp = json_error(504, detail);
    }
    ++stats_.control_results[result];
    audit_.write(it->remote, it->action, result, resp.status, it->id, detail);
    const auto h = http_.find(it->wsi);
    if (h != http_.end() && h->second.serial == it->serial) {
      finish(it->wsi, h->second, std::move(resp), false);
    }
    it = pending_.erase(it);
  }
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
  return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

void Server::handle_ws_message(WsClient& c, const std::string& text) {
  const auto reply = [&](std::string r) {
    if (c.replies.size() >= kMaxReplies) {
      c.replies.pop_front();
    }
    c.replies.push_back(std::move(r));
  };
  const auto error = [&](const std::string& why) {
    JsonOut o;
    o.begin_object().key("type").str("error").key("error").str(why).end_object();
    reply(o.take());
  };
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("op") || !j["op"].is_string()) {
    error("expected a JSON object with \"op\": subscribe | unsubscribe | ping");
    return;
  }
  const std::string op = j["op"].get<std::string>();
  if (op == "ping") {
    reply("{\"type\":\"pong\"}");
    return;
  }
  if (op != "subscribe" && op != "unsubscribe") {
    error(cat({"unknown op '", op, "' (subscribe | unsubscribe | ping)"}));
    return;
  }
  std::uint32_t mask = 0;
  if (j.contains("channels")) {
    if (!j["channels"].is_array()) {
      error("\"channels\" must be an array of strings");
      return;
    }
    for (const auto& ch : j["channels"]) {
      if (!ch.is_string()) {
        error("\"channels\" must be an array of strings");
        return;
      }
      const std::string name = ch.get<std::string>();
      std::uint32_t bit = 0;
      for (const auto& [n, b] : kChannels) {
        if (name == n || name == "*") {
          bit |= b;
        }
      }
      if (bit == 0) {
        error(cat({"unknown channel '", name, "' (quotes, signals, health, latency, feeds, events)"}));
        return;
      }
      mask |= bit;
    }
  } else {
    mask = kQuotes | kSignals | kHealth | kLatency | kFeeds | kEvents;
  }
  bool all = false;
  std::vector<std::string> instruments;
  if (j.contains("instruments")) {
    if (!j["instruments"].is_array()) {
      error("\"instruments\" must be an array of \"venue:SYMBOL\" strings or \"*\"");
      return;
    }
    for (const auto& in : j["instruments"]) {
      if (!in.is_string()) {
        error("\"instruments\" must be an array of \"venue:SYMBOL\" strings or \"*\"");
        return;
      }
      std::string k = in.get<std::string>();
      if (k == "*") {
        all = true;
      } else if (k.find(':') == std::string::npos || k.size() > 64) {
        error(cat({"invalid instrument '", k, "' (expected venue:SYMBOL or *)"}));
        return;
      } else {
        instruments.push_back(std::move(k));
      }
    }
  } else {
    all = true;
  }
  if (op == "subscribe") {
    c.channels |= mask;
    if (all) {
      c.all_instruments = true;
      c.instruments.clear();
    } else if (!c.all_instruments || c.channels == mask) {
      c.all_instruments = false;
      for (auto& k : instruments) {
        if (std::find(c.instruments.begin(), c.instruments.end(), k) == c.instruments.end() && c.instruments.size() < 64) {
          c.instruments.push_back(std::move(k));
        }
      }
    }
  } else {
    if (j.contains("instruments") && !all) {
      for (const auto& k : instruments) {
        c.instruments.erase(std::remove(c.instruments.begin(), c.instruments.end(), k), c.instruments.end());
      }
    } else {
      c.channels &= ~mask;
    }
  }
  c.last_version = 0; // send the full current state on the next push
  JsonOut o;
  o.begin_object().key("type").str(op == "subscribe" ? "subscribed" : "unsubscribed");
  o.key("channels").begin_array();
  for (const auto& [n, b] : kChannels) {
    if ((c.channels & b) != 0) {
      o.str(n);
    }
  }
  o.end_array().key("instruments").begin_array();
  if (c.all_instruments) {
    o.str("*");
  } else {
    for (const auto& k : c.instruments) {
      o.str(k);
    }
  }
  o.end_array();
  o.key("push_hz").num(opt_.gateway.push_hz).end_object();
  reply(o.take());
}

int Server::on_ws_receive(lws* wsi, const void* in, std::size_t len) {
  auto it = ws_.find(wsi);
  if (it == ws_.end()) {
    return -1;
  }
  WsClient& c = it->second;
  if (c.rx.size() + len > kMaxWsMessage) {
    static const char kWhy[] = "message too large";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                     const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(kWhy)), sizeof kWhy - 1);
    return -1;
  }
  c.rx.append(static_cast<const char*>(in), len);
  if (!lws_is_final_fragment(wsi)) {
    return 0;
  }
  handle_ws_message(c, c.rx);
  c.rx.clear();
  if (!c.replies.empty()) {
    c.write_requested = true;
    lws_callback_on_writable(wsi);
  }
  return 0;
}

void Server::build_message(const WsClient& c, std::uint64_t now_mono, std::string& out) const {
  out.assign(LWS_PRE, '\0');
  out += "{\"type\":\"update\",\"seq\":";
  out += std::to_string(frame_.version);
  out += ",\"sent_mono_ns\":";
  out += std::to_string(now_mono);
  out += ",\"sent_unix_ns\":";
  out += std::to_string(ipc::realtime_ns());
  out += ',';
  out += frame_.head;
  const auto list = [&](const char* name, const std::vector<std::pair<std::string, std::string>>& items) {
    out += ",\"";
    out += name;
    out += "\":[";
    bool first = true;
    for (const auto& [key, json] : items) {
      if (!c.all_instruments && std::find(c.instruments.begin(), c.instruments.end(), key) == c.instruments.end()) {
        continue;
      }
      if (!first) {
        out += ',';
      }
      first = false;
      out += json;
    }
    out += ']';
  };
  const auto part = [&](const char* name, const std::string& json) {
    out += ",\"";
    out += name;
    out += "\":";
    out += json;
  };
  if ((c.channels & kQuotes) != 0) {
    list("quotes", frame_.quotes);
  }
  if ((c.channels & kSignals) != 0) {
    list("signals", frame_.signals);
  }
  if ((c.channels & kHealth) != 0) {
    part("health", frame_.health);
  }
  if ((c.channels & kLatency) != 0) {
    part("latency", frame_.latency);
  }
  if ((c.channels & kFeeds) != 0) {
    part("feeds", frame_.feeds);
  }
  if ((c.channels & kEvents) != 0) {
    part("events", frame_.events);
  }
  out += '}';
}

int Server::on_ws_writeable(lws* wsi) {
  auto it = ws_.find(wsi);
  if (it == ws_.end()) {
    return -1;
  }
  WsClient& c = it->second;
  c.write_requested = false;
  if (c.cut) {
    return -1;
  }
  if (!c.replies.empty()) {
    c.out.assign(LWS_PRE, '\0');
    c.out += c.replies.front();
    c.replies.pop_front();
    const std::size_t n = c.out.size() - LWS_PRE;
    if (lws_write(wsi, reinterpret_cast<unsigned char*>(c.out.data()) + LWS_PRE, n, LWS_WRITE_TEXT) < 0) {
      return -1;
    }
    ++stats_.ws_messages_sent;
    stats_.ws_bytes_sent += n;
    if (!c.replies.empty()) {
      c.write_requested = true;
      lws_callback_on_writable(wsi);
    }
    return 0; // the next tick asks again for the update
  }
  const std::uint64_t now = ipc::monotonic_ns();
  // The rate limit is enforced here, where the push happens: never two pushes closer than
  // 1/push_hz, whatever asked for this callback.
  if (c.channels == 0 || frame_.version == 0 || frame_.version == c.last_version ||
      (c.last_sent_mono_ns != 0 && now - c.last_sent_mono_ns < period_ns_)) {
    return 0;
  }
  build_message(c, now, c.out);
  const std::size_t n = c.out.size() - LWS_PRE;
  if (lws_write(wsi, reinterpret_cast<unsigned char*>(c.out.data()) + LWS_PRE, n, LWS_WRITE_TEXT) < 0) {
    return -1;
  }
  c.last_sent_mono_ns = now;
  c.last_version = frame_.version;
  c.owed_bytes = 0;
  c.last_message_bytes = n;
  ++stats_.ws_messages_sent;
  stats_.ws_bytes_sent += n;
  return 0;
}

void Server::build_frame() {
  const ipc::StateSnapshot& s = snap_;
  const std::uint64_t now = snap_unix_ns_;
  Frame& f = frame_;
  ++f.version;
  {
    JsonOut o;
    o.begin_object();
    const bool attached = s.status != ipc::EngineStatus::awaiting && s.status != ipc::EngineStatus::version_mismatch;
    o.key("engine").str(status_text(s.status));
    o.key("mode");
    attached ? o.str(ipc::to_string(s.mode)) : o.null();
    o.key("generation").u64(s.generation);
    o.end_object();
    f.head = o.take();
    f.head = f.head.substr(1, f.head.size() - 2); // members only
  }
  f.quotes.resize(s.instruments.size());
  f.signals.resize(s.instruments.size());
  for (std::size_t i = 0; i < s.instruments.size(); ++i) {
    const auto& inst = s.instruments[i];
    f.quotes[i].first = instrument_key(inst.info);
    f.signals[i].first = f.quotes[i].first;
    JsonOut q;
    render_quote(q, inst, now);
    f.quotes[i].second = q.take();
    JsonOut g;
    render_signal(g, inst);
    f.signals[i].second = g.take();
  }
  JsonOut h;
  render_health(h, s, stats_, now);
  f.health = h.take();
  JsonOut l;
  render_latency(l, s, LatencyDetail::coarse);
  f.latency = l.take();
  JsonOut fe;
  render_feeds(fe, s);
  f.feeds = fe.take();
  JsonOut ev;
  render_events(ev, s, kPushEvents);
  f.events = ev.take();
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
  if (any_subscriber) {
    build_frame();
    const std::uint64_t now = ipc::monotonic_ns();
    const auto limit = static_cast<std::uint64_t>(opt_.gateway.client_buffer_bytes);
    for (auto& [wsi, c] : ws_) {
      if (c.channels == 0 || c.cut) {
        continue;
      }
      if (c.write_requested) {
        // Still waiting for the socket to take the last push: this frame replaces the one it
        // would have had. Count what it skips; past the bound it is cut off.
        if (c.requested_version != frame_.version) {
          c.requested_version = frame_.version;
          ++stats_.ws_updates_skipped;
          c.owed_bytes += std::max<std::size_t>(c.last_message_bytes, 1);
          if (c.owed_bytes > limit) {
            c.cut = true;
            ++stats_.ws_slow_disconnects;
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
          }
        }
        continue;
      }
      if (c.last_sent_mono_ns == 0 || now - c.last_sent_mono_ns >= period_ns_) {
        c.write_requested = true;
        c.requested_version = frame_.version;
        lws_callback_on_writable(wsi);
      }
    }
  }
  lws_sul_schedule(context_, 0, &timer_.sul, [](lws_sorted_usec_list_t* sul) {
    reinterpret_cast<TickTimer*>(sul)->server->tick();
  }, static_cast<lws_usec_t>(tick_us_));
}

int Server::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* self = static_cast<Server*>(lws_context_user(lws_get_context(wsi)));
  switch (reason) {
  case LWS_CALLBACK_HTTP: return self->on_http(wsi, static_cast<const char*>(in));
  case LWS_CALLBACK_HTTP_BODY: {
    auto it = self->http_.find(wsi);
    if (it != self->http_.end()) {
      it->second.body_seen += len;
      if (it->second.body_seen > kMaxPostBody) {
        return -1;
      }
      it->second.body.append(static_cast<const char*>(in), len);
    }
    return 0;
  }
  case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
    auto it = self->http_.find(wsi);
    if (it != self->http_.end() && it->second.deferred_post) {
      it->second.deferred_post = false;
      self->dispatch(wsi, it->second);
    }
    return 0;
  }
  case LWS_CALLBACK_HTTP_WRITEABLE: return self->on_http_writeable(wsi);
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL: self->http_.erase(wsi); return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
    char uri[64] = {};
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || std::strcmp(uri, "/ws") != 0) {
      return 1; // WebSocket only on /ws
    }
    if (self->ws_.size() >= static_cast<std::size_t>(self->opt_.gateway.max_clients)) {
      ++self->stats_.ws_rejected;
      return 1;
    }
    return 0;
  }
  case LWS_CALLBACK_ESTABLISHED: {
    self->http_.erase(wsi);
    self->ws_[wsi] = WsClient{};
    ++self->stats_.ws_connections;
    self->stats_.ws_clients = self->ws_.size();
    // Bound the kernel's share of a slow client too (the kernel doubles the value).
    const int fd = lws_get_socket_fd(wsi);
    const int sndbuf = self->opt_.gateway.client_buffer_bytes / 2;
    if (fd >= 0) {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    return 0;
  }
  case LWS_CALLBACK_RECEIVE: return self->on_ws_receive(wsi, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE: return self->on_ws_writeable(wsi);
  case LWS_CALLBACK_CLOSED:
    self->ws_.erase(wsi);
    self->stats_.ws_clients = self->ws_.size();
    return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    self->http_.erase(wsi);
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
  lws_set_log_level(LLL_ERR | LLL_WARN, nullptr);
  lws_context_creation_info info{};
  info.port = opt_.gateway.port;
  info.iface = opt_.gateway.host.c_str();
  info.protocols = kProtocols;
  info.user = this;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  info.timeout_secs = 10;
  info.keepalive_timeout = 30;
  info.max_http_header_data = 4096;
  context_ = lws_create_context(&info);
  if (context_ == nullptr) {
    std::fprintf(stderr, "qf-gateway: cannot listen on %s:%d\n", opt_.gateway.host.c_str(), opt_.gateway.port);
    return 1;
  }
  g_context = context_;
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
  g_context = nullptr;
  lws_context_destroy(context_);
  context_ = nullptr;
  return 0;
}

void on_signal(int) {
  g_stop = 1;
  if (g_context != nullptr) {
    lws_cancel_service(g_context);
  }
}

} // namespace

int run_server(const ServerOptions& options) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  auto server = std::make_unique<Server>(options);
  return server->run();
}

} // namespace qf::gateway
