#pragma once
// Session: the Kraken WebSocket v2 public feed (PROTOCOLS.md 4.1-4.3) for a set of symbols on one
// feed thread, on ResubscribeSession (one connection, reconnects, watchdogs, resync). On open it
// subscribes `book` (depth 10 by default, with snapshot), `trade` (no snapshot: the 50 past trades
// would count twice after a reconnect) and `ticker` (event_trigger bbo, so the bbo follows the
// book), one request each for every symbol; the first subscribe answer emits `subscribed`, each
// verified snapshot `book_live` (kraken::BookSync). Every book message carries a CRC32 of the top
// 10: a mismatch is a gap (BookSync emits `gap`, counted in the feed's `gaps`, a notable event in
// the engine) and the book is resubscribed (unsubscribe then subscribe of that symbol's book) for
// a fresh snapshot; updates in flight meanwhile are dropped as not live (counted `drops`). An
// app-level `ping` goes out every ping_interval_ms (the pong and the heartbeat, sent when nothing
// else is, are data frames, so a quiet but healthy connection is not stale); a heartbeat counts
// as a message for every symbol. A refused request (`success:false`) is a venue error (logged).
// Everything runs on the loop thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qf/feeds/kraken/book_sync.hpp"
#include "qf/feeds/kraken/parser.hpp"
#include "qf/feeds/resubscribe_session.hpp"

namespace qf::feeds::kraken {

struct SessionConfig : ResubscribeSessionConfig {
  SessionConfig() { name = "kraken"; } // ws: "wss://ws.kraken.com/v2"
  int depth = 10;                      // the book subscription: 10, 25, 100, 500 or 1000
  int ping_interval_ms = 10'000;       // the app-level ping
};

// Connection, reconnects, watchdogs, operator resync: ResubscribeSession.
class Session final : public ResubscribeSession {
public:
  // Throws std::invalid_argument on a bad config (depth not one of Kraken's, ping interval
  // not positive) or a symbol BookSync refuses (start-up only). Symbols are Kraken's ("BTC/USD");
  // the checksum precision is known_precision's when the pair is known, else the decimals.
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
  // {"method":M,"params":{"channel":C,"symbol":[...]<extra>},"req_id":N}
  [[nodiscard]] std::string request(std::string_view method, std::string_view channel,
                                    const std::vector<std::size_t>& indices, std::string_view extra);

  int depth_;
  std::uint64_t ping_interval_ns_;
  Parser parser_;
  BookSync sync_;
  std::uint64_t next_req_id_ = 1;
  std::uint64_t last_ping_ns_ = 0;
};

} // namespace qf::feeds::kraken
