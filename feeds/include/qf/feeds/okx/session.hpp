#pragma once
// Session: the OKX v5 public feed (PROTOCOLS.md 6.1-6.2) for a set of instruments on one feed
// thread, on ResubscribeSession (one connection, reconnects, watchdogs, resync). On open it
// subscribes `books` (400 levels, snapshot then updates every 100 ms), `bbo-tbt`, `trades` and
// `tickers` for every instrument in one request; the first subscribe ack emits `subscribed`, each
// verified snapshot `book_live` (okx::BookSync). Every book message is checked twice when the
// venue provides it: `prevSeqId` must equal the previous `seqId`, and a non-zero CRC32 `checksum`
// must match the top 25 of the kept book. A break or a mismatch is a gap (BookSync emits `gap`,
// counted in the feed's `gaps`, a notable event in the engine) and that book is resubscribed
// (unsubscribe then subscribe of its `books`) for a fresh snapshot; updates in flight meanwhile are
// dropped as not live (counted `drops`). Keepalive: when nothing arrived for ping_interval_ms
// (below OKX's 30 s and below stale_after_ms) the text `ping` goes out; the `pong` is a data frame,
// so an unanswered ping ends as a stale connection that reconnects. An `error` event is a venue
// error (counted, logged); a `notice` (a service upgrade about to close the connection) is logged.
// Everything runs on the loop thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qf/feeds/okx/book_sync.hpp"
#include "qf/feeds/okx/parser.hpp"
#include "qf/feeds/resubscribe_session.hpp"

namespace qf::feeds::okx {

struct SessionConfig : ResubscribeSessionConfig {
  SessionConfig() { name = "okx"; } // ws: "wss://ws.okx.com:8443/ws/v5/public"
  int ping_interval_ms = 5'000;     // silence before the text `ping`: < 30 s and < stale_after_ms
};

// Connection, reconnects, watchdogs, operator resync: ResubscribeSession.
class Session final : public ResubscribeSession {
public:
  // Throws std::invalid_argument on a bad config (ping interval not in (0, min(30 s,
  // stale_after_ms))) or bad decimals (start-up only). Instruments are OKX instIds ("BTC-USDT").
  Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop, EventSink sink,
          LogFn log);

  // For tests.
  [[nodiscard]] BookState book_state(std::size_t index) const noexcept {
    return sync_.state(static_cast<core::InstrumentId>(index));
  }
  [[nodiscard]] const BookSyncCounters& book_counters(std::size_t index) const noexcept {
    return sync_.counters(static_cast<core::InstrumentId>(index));
  }

private:
  void subscribe_all() override;
  void resubscribe(const std::vector<std::size_t>& indices) override;
  void on_frame(PaddedView frame, std::uint64_t recv_ticks) override;
  [[nodiscard]] ResubscribeBookSet& books() noexcept override { return sync_; }
  void on_healthy(std::uint64_t now_mono_ns) override;
  // {"op":OP,"args":[{"channel":C,"instId":I},...]} for each channel and each index
  [[nodiscard]] std::string request(std::string_view op, const std::vector<std::string_view>& channels,
                                    const std::vector<std::size_t>& indices) const;

  std::uint64_t ping_interval_ns_;
  Parser parser_;
  BookSync sync_;
  std::uint64_t last_ping_ns_ = 0;
};

} // namespace qf::feeds::okx
