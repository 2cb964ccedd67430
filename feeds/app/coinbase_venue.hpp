#pragma once
// Coinbase Exchange ("ws-feed", PROTOCOLS.md 3.1) as qf-venue serves it: the websocket at `/`,
// the subscribe handshake (5 s deadline), then per product `snapshot`, `l2update`, `ticker`,
// `match`/`last_match` and `heartbeat`, from a synthetic market or a replayed capture.

#include "venue.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qf::feeds::venue {

struct CoinbaseOptions : MarketOptions {
  CoinbaseOptions() : MarketOptions{"BTC-USD", "ETH-USD", "SOL-USD"} {}
};

[[nodiscard]] std::unique_ptr<Venue> make_coinbase_venue(const CoinbaseOptions& options);

} // namespace qf::feeds::venue
