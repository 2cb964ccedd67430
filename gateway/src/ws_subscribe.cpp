#include "ws_subscribe.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "qf/ipc/json_writer.hpp"
#include "render_json.hpp"

namespace qf::gateway::detail {
namespace {

constexpr std::size_t kMaxReplies = 16; // a client flooding requests loses the oldest answers

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto p : parts) {
    out += p;
  }
  return out;
}

} // namespace

void handle_subscribe_request(WsClient& c, const std::string& text,
                              const std::function<const ipc::StateSnapshot&()>& snapshot, double push_hz) {
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
  const ipc::StateSnapshot& s = snapshot();
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
  o.key("push_hz").num(push_hz).end_object();
  reply(o.take());
}

} // namespace qf::gateway::detail
