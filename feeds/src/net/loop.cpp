#include "qf/feeds/net/loop.hpp"

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace qf::feeds::net {

struct Loop::HttpRequest : detail::LwsUser {
  HttpRequest() noexcept : LwsUser(Kind::http) {}
  Loop* loop = nullptr;
  std::function<void(HttpResult&&)> done;
  HttpResult result;
  std::size_t max_bytes = 0;
  std::string host;
  std::string path;
  bool delivered = false;
  bool finished = false; // lws is done with this object

  void deliver(std::string_view error) {
    if (delivered) {
      return;
    }
    delivered = true;
    if (!error.empty()) {
      result.error = std::string(error);
    }
    done(std::move(result));
  }
};

namespace {

constexpr const char* kWsProtocol = "qf-ws";
constexpr const char* kHttpProtocol = "qf-http";

struct TickTimer {
  lws_sorted_usec_list_t sul; // first member: the callback gets its address
  Loop* loop = nullptr;
  lws_context* context = nullptr;
  int period_ms = 20;
  bool due = false;
};

std::string_view as_text(const void* in, std::size_t len) {
  return in == nullptr ? std::string_view{} : std::string_view(static_cast<const char*>(in), len);
}

int http_event(struct lws* wsi, enum lws_callback_reasons reason, Loop::HttpRequest* req, void* in, std::size_t len);

// One callback for both protocols: the user pointer says which kind of connection it is.
int callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
    // `user` is the client SSL_CTX: add the configured CA files to the system store.
    auto* loop = static_cast<Loop*>(lws_context_user(lws_get_context(wsi)));
    for (const std::string& file : loop->config().ca_files) {
      if (SSL_CTX_load_verify_locations(static_cast<SSL_CTX*>(user), file.c_str(), nullptr) != 1) {
        lwsl_err("qf: cannot load CA file %s\n", file.c_str());
      }
    }
    return 0;
  }
  auto* tagged = static_cast<detail::LwsUser*>(user);
  if (tagged == nullptr) {
    return 0;
  }
  if (tagged->kind == detail::LwsUser::Kind::ws) {
    return static_cast<WsConnection*>(tagged)->on_lws_event(static_cast<int>(reason), in, len);
  }
  return http_event(wsi, reason, static_cast<Loop::HttpRequest*>(tagged), in, len);
}

int http_event(struct lws* wsi, enum lws_callback_reasons reason, Loop::HttpRequest* req, void* in, std::size_t len) {
  switch (reason) {
  case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP: {
    req->result.status = static_cast<int>(lws_http_client_http_response(wsi));
    req->result.recv_ticks = req->loop->clock().now();
    char value[32] = {};
    if (lws_hdr_copy(wsi, value, sizeof value, WSI_TOKEN_HTTP_RETRY_AFTER) > 0) {
      std::uint64_t s = 0;
      const auto [end, ec] = std::from_chars(value, value + std::strlen(value), s);
      req->result.retry_after_s = ec == std::errc() ? s : 0;
    }
    return 0;
  }
  case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
    char buffer[LWS_PRE + 16384];
    char* p = buffer + LWS_PRE;
    int n = static_cast<int>(sizeof buffer - LWS_PRE);
    return lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
  }
  case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
    if (req->result.body.size() + len > req->max_bytes) {
      req->deliver("response body over the configured bound");
      return -1;
    }
    req->result.body.append(static_cast<const char*>(in), len);
    return 0;
  case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
    req->deliver({});
    return 0;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
    const std::string_view why = as_text(in, in == nullptr ? 0 : std::strlen(static_cast<const char*>(in)));
    // lws reports an HTTP error status as a connection error; keep the status when it was read.
    req->deliver(why.empty() ? "connection failed" : why);
    req->finished = true;
    return 0;
  }
  case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    req->deliver("connection closed before the response completed");
    req->finished = true;
    return 0;
  default: return 0;
  }
}

