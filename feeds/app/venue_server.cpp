#include "venue_server.hpp"

#include <libwebsockets.h>

#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace qf::feeds::venue {
namespace {

constexpr std::size_t kMaxSnapshotStamps = 10000;
constexpr std::size_t kHttpChunk = 16 * 1024;
constexpr std::size_t kPumpHighWater = std::size_t{4} << 20U; // unpaced: wait for the slowest client
constexpr int kFramesPerWriteable = 64;

[[nodiscard]] std::uint64_t mono_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

[[nodiscard]] std::uint64_t unix_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

[[nodiscard]] lws_usec_t to_us(double seconds) { return static_cast<lws_usec_t>(seconds * 1e6); }

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  }
  out += '"';
}

[[nodiscard]] bool parse_u64(const std::string* text, std::uint64_t& out) {
  if (text == nullptr) {
    return false;
  }
  const auto r = std::from_chars(text->data(), text->data() + text->size(), out);
  return r.ec == std::errc{} && r.ptr == text->data() + text->size();
}

[[nodiscard]] bool parse_double(const std::string* text, double& out) {
  if (text == nullptr) {
    return false;
  }
  const auto r = std::from_chars(text->data(), text->data() + text->size(), out);
  return r.ec == std::errc{} && r.ptr == text->data() + text->size() && out >= 0;
}

// lws splits the query into url-decoded "name=value" fragments.
Query read_query(lws* wsi) {
  Query q;
  std::vector<char> buf(8192);
  for (int i = 0;; ++i) {
    const int n = lws_hdr_copy_fragment(wsi, buf.data(), static_cast<int>(buf.size()), WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) {
      break;
    }
    const std::string_view frag(buf.data(), static_cast<std::size_t>(n));
    const std::size_t eq = frag.find('=');
    if (eq == std::string_view::npos) {
      q.emplace_back(std::string(frag), std::string{});
    } else {
      q.emplace_back(std::string(frag.substr(0, eq)), std::string(frag.substr(eq + 1)));
    }
  }
  return q;
}

int lws_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, std::size_t len) {
  auto* server = static_cast<Server*>(lws_context_user(lws_get_context(wsi)));
  if (server == nullptr) {
    return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  }
  return server->on_callback(wsi, static_cast<int>(reason), in, len);
}

