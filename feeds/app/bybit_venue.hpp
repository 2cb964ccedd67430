#pragma once
// Bybit v5 public (PROTOCOLS.md 5.1-5.3) as qf-venue serves it, spot (`/v5/public/spot`) or linear
// (`/v5/public/linear`): `{"op":"subscribe"|"unsubscribe","args":["orderbook.50.BTCUSDT",...]}`
// answered by an op ack (`success` false for an unknown topic), `{"op":"ping"}` answered by the
// pong ack, then per symbol `orderbook.50` (a snapshot then deltas with `u` + 1 each and a rising
// `seq`), `publicTrade` and `tickers` (linear: a snapshot then deltas of the changed best fields;
// spot: snapshots without bid/ask, as Bybit's), from a synthetic market or a replayed capture.

#include "venue.hpp"

#include <memory>

namespace qf::feeds::venue {

struct BybitOptions : MarketOptions {
  BybitOptions() : MarketOptions{"BTCUSDT", "ETHUSDT"} {}
  bool linear = false; // bybit-linear: the linear path and its ticker deltas
};

[[nodiscard]] std::unique_ptr<Venue> make_bybit_venue(const BybitOptions& options);

} // namespace qf::feeds::venue
