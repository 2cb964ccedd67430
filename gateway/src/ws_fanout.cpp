#include "ws_fanout.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/tsc_clock.hpp"
#include "server_state.hpp"
#include "ws_subscribe.hpp"

namespace qf::gateway::detail {
namespace {

constexpr std::size_t kPushEvents = 20;

} // namespace

// Accepts or refuses a WebSocket upgrade (only /ws, at most max_clients).
int Server::on_ws_filter(lws* wsi) {
  char uri[64] = {};
  if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || std::strcmp(uri, "/ws") != 0) {
    return 1; // WebSocket only on /ws
  }
  if (ws_.size() >= static_cast<std::size_t>(opt_.gateway.max_clients)) {
    ++stats_.ws_rejected;
    return 1;
  }
  return 0;
}

int Server::on_ws_established(lws* wsi) {
  http_.erase(wsi);
  WsClient& c = ws_[wsi] = WsClient{};
  c.connected_mono_ns = ipc::monotonic_ns();
  ++stats_.ws_connections;
  stats_.ws_clients = ws_.size();
  // Bound the kernel's share of a slow client too (the kernel doubles the value).
  const int fd = lws_get_socket_fd(wsi);
  const int sndbuf = opt_.gateway.client_buffer_bytes / 2;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  return 0;
}

void Server::handle_ws_message(WsClient& c, const std::string& text) {
  handle_subscribe_request(c, text, [this]() -> const ipc::StateSnapshot& { return snapshot(false); },
                           opt_.gateway.push_hz);
  c.ever_subscribed = c.ever_subscribed || c.channels != 0;
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
  if ((c.channels & kQuotes) != 0) {
    list("quotes", frame_.quotes);
  }
  if ((c.channels & kSignals) != 0) {
    list("signals", frame_.signals);
  }
  for (const auto& [bit, name, json] : {std::tuple{kHealth, "health", &frame_.health},
                                        std::tuple{kLatency, "latency", &frame_.latency},
                                        std::tuple{kFeeds, "feeds", &frame_.feeds},
                                        std::tuple{kEvents, "events", &frame_.events}}) {
    if ((c.channels & bit) != 0) {
      out += ",\"";
      out += name;
      out += "\":";
      out += *json;
    }
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
  if (c.idle_close) {
    static const char kWhy[] = "no subscribe request in time";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                     const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(kWhy)), sizeof kWhy - 1);
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
    ipc::JsonWriter o;
    o.begin_object();
    render_engine_head(o, s);
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
    ipc::JsonWriter q;
    render_quote(q, inst, now);
    f.quotes[i].second = q.take();
    ipc::JsonWriter g;
    render_signal(g, inst);
    f.signals[i].second = g.take();
  }
  ipc::JsonWriter h;
  render_health(h, s, stats_, now);
  f.health = h.take();
  ipc::JsonWriter l;
  render_latency(l, s, LatencyDetail::coarse);
  f.latency = l.take();
  ipc::JsonWriter fe;
  render_feeds(fe, s);
  f.feeds = fe.take();
  ipc::JsonWriter ev;
  render_events(ev, s, kPushEvents);
  f.events = ev.take();
}

// Closes (1008) the clients that have not subscribed within ws_subscribe_timeout_ms: idle
// connections must not hold the max_clients slots that subscribers need.
void Server::close_idle_clients() {
  const std::uint64_t now = ipc::monotonic_ns();
  const std::uint64_t timeout_ns = static_cast<std::uint64_t>(opt_.gateway.ws_subscribe_timeout_ms) * std::uint64_t{1'000'000};
  for (auto& [wsi, c] : ws_) {
    if (!c.ever_subscribed && !c.idle_close && now - c.connected_mono_ns > timeout_ns) {
      c.idle_close = true;
      ++stats_.ws_idle_disconnects;
      lws_callback_on_writable(wsi);
    }
  }
}

// Asks for WRITEABLE on every client that is due a push; a client still waiting for its socket
// skips this frame instead (counted, and cut off past client_buffer_bytes).
void Server::request_pushes() {
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

} // namespace qf::gateway::detail
