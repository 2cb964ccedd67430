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

struct CoinbaseOptions {
  std::string replay_path; // replay when non-empty, synthetic otherwise
  double speed = 1.0;      // 0 = as fast as possible
  bool loop = false;
  std::vector<std::string> products{"BTC-USD", "ETH-USD", "SOL-USD"};
  double rate = 200.0; // 0 = as fast as the clients take them
  std::uint64_t seed = 1;
};

[[nodiscard]] std::unique_ptr<Venue> make_coinbase_venue(const CoinbaseOptions& options);

} // namespace qf::feeds::venue
