#pragma once
// The WebSocket side of the gateway's server: a client's subscription, its queued replies and
// the message being written, and the Frame (the newest state, pre-rendered per channel and per
// instrument) that every push is cut from. The handlers (subscribe requests, building frames
// and messages, scheduling pushes, RECEIVE and WRITEABLE) are Server members defined in
// ws_fanout.cpp. Event-loop thread only.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace qf::gateway::detail {

inline constexpr std::size_t kMaxWsMessage = 16 * 1024; // client -> gateway (subscribe requests)

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
  std::uint64_t connected_mono_ns = 0;
  bool ever_subscribed = false; // until then the client is closed at ws_subscribe_timeout_ms
  bool idle_close = false;      // close with 1008 on the next WRITEABLE
};

// The newest state, pre-rendered per channel and per instrument; clients filter.
struct Frame {
  std::uint64_t version = 0;
  std::string head; // "engine":..,"mode":..,"generation":..
  std::vector<std::pair<std::string, std::string>> quotes, signals;
  std::string health, latency, feeds, events;
};

} // namespace qf::gateway::detail