const lws_protocols kProtocols[] = {
    {"qf-venue", lws_callback, 0, 64 * 1024, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

} // namespace

// An lws timer bound to a member function; the sul is the first member so the callback can
// recover the Timer from it (standard layout).
struct Server::Timer {
  lws_sorted_usec_list_t sul{};
  Server* server = nullptr;
  void (*fire)(Timer&) = nullptr;
  void* owner = nullptr;

  static void trampoline(lws_sorted_usec_list_t* sul) {
    Timer& t = *reinterpret_cast<Timer*>(sul);
    t.fire(t);
  }
  void schedule(lws_context* ctx, lws_usec_t us) { lws_sul_schedule(ctx, 0, &sul, &Timer::trampoline, us); }
  void cancel() { lws_sul_cancel(&sul); }
};

struct Server::Conn {
  Session session;
  lws* wsi = nullptr;
  std::deque<std::string> out; // each frame with LWS_PRE bytes of headroom
  std::size_t out_bytes = 0;
  std::string rx;
  bool rx_discard = false;
  bool ping_due = false;
  std::uint64_t ping_seq = 0;
  std::string ping_payload;
  std::uint64_t unanswered_since_ns = 0;
  bool closing = false;
  int close_code = 1000;
  std::string close_reason;
  std::uint64_t opened_ns = 0;
  Timer drop_timer;
  Timer subscribe_timer;
};

struct Server::HttpRequest {
  std::string path;
  Query query;
  bool snapshot = false;
  bool ready = false; // false while a snapshot delay runs
  bool headers_sent = false;
  HttpResponse response;
  std::size_t sent = 0;
  Timer delay_timer;
};

Server::Server(Venue& venue, const ServerOptions& options) : venue_(venue), options_(options) {
  start_ns_ = mono_ns();
  snapshot_refusals_left_ = options.faults.snapshot_429;
  snapshot_delay_ms_ = options.faults.snapshot_delay_ms;
  lws_set_log_level(LLL_ERR | LLL_WARN, nullptr);

  lws_context_creation_info info{};
  info.port = options.port;
  info.iface = "127.0.0.1";
  info.protocols = kProtocols;
  info.user = this;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
  if (options.tls) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = options.cert_path.c_str();
    info.ssl_private_key_filepath = options.key_path.c_str();
  }
  context_ = lws_create_context(&info);
  if (context_ == nullptr) {
    throw std::runtime_error("lws_create_context failed (port in use? bad certificate?)");
  }
  lws_vhost* vhost = lws_get_vhost_by_name(context_, "default");
  port_ = vhost != nullptr ? lws_get_vhost_listen_port(vhost) : -1;
  if (port_ <= 0) {
    lws_context_destroy(context_);
    throw std::runtime_error("no listening port");
  }

  const auto make_timer = [this](void (*fire)(Timer&)) {
    auto t = std::make_unique<Timer>();
    t->server = this;
    t->fire = fire;
    return t;
  };
  pump_timer_ = make_timer([](Timer& t) { t.server->pump(); });
  ping_timer_ = make_timer([](Timer& t) { t.server->ping_tick(); });
  stall_timer_ = make_timer([](Timer& t) { t.server->start_stall(t.server->options_.faults.stall_for_s); });
  stall_end_timer_ = make_timer([](Timer& t) { t.server->end_stall(); });
  shutdown_timer_ = make_timer([](Timer& t) { t.server->server_shutdown(); });

  schedule_pump(0);
  if (venue_.ping_interval().count() > 0) {
    ping_timer_->schedule(context_, static_cast<lws_usec_t>(venue_.ping_interval().count()) * 1000);
  }
  if (options.faults.stall_after_s > 0 && options.faults.stall_for_s > 0) {
    stall_timer_->schedule(context_, to_us(options.faults.stall_after_s));
  }
  if (options.faults.shutdown_after_s > 0) {
    shutdown_timer_->schedule(context_, to_us(options.faults.shutdown_after_s));
  }
}

Server::~Server() {
  for (Timer* t : {pump_timer_.get(), ping_timer_.get(), stall_timer_.get(), stall_end_timer_.get(), shutdown_timer_.get()}) {
    t->cancel();
  }
  lws_context_destroy(context_); // closes every connection through on_closed
}

void Server::run(const volatile std::sig_atomic_t& stop) {
  while (stop == 0) {
    if (const int n = lws_service(context_, 0); n < 0) {
      std::fprintf(stderr, "qf-venue: lws_service returned %d (errno %d)\n", n, errno);
      break;
    }
  }
}

void Server::wake() noexcept { lws_cancel_service(context_); }

// ---------------------------------------------------------------------------------------------
// lws dispatch

int Server::on_callback(lws* wsi, int reason, void* in, std::size_t len) {
  switch (static_cast<lws_callback_reasons>(reason)) {
  case LWS_CALLBACK_ESTABLISHED:
    on_established(wsi);
    return 0;
  case LWS_CALLBACK_RECEIVE: {
    const auto it = conns_.find(wsi);
    return it == conns_.end() ? -1 : on_receive(*it->second, in, len);
  }
  case LWS_CALLBACK_RECEIVE_PONG: {
    ++pongs_received_;
    const auto it = conns_.find(wsi);
    if (it != conns_.end() && std::string_view(static_cast<const char*>(in), len) == it->second->ping_payload) {
      it->second->unanswered_since_ns = 0; // an unsolicited pong (other payload) does not count
    }
    return 0;
  }
  case LWS_CALLBACK_SERVER_WRITEABLE: {
    const auto it = conns_.find(wsi);
    return it == conns_.end() ? 0 : on_writeable(*it->second);
  }
  case LWS_CALLBACK_CLOSED:
    on_closed(wsi);
    return 0;
  case LWS_CALLBACK_HTTP:
    on_http(wsi, static_cast<const char*>(in));
    return 0;
  case LWS_CALLBACK_HTTP_BODY:
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return 0; // /venue/fault reads its query; a body is ignored
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return on_http_writeable(wsi);
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    if (const auto it = http_.find(wsi); it != http_.end()) {
      it->second->delay_timer.cancel();
      http_.erase(it);
    }
    return 0;
  default:
    return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), nullptr, in, len);
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket sessions

