#pragma once
// Coinbase Advanced Trade public market data (PROTOCOLS.md 3.2) as qf-venue serves it: the
// websocket at `/`, `{"type":"subscribe"|"unsubscribe","product_ids":[...],"channel":C}` with one
// channel a message (level2, market_trades, ticker, heartbeats), answered by a `subscriptions`
// message (or a `{"type":"error"}`), then per product the `l2_data` snapshot and updates,
// `market_trades` and `ticker`, and `heartbeats` every second, every message carrying
// `sequence_num`, one counter per connection across channels from 0; from a synthetic market or a
// replayed recording. A connection without a subscribe for 5 s is closed, as Coinbase does.

#include "venue.hpp"

#include <memory>

namespace qf::feeds::venue {

struct CoinbaseAdvancedOptions : MarketOptions {
  CoinbaseAdvancedOptions() : MarketOptions{"BTC-USD", "ETH-USD"} {}
};

[[nodiscard]] std::unique_ptr<Venue> make_coinbase_advanced_venue(const CoinbaseAdvancedOptions& options);

} // namespace qf::feeds::venue
