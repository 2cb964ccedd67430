#pragma once
// OKX v5 public (PROTOCOLS.md 6.1-6.2) as qf-venue serves it: the websocket at `/ws/v5/public`
// (or `/`), `{"op":"subscribe"|"unsubscribe","args":[{"channel","instId"}]}` requests answered by
// `event` acks (or an `error` event), the text `ping` answered by `pong`, then per instrument the
// `books` snapshot and updates (seqId / prevSeqId chain, the CRC32 of the top 25), `bbo-tbt` on
// every change of the best levels, `trades` and `tickers`, from a synthetic market or a replayed
// capture. A connection without a subscribe for 30 s is closed, as OKX does.

#include "venue.hpp"

#include <memory>

namespace qf::feeds::venue {

struct OkxOptions : MarketOptions {
  OkxOptions() : MarketOptions{"BTC-USDT", "ETH-USDT"} {}
};

[[nodiscard]] std::unique_ptr<Venue> make_okx_venue(const OkxOptions& options);

} // namespace qf::feeds::venue
