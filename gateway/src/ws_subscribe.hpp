#pragma once
// A WebSocket client's request (subscribe / unsubscribe / ping JSON) applied to its
// subscription, with the answer queued in its replies: pure, no socket, so it can be fuzzed
// (tests/fuzz/ws_subscribe_fuzz.cpp). The channel bits are shared with ws_fanout.cpp.
// Event-loop thread only.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "qf/ipc/state_reader.hpp"
#include "ws_fanout.hpp"

namespace qf::gateway::detail {

enum Channel : std::uint32_t {
  kQuotes = 1U << 0U,
  kSignals = 1U << 1U,
  kHealth = 1U << 2U,
  kLatency = 1U << 3U,
  kFeeds = 1U << 4U,
  kEvents = 1U << 5U,
};
inline constexpr std::pair<const char*, std::uint32_t> kChannels[] = {{"quotes", kQuotes},   {"signals", kSignals},
                                                                      {"health", kHealth},   {"latency", kLatency},
                                                                      {"feeds", kFeeds},     {"events", kEvents}};

// Parses `text` and updates c.channels / c.instruments, queueing the reply (at most 16 kept).
// `snapshot` is called only when an instrument name must be checked against the engine's table.
void handle_subscribe_request(WsClient& c, const std::string& text,
                              const std::function<const ipc::StateSnapshot&()>& snapshot, double push_hz);

} // namespace qf::gateway::detail