void Server::on_established(lws* wsi) {
  auto owned = std::make_unique<Conn>();
  Conn& c = *owned;
  c.wsi = wsi;
  c.session.id = next_session_id_++;
  c.opened_ns = mono_ns();
  c.drop_timer.server = this;
  c.drop_timer.owner = &c;
  c.subscribe_timer.server = this;
  c.subscribe_timer.owner = &c;
  conns_.emplace(wsi, std::move(owned));
  ++connections_accepted_;

  char path[2048];
  const int n = lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
  const std::string_view p = n > 0 ? std::string_view(path, static_cast<std::size_t>(n)) : std::string_view("/");
  std::string reason;
  if (!venue_.on_open(*this, c.session, p, read_query(wsi), reason)) {
    count_client_error("invalid_connect");
    close(c.session, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
    return;
  }
  if (!c.session.streams.empty()) {
    subscriptions_changed(c.session);
  }
  if (options_.faults.drop_after_s > 0) {
    c.drop_timer.fire = [](Timer& t) {
      Conn& conn = *static_cast<Conn*>(t.owner);
      ++t.server->faults_["drop"];
      t.server->drop_connection(conn);
    };
    c.drop_timer.schedule(context_, to_us(options_.faults.drop_after_s));
  }
  if (venue_.subscribe_deadline().count() > 0) {
    c.subscribe_timer.fire = [](Timer& t) {
      Conn& conn = *static_cast<Conn*>(t.owner);
      if (!conn.session.subscribed_once) {
        t.server->count_client_error("subscribe_timeout");
        t.server->close(conn.session, LWS_CLOSE_STATUS_POLICY_VIOLATION, "No subscribe message received");
      }
    };
    c.subscribe_timer.schedule(context_, static_cast<lws_usec_t>(venue_.subscribe_deadline().count()) * 1000);
  }
}

int Server::on_receive(Conn& c, const void* in, std::size_t len) {
  if (lws_frame_is_binary(c.wsi) != 0) {
    if (lws_is_first_fragment(c.wsi) != 0) {
      count_client_error("binary_frame");
      close(c.session, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "Binary frames are not supported");
    }
    return 0;
  }
  if (!c.rx_discard) {
    if (c.rx.size() + len > options_.max_frame_bytes) {
      c.rx_discard = true;
      c.rx.clear();
      count_client_error("oversized");
      close(c.session, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "Message too big");
    } else {
      c.rx.append(static_cast<const char*>(in), len);
    }
  }
  if (lws_is_final_fragment(c.wsi) == 0 || lws_remaining_packet_payload(c.wsi) != 0) {
    return 0;
  }
  if (!c.rx_discard && !c.closing) {
    const std::string text = std::move(c.rx);
    c.rx.clear();
    venue_.on_text(*this, c.session, text);
  }
  c.rx.clear();
  return 0;
}

int Server::on_writeable(Conn& c) {
  if (stalled_) {
    return 0; // end_stall asks for writeable again
  }
  if (c.ping_due) {
    c.ping_due = false;
    c.ping_payload = std::to_string(++c.ping_seq);
    std::string frame(LWS_PRE, '\0');
    frame += c.ping_payload;
    if (lws_write(c.wsi, reinterpret_cast<unsigned char*>(frame.data()) + LWS_PRE, c.ping_payload.size(), LWS_WRITE_PING) < 0) {
      return -1;
    }
    ++pings_sent_;
    if (c.unanswered_since_ns == 0) {
      c.unanswered_since_ns = mono_ns();
    }
    lws_callback_on_writable(c.wsi);
    return 0;
  }
  for (int i = 0; i < kFramesPerWriteable && !c.out.empty(); ++i) {
    std::string& frame = c.out.front();
    const std::size_t n = frame.size() - LWS_PRE;
    if (lws_write(c.wsi, reinterpret_cast<unsigned char*>(frame.data()) + LWS_PRE, n, LWS_WRITE_TEXT) < static_cast<int>(n)) {
      return -1;
    }
    ++messages_sent_;
    bytes_sent_ += n;
    c.out_bytes -= frame.size();
    c.out.pop_front();
    if (lws_send_pipe_choked(c.wsi) != 0) {
      break;
    }
  }
  if (!c.out.empty()) {
    lws_callback_on_writable(c.wsi);
    return 0;
  }
  if (c.closing) {
    lws_close_reason(c.wsi, static_cast<lws_close_status>(c.close_code),
                     reinterpret_cast<unsigned char*>(c.close_reason.data()), c.close_reason.size());
    return -1;
  }
  if (pump_blocked_ && max_queue_bytes() < kPumpHighWater / 2) {
    pump_blocked_ = false;
    schedule_pump(0);
  }
  return 0;
}

void Server::on_closed(lws* wsi) {
  const auto it = conns_.find(wsi);
  if (it == conns_.end()) {
    return;
  }
  it->second->drop_timer.cancel();
  it->second->subscribe_timer.cancel();
  conns_.erase(it);
  ++connections_closed_;
  if (pump_blocked_ && max_queue_bytes() < kPumpHighWater / 2) {
    pump_blocked_ = false;
    schedule_pump(0);
  }
}

void Server::enqueue(Conn& c, std::string_view text) {
  if (c.closing) {
    return;
  }
  std::string frame;
  frame.reserve(LWS_PRE + text.size());
  frame.append(LWS_PRE, '\0');
  frame.append(text);
  c.out_bytes += frame.size();
  c.out.push_back(std::move(frame));
  if (c.out_bytes > kSlowConsumerBytes) {
    ++slow_consumers_;
    drop_connection(c);
    return;
  }
  lws_callback_on_writable(c.wsi);
}

// An abrupt drop: the socket is shut down under lws, no close frame (a network failure).
void Server::drop_connection(Conn& c) {
  c.closing = true;
  c.out.clear();
  c.out_bytes = 0;
  ::shutdown(lws_get_socket_fd(c.wsi), SHUT_RDWR);
  lws_set_timeout(c.wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

void Server::send(Session& session, std::string text) {
  for (auto& [wsi, c] : conns_) {
    if (&c->session == &session) {
      enqueue(*c, text);
      return;
    }
  }
}

void Server::close(Session& session, int code, std::string_view reason) {
  for (auto& [wsi, c] : conns_) {
    if (&c->session == &session && !c->closing) {
      c->closing = true;
      c->close_code = code;
      c->close_reason.assign(reason.substr(0, 120)); // a close frame's payload is at most 125 bytes
      lws_callback_on_writable(wsi);
      return;
    }
  }
}

void Server::count_client_error(std::string_view kind) {
  const auto it = client_errors_.find(kind);
  if (it == client_errors_.end()) {
    client_errors_.emplace(std::string(kind), 1);
  } else {
    ++it->second;
  }
}

void Server::subscriptions_changed(Session& /*session*/) {
  ++subscription_requests_;
  if (pump_idle_) {
    pump_idle_ = false;
    schedule_pump(0);
  }
}

bool Server::has_sessions() const {
  return std::any_of(conns_.begin(), conns_.end(), [](const auto& kv) { return !kv.second->session.streams.empty(); });
}

bool Server::take_malformed() {
  ++messages_published_;
  if (pending_malformed_ > 0) {
    --pending_malformed_;
    return true;
  }
  return options_.faults.malformed_every > 0 && messages_published_ % options_.faults.malformed_every == 0;
}

void Server::publish_numbered(std::string_view key, std::string_view head, std::string_view tail, bool withheld) {
  const bool malformed = !withheld && take_malformed();
  bool delivered = false;
  std::string text;
  for (auto& [wsi, c] : conns_) {
    if (c->session.streams.find(key) == c->session.streams.end()) {
      continue;
    }
    const std::uint64_t number = c->session.next_number++;
    if (withheld) {
      continue;
    }
    if (malformed) {
      enqueue(*c, malformed_frame(key, false)); // unnumbered: not JSON or wrong types, no sequence_num taken
      delivered = true;
    }
    text.assign(head);
    append_uint(text, number);
    text.append(tail);
    enqueue(*c, text);
  }
  if (delivered) {
    ++faults_["malformed"];
  }
}

void Server::publish(std::string_view key, std::string_view combined, std::string_view raw) {
  const bool malformed = take_malformed();
  std::string built;
  bool delivered = false;
  for (auto& [wsi, c] : conns_) {
    if (c->session.streams.find(key) == c->session.streams.end()) {
      continue;
    }
    if (malformed) {
      enqueue(*c, malformed_frame(key, c->session.combined));
      delivered = true;
    }
    if (c->session.combined) {
      if (combined.empty()) {
        if (built.empty()) {
          built.reserve(raw.size() + key.size() + 24);
          built += "{\"stream\":\"";
          built += key;
          built += "\",\"data\":";
          built += raw;
          built += '}';
        }
        enqueue(*c, built);
      } else {
        enqueue(*c, combined);
      }
    } else {
      enqueue(*c, raw);
    }
  }
  if (delivered) {
    ++faults_["malformed"];
  }
}

// Alternates a truncated frame (not JSON at all) and valid JSON with the wrong types.
std::string Server::malformed_frame(std::string_view key, bool combined) {
  std::string raw;
  if (malformed_counter_++ % 2 == 0) {
    raw = R"({"e":"depthUpdate","E":17231612553)";
    if (combined) {
      std::string out = "{\"stream\":\"";
      out += key;
      out += "\",\"data\":";
      out += raw;
      return out;
    }
    return raw;
  }
  raw = R"({"e":12345,"E":"soon","s":false,"U":"x","u":[],"b":"bids","a":{}})";
  if (!combined) {
    return raw;
  }
  std::string out = "{\"stream\":\"";
  out += key;
  out += "\",\"data\":";
  out += raw;
  out += '}';
  return out;
}

bool Server::take_gap() {
  ++diffs_seen_;
  if (pending_gaps_ > 0) {
    --pending_gaps_;
  } else if (options_.faults.gap_every == 0 || diffs_seen_ % options_.faults.gap_every != 0) {
    return false;
  }
  ++faults_["gap"];
  return true;
}

bool Server::take_checksum_fault() {
  ++checksums_seen_;
  if (pending_checksums_ > 0) {
    --pending_checksums_;
  } else if (options_.faults.checksum_every == 0 || checksums_seen_ % options_.faults.checksum_every != 0) {
    return false;
  }
  ++faults_["checksum"];
  return true;
}

// ---------------------------------------------------------------------------------------------
// Timers: pump, pings, stall, shutdown

std::uint64_t Server::venue_now_ns() const { return mono_ns() - stalled_total_ns_; }

std::size_t Server::max_queue_bytes() const {
  std::size_t m = 0;
  for (const auto& [wsi, c] : conns_) {
    m = std::max(m, c->out_bytes);
  }
  return m;
}

void Server::schedule_pump(std::int64_t delay_ns) {
  pump_timer_->schedule(context_, static_cast<lws_usec_t>((delay_ns + 999) / 1000));
}

void Server::pump() {
  if (stalled_) {
    return; // end_stall resumes
  }
  if (unpaced_ && max_queue_bytes() > kPumpHighWater) {
    pump_blocked_ = true; // on_writeable resumes once the slowest client caught up
    return;
  }
  const std::int64_t next = venue_.pump(*this, venue_now_ns());
  unpaced_ = next == 0;
  if (next < 0) {
    pump_idle_ = true;
    return;
  }
  schedule_pump(next);
}

void Server::ping_tick() {
  ping_timer_->schedule(context_, static_cast<lws_usec_t>(venue_.ping_interval().count()) * 1000);
  if (stalled_) {
    return;
  }
  const std::uint64_t now = mono_ns();
  const auto timeout_ns = static_cast<std::uint64_t>(venue_.pong_timeout().count()) * 1'000'000U;
  for (auto& [wsi, c] : conns_) {
    if (c->closing) {
      continue;
    }
    if (c->unanswered_since_ns != 0 && now - c->unanswered_since_ns >= timeout_ns) {
      ++pong_timeouts_;
      close(c->session, LWS_CLOSE_STATUS_POLICY_VIOLATION, "Pong timeout");
      continue;
    }
    c->ping_due = true;
    lws_callback_on_writable(wsi);
  }
}

void Server::start_stall(double seconds) {
  ++faults_["stall"];
  if (!stalled_) {
    stalled_ = true;
    stall_started_ns_ = mono_ns();
  }
  stall_end_timer_->schedule(context_, to_us(seconds));
}

void Server::end_stall() {
  if (!stalled_) {
    return;
  }
  stalled_ = false;
  stalled_total_ns_ += mono_ns() - stall_started_ns_;
  for (auto& [wsi, c] : conns_) {
    lws_callback_on_writable(wsi);
  }
  schedule_pump(0);
}

void Server::server_shutdown() {
  ++faults_["shutdown"];
  for (auto& [wsi, c] : conns_) {
    if (c->closing) {
      continue;
    }
    const std::string msg = venue_.shutdown_message(c->session);
    if (!msg.empty()) {
      enqueue(*c, msg);
    }
    close(c->session, LWS_CLOSE_STATUS_GOINGAWAY, "Server shutdown");
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

void Server::on_http(lws* wsi, const char* path_c) {
  ++http_requests_;
  auto req = std::make_unique<HttpRequest>();
  HttpRequest& r = *req;
  r.path = path_c != nullptr ? path_c : "/";
  r.query = read_query(wsi);
  r.ready = true;
  r.delay_timer.server = this;
  r.delay_timer.owner = wsi;
  r.delay_timer.fire = [](Timer& t) {
    auto* w = static_cast<lws*>(t.owner);
    if (const auto it = t.server->http_.find(w); it != t.server->http_.end()) {
      it->second->ready = true;
      lws_callback_on_writable(w);
    }
  };
  const bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
  if (r.path == "/venue/stats") {
    r.response.body = stats_json();
  } else if (r.path == "/venue/fault") {
    if (!post) {
      r.response.status = 405;
      r.response.body = R"({"ok":false,"error":"use POST"})";
    } else {
      apply_fault(r.query, r.response);
    }
  } else if (venue_.is_snapshot_path(r.path)) {
    ++snapshot_requests_;
    snapshot_request_ns_.push_back(unix_ns());
    if (snapshot_request_ns_.size() > kMaxSnapshotStamps) {
      snapshot_request_ns_.erase(snapshot_request_ns_.begin());
    }
    if (snapshot_refuse_on_ || snapshot_refusals_left_ > 0) {
      if (!snapshot_refuse_on_) {
        --snapshot_refusals_left_;
      }
      ++faults_["snapshot_refused"];
      r.response.status = snapshot_refuse_status_;
      r.response.headers.emplace_back("Retry-After:", "1");
      r.response.body = snapshot_refuse_status_ == 418
                            ? R"({"code":-1003,"msg":"Way too many requests; IP banned until further notice."})"
                            : R"({"code":-1003,"msg":"Too many requests; please use the websocket for live updates."})";
    } else {
      r.snapshot = true; // the body is taken when it is sent, after any delay
      if (snapshot_delay_ms_ > 0) {
        ++faults_["snapshot_delay"];
        r.ready = false;
        r.delay_timer.schedule(context_, static_cast<lws_usec_t>(snapshot_delay_ms_) * 1000);
      }
    }
  } else if (!venue_.on_http(r.path, r.query, r.response)) {
    r.response.status = 404;
    r.response.body = R"({"code":-1,"msg":"Not found"})";
  }
  http_[wsi] = std::move(req);
  if (r.ready) {
    lws_callback_on_writable(wsi);
  }
}

int Server::on_http_writeable(lws* wsi) {
  const auto it = http_.find(wsi);
  if (it == http_.end() || !it->second->ready) {
    return 0;
  }
  HttpRequest& r = *it->second;
  if (!r.headers_sent) {
    if (r.snapshot) {
      if (!venue_.on_http(r.path, r.query, r.response)) {
        r.response.status = 404;
        r.response.body = R"({"code":-1,"msg":"Not found"})";
      }
      ++snapshot_responses_[r.response.status];
    }
    unsigned char buf[LWS_PRE + 1024];
    unsigned char* start = buf + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.response.status), "application/json",
                                    r.response.body.size(), &p, end) != 0) {
      return -1;
    }
    for (const auto& [name, value] : r.response.headers) {
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                      reinterpret_cast<const unsigned char*>(value.data()), static_cast<int>(value.size()),
                                      &p, end) != 0) {
        return -1;
      }
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end) != 0) {
      return -1;
    }
    r.headers_sent = true;
    lws_callback_on_writable(wsi);
    return 0;
  }
  const std::size_t n = std::min(kHttpChunk, r.response.body.size() - r.sent);
  const bool last = r.sent + n == r.response.body.size();
  std::vector<unsigned char> chunk(LWS_PRE + n);
  std::memcpy(chunk.data() + LWS_PRE, r.response.body.data() + r.sent, n);
  if (lws_write(wsi, chunk.data() + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != static_cast<int>(n)) {
    return -1;
  }
  r.sent += n;
  if (!last) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  http_.erase(it);
  return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

void Server::apply_fault(const Query& query, HttpResponse& out) {
  const std::string* kind = find_arg(query, "kind");
  std::uint64_t count = 1;
  const std::string* count_arg = find_arg(query, "count");
  const std::string* on_arg = find_arg(query, "on");
  if (count_arg != nullptr && !parse_u64(count_arg, count)) {
    out.status = 400;
    out.body = R"({"ok":false,"error":"count must be an unsigned integer"})";
    return;
  }
  const bool on = on_arg == nullptr || *on_arg != "0";
  std::uint64_t affected = 0;
  const std::string k = kind == nullptr ? "" : *kind;
  if (k == "drop") {
    for (auto& [wsi, c] : conns_) {
      if (!c->closing) {
        drop_connection(*c);
        ++affected;
      }
    }
    ++faults_["drop"];
  } else if (k == "gap") {
    pending_gaps_ += count;
    affected = count;
  } else if (k == "checksum") {
    pending_checksums_ += count;
    affected = count;
  } else if (k == "malformed") {
    pending_malformed_ += count;
    affected = count;
  } else if (k == "stall") {
    double seconds = 0;
    if (!parse_double(find_arg(query, "seconds"), seconds) || seconds <= 0) {
      out.status = 400;
      out.body = R"({"ok":false,"error":"stall needs seconds=S, S > 0"})";
      return;
    }
    start_stall(seconds);
    affected = conns_.size();
  } else if (k == "shutdown") {
    affected = conns_.size();
    server_shutdown();
  } else if (k == "snapshot_delay") {
    std::uint64_t ms = 0;
    if (!parse_u64(find_arg(query, "ms"), ms)) {
      out.status = 400;
      out.body = R"({"ok":false,"error":"snapshot_delay needs ms=N"})";
      return;
    }
    snapshot_delay_ms_ = ms;
  } else if (k == "snapshot_429" || k == "snapshot_418") {
    snapshot_refuse_status_ = k == "snapshot_418" ? 418 : 429;
    if (count_arg != nullptr) {
      snapshot_refusals_left_ = count;
    } else {
      snapshot_refuse_on_ = on;
      if (!on) {
        snapshot_refusals_left_ = 0;
      }
    }
  } else if (k == "clear") {
    pending_gaps_ = pending_checksums_ = pending_malformed_ = snapshot_refusals_left_ = snapshot_delay_ms_ = 0;
    snapshot_refuse_on_ = false;
    if (stalled_) {
      stall_end_timer_->cancel();
      end_stall();
    }
  } else {
    out.status = 400;
    out.body = R"({"ok":false,"error":"kind must be drop, gap, checksum, malformed, stall, shutdown, snapshot_delay, snapshot_429, snapshot_418 or clear"})";
    return;
  }
  out.body = "{\"ok\":true,\"kind\":";
  append_json_string(out.body, k);
  out.body += ",\"affected\":";
  append_uint(out.body, affected);
  out.body += '}';
}

std::string Server::stats_json() const {
  std::string out = "{\"venue\":";
  append_json_string(out, venue_.name());
  const auto field = [&out](std::string_view name, std::uint64_t v) {
    out += ",\"";
    out += name;
    out += "\":";
    append_uint(out, v);
  };
  field("port", static_cast<std::uint64_t>(port_));
  field("uptime_ms", (mono_ns() - start_ns_) / 1'000'000U);
  field("connections_accepted", connections_accepted_);
  field("connections_open", conns_.size());
  field("connections_closed", connections_closed_);
  std::uint64_t subs = 0;
  for (const auto& [wsi, c] : conns_) {
    subs += c->session.streams.size();
  }
  field("subscriptions", subs);
  field("subscription_requests", subscription_requests_);
  field("messages_published", messages_published_);
  field("messages_sent", messages_sent_);
  field("bytes_sent", bytes_sent_);
  field("pings_sent", pings_sent_);
  field("pongs_received", pongs_received_);
  field("pong_timeouts", pong_timeouts_);
  field("slow_consumers", slow_consumers_);
  field("http_requests", http_requests_);
  field("snapshot_requests", snapshot_requests_);
  out += ",\"snapshot_request_ns\":[";
  for (std::size_t i = 0; i < snapshot_request_ns_.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_uint(out, snapshot_request_ns_[i]);
  }
  out += "],\"snapshot_responses\":{";
  bool first = true;
  for (const auto& [status, n] : snapshot_responses_) {
    if (!std::exchange(first, false)) {
      out += ',';
    }
    out += '"';
    append_uint(out, static_cast<std::uint64_t>(status));
    out += "\":";
    append_uint(out, n);
  }
  // The members of a name -> count object; returns the sum of the counts.
  const auto counts = [&out](const std::map<std::string, std::uint64_t, std::less<>>& m) {
    bool first_member = true;
    std::uint64_t sum = 0;
    for (const auto& [name, n] : m) {
      if (!std::exchange(first_member, false)) {
        out += ',';
      }
      append_json_string(out, name);
      out += ':';
      append_uint(out, n);
      sum += n;
    }
    return sum;
  };
  out += "},\"faults\":{";
  (void)counts(faults_);
  out += "},\"client_errors\":{";
  const std::uint64_t total = counts(client_errors_);
  out += '}';
  field("client_errors_total", total);
  out += ",\"stalled\":";
  out += stalled_ ? "true" : "false";
  const std::string extra = venue_.stats_members();
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

} // namespace qf::feeds::venue
