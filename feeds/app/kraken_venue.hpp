#pragma once
// Kraken WebSocket v2 (PROTOCOLS.md 4.1-4.3) as qf-venue serves it: the websocket at `/v2` (or
// `/`), a `status` message on connect, method requests (subscribe / unsubscribe of `book` depth
// 10, `trade`, `ticker`; `ping` -> `pong`), then per symbol book snapshot and updates carrying
// the CRC32 of the venue's top 10, trades, tickers (on every change of the best levels) and a
// heartbeat a second, from a synthetic market or a replayed capture.

#include "venue.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qf::feeds::venue {

struct KrakenOptions : MarketOptions {
  KrakenOptions() : MarketOptions{"BTC/USD", "ETH/USD"} {}
};

[[nodiscard]] std::unique_ptr<Venue> make_kraken_venue(const KrakenOptions& options);

} // namespace qf::feeds::venue
