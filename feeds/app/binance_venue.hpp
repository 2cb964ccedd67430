#pragma once
// Binance spot and USD-M futures as qf-venue serves them (PROTOCOLS.md sections 1 and 2):
// /ws/<stream> and /stream?streams=a/b websockets, live SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS,
// REST depth snapshots, from a synthetic market (a random walk over a maintained book, so every
// snapshot is exactly consistent with the diffs) or a replayed capture.

#include "venue.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qf::feeds::venue {

struct BinanceOptions : MarketOptions {
  BinanceOptions() : MarketOptions{"BTCUSDT", "ETHUSDT", "SOLUSDT"} {}
  bool usdm = false;
  std::optional<std::chrono::milliseconds> ping_interval; // default 20 s spot, 180 s USD-M
  std::optional<std::chrono::milliseconds> pong_timeout;  // default 60 s spot, 600 s USD-M
};

// Throws std::runtime_error (a capture that cannot be read, an unattributable snapshot).
[[nodiscard]] std::unique_ptr<Venue> make_binance_venue(const BinanceOptions& options);

} // namespace qf::feeds::venue
