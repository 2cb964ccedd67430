#include "ws_fanout.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/tsc_clock.hpp"
#include "server_state.hpp"

namespace qf::gateway::detail {
namespace {

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

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto p : parts) {
    out += p;
  }
  return out;
}

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
  ws_[wsi] = WsClient{};
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
  const auto reply = [&](std::string r) {
    if (c.replies.size() >= kMaxReplies) {
      c.replies.pop_front();
    }
    c.replies.push_back(std::move(r));
  };
  const auto error = [&](const std::string& why) {
    ipc::JsonWriter o;
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
  // Calls each(text) for every element of the array j[name] in order; false once one is
  // refused, or (answering `why`) when j[name] is not an array of strings.
  const auto each_string = [&](const char* name, const char* why, const auto& each) {
    if (!j[name].is_array()) {
      error(why);
      return false;
    }
    for (const auto& v : j[name]) {
      if (!v.is_string()) {
        error(why);
        return false;
      }
      if (!each(v.get<std::string>())) {
        return false;
      }
    }
    return true;
  };
  std::uint32_t mask = 0;
  const auto add_channel = [&](const std::string& name) {
    std::uint32_t bit = 0;
    for (const auto& [n, b] : kChannels) {
      if (name == n || name == "*") {
        bit |= b;
      }
    }
    if (bit == 0) {
      error(cat({"unknown channel '", name, "' (quotes, signals, health, latency, feeds, events)"}));
      return false;
    }
    mask |= bit;
    return true;
  };
  if (j.contains("channels")) {
    if (!each_string("channels", "\"channels\" must be an array of strings", add_channel)) {
      return;
    }
  } else {
    mask = kQuotes | kSignals | kHealth | kLatency | kFeeds | kEvents;
  }
  bool all = false;
  std::vector<std::string> instruments;
  // A subscription names instruments the engine has; with no engine attached nothing can be
  // checked and the name is kept (it may appear when the engine starts).
  const ipc::StateSnapshot& s = snapshot(false);
  const auto known = [&](const std::string& k) {
    return !ipc::has_engine(s.status) || std::any_of(s.instruments.begin(), s.instruments.end(), [&](const auto& i) {
             return instrument_key(i.info) == k;
           });
  };
  const auto add_instrument = [&](std::string k) {
    if (k == "*") {
      all = true;
    } else if (k.find(':') == std::string::npos || k.size() > 64) {
      error(cat({"invalid instrument '", k, "' (expected venue:SYMBOL or *)"}));
      return false;
    } else if (op == "subscribe" && !known(k)) {
      error(cat({"unknown instrument '", k, "' (not in the engine's instrument table)"}));
      return false;
    } else {
      instruments.push_back(std::move(k));
    }
    return true;
  };
  if (j.contains("instruments")) {
    if (!each_string("instruments", "\"instruments\" must be an array of \"venue:SYMBOL\" strings or \"*\"",
                     add_instrument)) {
      return;
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
  ipc::JsonWriter o;
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