const lws_protocols kProtocols[] = {
    {kWsProtocol, callback, 0, 65536, 0, nullptr, 0},
    {kHttpProtocol, callback, 0, 16384, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

void on_tick_timer(lws_sorted_usec_list_t* sul) {
  auto* timer = reinterpret_cast<TickTimer*>(sul);
  timer->due = true;
  lws_sul_schedule(timer->context, 0, &timer->sul, on_tick_timer, timer->period_ms * LWS_US_PER_MS);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// WsConnection

WsConnection::WsConnection(Loop& loop, Handler& handler, std::size_t max_message_bytes)
    : LwsUser(Kind::ws), loop_(loop), handler_(handler), buffer_(new char[max_message_bytes + kPadding]),
      max_bytes_(max_message_bytes) {
  std::memset(buffer_.get(), 0, max_message_bytes + kPadding);
}

WsConnection::~WsConnection() {
  if (wsi_ != nullptr) {
    lws_set_wsi_user(wsi_, nullptr);
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

bool WsConnection::open(const Url& url, std::string& why) {
  if (state_ != State::idle) {
    why = "already open";
    return false;
  }
  host_ = url.host;
  path_ = url.path;
  lws_client_connect_info ci{};
  ci.context = loop_.context();
  ci.address = host_.c_str();
  ci.port = url.port;
  ci.path = path_.c_str();
  ci.host = host_.c_str();
  ci.origin = host_.c_str();
  ci.ssl_connection = url.tls ? LCCSCF_USE_SSL : 0;
  ci.local_protocol_name = kWsProtocol;
  ci.userdata = static_cast<detail::LwsUser*>(this);
  ci.pwsi = &wsi_;
  size_ = 0;
  skipping_ = false;
  close_reason_.clear();
  state_ = State::connecting;
  if (lws_client_connect_via_info(&ci) == nullptr) {
    // lws may already have reported CLIENT_CONNECTION_ERROR (then state is idle again).
    if (state_ != State::idle) {
      wsi_ = nullptr;
      state_ = State::idle;
    }
    why = "connect to " + url.text() + " refused at once";
    return false;
  }
  return true;
}

void WsConnection::close() {
  if (wsi_ != nullptr && state_ != State::idle) {
    state_ = State::closing;
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

void WsConnection::send_text(std::string_view text) {
  outbox_.emplace_back(text);
  if (state_ == State::open) {
    lws_callback_on_writable(wsi_);
  }
}

void WsConnection::finish(std::string_view reason) {
  if (state_ == State::idle) {
    return;
  }
  wsi_ = nullptr;
  state_ = State::idle;
  outbox_.clear();
  handler_.on_closed(reason);
}

int WsConnection::on_lws_event(int reason_code, void* in, std::size_t len) {
  const auto reason = static_cast<lws_callback_reasons>(reason_code);
  switch (reason) {
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    state_ = State::open;
    opened_ns_ = ipc::monotonic_ns();
    last_rx_ns_ = opened_ns_;
    handler_.on_open();
    if (!outbox_.empty()) {
      lws_callback_on_writable(wsi_);
    }
    return 0;

  case LWS_CALLBACK_CLIENT_RECEIVE: {
    if (state_ != State::open) {
      return 0;
    }
    last_rx_ns_ = ipc::monotonic_ns();
    bytes_ += len;
    if (lws_is_first_fragment(wsi_) != 0 && size_ == 0 && !skipping_) {
      first_ticks_ = loop_.clock().now();
    }
    const bool final = lws_is_final_fragment(wsi_) != 0 && lws_remaining_packet_payload(wsi_) == 0;
    if (lws_frame_is_binary(wsi_) != 0) {
      if (final) {
        handler_.on_binary();
      }
      return 0;
    }
    if (skipping_ || size_ + len > max_bytes_) {
      skipping_ = true;
      skipped_ += size_ + len;
      size_ = 0;
      if (final) {
        handler_.on_oversized(skipped_);
        skipping_ = false;
        skipped_ = 0;
      }
      return 0;
    }
    std::memcpy(buffer_.get() + size_, in, len);
    size_ += len;
    if (final) {
      const std::size_t n = size_;
      size_ = 0;
      handler_.on_message({buffer_.get(), n, max_bytes_ + kPadding}, first_ticks_);
    }
    return 0;
  }

  case LWS_CALLBACK_CLIENT_WRITEABLE: {
    if (state_ == State::closing) {
      return -1;
    }
    if (!outbox_.empty()) {
      std::string& msg = outbox_.front();
      std::vector<unsigned char> frame(LWS_PRE + msg.size());
      std::memcpy(frame.data() + LWS_PRE, msg.data(), msg.size());
      if (lws_write(wsi_, frame.data() + LWS_PRE, msg.size(), LWS_WRITE_TEXT) < static_cast<int>(msg.size())) {
        return -1;
      }
      outbox_.pop_front();
    }
    if (!outbox_.empty()) {
      lws_callback_on_writable(wsi_);
    }
    return 0;
  }

  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
    close_reason_ = "closed by the server";
    if (len >= 2) {
      const auto* p = static_cast<const unsigned char*>(in);
      close_reason_ += " (code " + std::to_string((p[0] << 8) | p[1]);
      if (len > 2) {
        close_reason_ += ": ";
        close_reason_.append(static_cast<const char*>(in) + 2, len - 2);
      }
      close_reason_ += ")";
    }
    return 0;
  }

  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    finish(in == nullptr ? std::string_view("connection failed")
                         : std::string_view(static_cast<const char*>(in), std::strlen(static_cast<const char*>(in))));
    return 0;

  case LWS_CALLBACK_CLIENT_CLOSED:
    finish(close_reason_.empty() ? std::string_view("connection closed") : std::string_view(close_reason_));
    return 0;

  case LWS_CALLBACK_WSI_DESTROY:
    finish("connection destroyed");
    return 0;

  default: return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Loop

Loop::Loop(const LoopConfig& config, const ipc::TscClock& clock) : config_(config), clock_(clock) {
  lws_set_log_level(LLL_ERR | LLL_WARN, nullptr);
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = kProtocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  context_ = lws_create_context(&info);
  if (context_ == nullptr) {
    throw std::runtime_error("libwebsockets: cannot create the client context");
  }
}

Loop::~Loop() {
  end();
  lws_context_destroy(context_); // closes every connection (their callbacks still run)
  for (auto& r : requests_) {
    r->deliver("shutting down");
  }
}

struct Loop::Tick {
  TickTimer timer{};
  std::function<void()> on_tick;
};

void Loop::run(const std::function<void()>& on_tick) {
  begin(on_tick);
  while (service(true)) {
  }
  end();
}

void Loop::begin(std::function<void()> on_tick) {
  tick_ = std::make_unique<Tick>();
  tick_->on_tick = std::move(on_tick);
  tick_->timer.loop = this;
  tick_->timer.context = context_;
  tick_->timer.period_ms = config_.tick_ms;
  lws_sul_schedule(context_, 0, &tick_->timer.sul, on_tick_timer, tick_->timer.period_ms * LWS_US_PER_MS);
}

bool Loop::service(bool may_block) {
  if (stopping()) {
    return false;
  }
  // lws 4 ignores a timeout >= 0 and polls until its next timer (the tick at the latest) or a
  // wake; a negative timeout is a poll that returns at once.
  if (lws_service(context_, may_block ? 0 : -1) < 0) {
    return false;
  }
  if (tick_->timer.due || woken_.exchange(false, std::memory_order_acq_rel)) {
    tick_->timer.due = false;
    tick_->on_tick();
    std::erase_if(requests_, [](const std::unique_ptr<HttpRequest>& r) { return r->finished; });
  }
  return !stopping();
}

void Loop::end() {
  if (tick_) {
    lws_sul_cancel(&tick_->timer.sul);
    tick_.reset();
  }
}

void Loop::stop() noexcept {
  stop_.store(true, std::memory_order_release);
  lws_cancel_service(context_);
}

void Loop::wake() noexcept {
  woken_.store(true, std::memory_order_release);
  lws_cancel_service(context_);
}

void Loop::http_get(const Url& url, std::size_t max_bytes, std::function<void(HttpResult&&)> done) {
  auto req = std::make_unique<HttpRequest>();
  req->loop = this;
  req->done = std::move(done);
  req->max_bytes = max_bytes;
  req->host = url.host;
  req->path = url.path;
  lws_client_connect_info ci{};
  ci.context = context_;
  ci.address = req->host.c_str();
  ci.port = url.port;
  ci.path = req->path.c_str();
  ci.host = req->host.c_str();
  ci.origin = req->host.c_str();
  ci.ssl_connection = url.tls ? LCCSCF_USE_SSL : 0;
  ci.method = "GET";
  ci.local_protocol_name = kHttpProtocol;
  ci.userdata = static_cast<detail::LwsUser*>(req.get());
  HttpRequest* raw = req.get();
  requests_.push_back(std::move(req));
  if (lws_client_connect_via_info(&ci) == nullptr) {
    raw->deliver("HTTP connect refused at once");
    raw->finished = true;
  }
}

} // namespace qf::feeds::net
