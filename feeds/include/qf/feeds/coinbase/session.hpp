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
#include <memory>
#include <string>
#include <vector>

#include "qf/feeds/coinbase/book_sync.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/feed.hpp"
#include "qf/feeds/net/loop.hpp"
#include "qf/feeds/net/url.hpp"
#include "qf/feeds/reconnector.hpp"
#include "qf/feeds/recorder.hpp"
#include "qf/feeds/session_core.hpp"

namespace qf::feeds::coinbase {

// The reconnect and staleness fields (stale_after_ms, instrument_stale_after_ms,
// reconnect_min_ms, reconnect_max_ms, max_connection_age_s, seed) come from ReconnectConfig.
struct SessionConfig : ReconnectConfig {
  std::string name = "coinbase"; // the feed's name in the state layout
  net::Url ws;                   // "wss://ws-feed.exchange.coinbase.com" (path "/")
  std::string depth_channel = "level2_batch"; // level2 needs authentication since 2023
  // A level2 snapshot is the whole aggregated book (megabytes for BTC-USD).
  std::size_t max_frame_bytes = std::size_t{4} << 20;
  Recorder* recorder = nullptr; // record_dir: raw frames and opens (never blocks)
};

class Session final : public VenueSession {
public:
  // Throws std::invalid_argument on a bad config (start-up only).
  Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop, EventSink sink,
          LogFn log);
  ~Session() override;

  void start() override;
  void tick(std::uint64_t now_mono_ns) override;
  bool resync(core::InstrumentId instrument) override;
  void stop() override;
  [[nodiscard]] ipc::FeedRecord record() const override;

  // For tests.
  [[nodiscard]] BookState book_state(std::size_t index) const noexcept;
  [[nodiscard]] bool connected() const noexcept;

private:
  struct Conn;
  struct Instrument {
    SessionInstrument spec;
    std::uint64_t last_update_ns = 0;
    bool stale = false;
  };
  // Rewrites the Parser's / BookSync's product index into the engine's instrument id.
  struct ToEngineIds {
    Session* session;
    void operator()(const core::Event& e) const;
  };

  void connect();
  void on_open();
  void on_message(PaddedView frame, std::uint64_t recv_ticks);
  void on_closed(std::string_view reason);
  void send_resubscribes();
  [[nodiscard]] std::string subscribe_text(std::string_view type, const std::vector<std::size_t>& products,
                                           bool all_channels) const;

  SessionConfig config_;
  net::Loop& loop_;
  SessionCore core_;
  ToEngineIds to_engine_{this};
  std::vector<Instrument> instruments_; // index = the Parser's product id
  std::unique_ptr<Conn> conn_;
};

} // namespace qf::feeds::coinbase
