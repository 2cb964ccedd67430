#pragma once
// Session: the Coinbase Exchange feed ("ws-feed", PROTOCOLS.md 3.1) for a set of products on one
// feed thread, built like binance::Session. One websocket connection at `/` carries every
// product: on open it sends one subscribe (the depth channel, default level2_batch, plus
// heartbeat, ticker and matches), the `subscriptions` answer emits `subscribed`, and each
// product's `snapshot` makes its book live (coinbase::BookSync). level2 has no sequence, so the
// only way back to a correct book is a fresh snapshot: a resync of one product unsubscribes and
// resubscribes its depth channel; a reconnect resubscribes everything. No REST is used (the
// websocket sends the snapshot). The Parser and BookSync number products 0..n-1; events leave
// with the engine's instrument ids. A connection without any data frame for stale_after_ms is
// stale (the heartbeat channel keeps a quiet product's connection alive) and reconnects at once;
// other closes reconnect with exponential backoff and full jitter. A product with no message at
// all (book, heartbeat, ticker, match) for instrument_stale_after_ms while connected is marked
// stale until its next one. Everything runs on the loop thread.

#include <cstdint>
#include <string>
#include <vector>

#include "qf/feeds/coinbase/book_sync.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/resubscribe_session.hpp"

namespace qf::feeds::coinbase {

// The reconnect and staleness fields (stale_after_ms, instrument_stale_after_ms,
// reconnect_min_ms, reconnect_max_ms, max_connection_age_s, seed), name, ws, max_frame_bytes and
// recorder come from ResubscribeSessionConfig.
struct SessionConfig : ResubscribeSessionConfig {
  SessionConfig() {
    name = "coinbase";                      // the feed's name in the state layout
    max_frame_bytes = std::size_t{4} << 20; // a level2 snapshot is the whole aggregated book
  }
  std::string depth_channel = "level2_batch"; // level2 needs authentication since 2023
};

// Connection, reconnects, watchdogs, resync: ResubscribeSession.
class Session final : public ResubscribeSession {
public:
  // Throws std::invalid_argument on a bad config (start-up only).
  Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop, EventSink sink,
          LogFn log);

  // For tests.
  [[nodiscard]] BookState book_state(std::size_t index) const noexcept {
    return sync_.state(static_cast<core::InstrumentId>(index));
  }

private:
  void subscribe_all() override;
  void resubscribe(const std::vector<std::size_t>& products) override;
  void on_frame(PaddedView frame, std::uint64_t recv_ticks) override;
  [[nodiscard]] ResubscribeBookSet& books() noexcept override { return sync_; }
  [[nodiscard]] std::string subscribe_text(std::string_view type, const std::vector<std::size_t>& products,
                                           bool all_channels) const;

  std::string depth_channel_;
  Parser parser_;
  BookSync sync_;
};

} // namespace qf::feeds::coinbase
