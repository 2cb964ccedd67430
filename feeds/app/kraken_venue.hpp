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

struct KrakenOptions {
  std::string replay_path; // replay when non-empty, synthetic otherwise
  double speed = 1.0;      // 0 = as fast as possible
  bool loop = false;
  std::vector<std::string> symbols{"BTC/USD", "ETH/USD"};
  double rate = 200.0; // 0 = as fast as the clients take them
  std::uint64_t seed = 1;
};

[[nodiscard]] std::unique_ptr<Venue> make_kraken_venue(const KrakenOptions& options);

} // namespace qf::feeds::venue
