#pragma once
// Session: the Coinbase Advanced Trade public feed (PROTOCOLS.md 3.2) for a set of products on one
// feed thread, on ResubscribeSession (one connection, reconnects, watchdogs, resync). On open it
// sends one subscribe per channel (the venue takes exactly one channel a message): `level2`,
// `market_trades`, `ticker` for every product, and `heartbeats` (a message a second, so a quiet
// market does not close the connection; no keys for public channels). The first `subscriptions`
// answer emits `subscribed`, each level2 snapshot `book_live` (coinbase_advanced::BookSync).
// Integrity is `sequence_num`, one counter per connection across channels: a break is a gap for
// every live book (BookSync emits `gap` for each, counted in the feed's `gaps` once per book) and
// every product's level2 is resubscribed (unsubscribe then subscribe) for a fresh snapshot;
// updates in flight meanwhile are dropped as not live (counted `drops`). An `error` answer is a
// venue error (counted, logged). Everything runs on the loop thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qf/feeds/coinbase_advanced/book_sync.hpp"
#include "qf/feeds/coinbase_advanced/parser.hpp"
#include "qf/feeds/resubscribe_session.hpp"

namespace qf::feeds::coinbase_advanced {

struct SessionConfig : ResubscribeSessionConfig {
  SessionConfig() {
    name = "coinbase-advanced";              // ws: "wss://advanced-trade-ws.coinbase.com"
    max_frame_bytes = std::size_t{16} << 20U; // the level2 snapshot is the whole book in one frame
  }
};

// Connection, reconnects, watchdogs, operator resync: ResubscribeSession.
class Session final : public ResubscribeSession {
public:
  // Throws std::invalid_argument on bad decimals or no products (start-up only). Products as
  // Coinbase spells them ("BTC-USD").
  Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop, EventSink sink,
          LogFn log);

  // For tests.
  [[nodiscard]] BookState book_state(std::size_t index) const noexcept {
    return sync_.state(static_cast<core::InstrumentId>(index));
  }
  [[nodiscard]] const ConnectionCounters& connection_counters() const noexcept { return sync_.connection(); }

private:
  void subscribe_all() override;
  void resubscribe(const std::vector<std::size_t>& indices) override;
  void on_frame(PaddedView frame, std::uint64_t recv_ticks) override;
  // BookSync's answer to message `m`: a broken chain resubscribes level2, drops are counted.
  void on_sync(const SyncReport& r, const Message& m);
  [[nodiscard]] ResubscribeBookSet& books() noexcept override { return sync_; }
  // {"type":TYPE,"product_ids":[...],"channel":CHANNEL}
  [[nodiscard]] std::string request(std::string_view type, std::string_view channel,
                                    const std::vector<std::size_t>& indices) const;

  Parser parser_;
  BookSync sync_;
};

} // namespace qf::feeds::coinbase_advanced
