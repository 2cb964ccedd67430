#pragma once
// Session: the Bybit v5 public feed (PROTOCOLS.md 5.1-5.3), spot or linear by its endpoint, for a
// set of instruments on one feed thread, on ResubscribeSession (one connection, reconnects,
// watchdogs, resync). On open it subscribes `orderbook.{depth}.{symbol}` (the config's depth,
// snapshot then deltas), `publicTrade.{symbol}` and `tickers.{symbol}` for every instrument, at
// most 10 args a request (spot's limit); the first successful op ack emits `subscribed`, each
// snapshot `book_live` (bybit::BookSync). A delta whose `u` is not the previous `u` + 1 (or whose
// `seq` goes back) is a gap (BookSync emits `gap`, counted in the feed's `gaps`) and that book is
// resubscribed (unsubscribe then subscribe of its orderbook topic) for a fresh snapshot; deltas in
// flight meanwhile are dropped as not live (counted `drops`). Keepalive: `{"op":"ping"}` every
// ping_interval_ms (Bybit recommends 20 s), at most stale_after_ms / 2, whatever else arrives; the
// pong is a data frame, so a silent venue ends as a stale connection that reconnects. An op answer
// with success false is a venue error (counted, logged). Everything runs on the loop thread.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qf/feeds/bybit/book_sync.hpp"
#include "qf/feeds/bybit/parser.hpp"
#include "qf/feeds/resubscribe_session.hpp"

namespace qf::feeds::bybit {

struct SessionConfig : ResubscribeSessionConfig {
  SessionConfig() { name = "bybit-spot"; } // ws: "wss://stream.bybit.com/v5/public/spot"
  std::size_t depth = 50;           // orderbook.{depth}: 1, 50, 200 or 1000
  int ping_interval_ms = 20'000;    // the op ping, every this often (at most stale_after_ms / 2)
};

// Connection, reconnects, watchdogs, operator resync: ResubscribeSession.
class Session final : public ResubscribeSession {
public:
  // Throws std::invalid_argument on a bad config (a depth Bybit does not offer, a ping interval or
  // stale_after_ms not positive) or bad decimals (start-up only). Instruments are symbols ("BTCUSDT").
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
  // {"op":OP,"args":[TOPIC.SYMBOL,...]} for each topic and index, 10 args a request at most
  void send_requests(std::string_view op, const std::vector<std::string>& topics,
                     const std::vector<std::size_t>& indices);

  std::string book_topic_;
  std::uint64_t ping_interval_ns_;
  Parser parser_;
  BookSync sync_;
  std::uint64_t last_ping_ns_ = 0;
};

} // namespace qf::feeds::bybit
