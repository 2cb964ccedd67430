#pragma once
// Session: Binance spot or USD-M market data for a set of instruments on one feed thread.
// Instruments are spread over combined-stream connections (`/stream?streams=` with bookTicker,
// trade and the configured depth stream per symbol, streams_per_connection at most); each
// connection has its own Parser and padded receive buffer, each instrument its BookSync.
// Depth snapshots go through the shared RestBudget, oldest request first; a 429 / 418 backs the
// whole budget off for Retry-After. Connection policy: lws answers the venue's ping frames; a
// connection without a data frame for stale_after_ms is stale (answering pings is not enough):
// its books are marked stale and it reconnects. Reconnects use exponential backoff with full
// jitter; `serverShutdown` and the connection age limit (before Binance's 24 h) reconnect at
// once. An instrument whose book has not changed for instrument_stale_after_ms while
// connected is marked stale until its next update. Everything runs on the loop thread.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qf/feeds/binance/book_sync.hpp"
#include "qf/feeds/binance/parser.hpp"
#include "qf/feeds/feed.hpp"
#include "qf/feeds/net/loop.hpp"
#include "qf/feeds/net/rest_budget.hpp"
#include "qf/feeds/net/url.hpp"
#include "qf/feeds/reconnector.hpp"
#include "qf/feeds/recorder.hpp"
#include "qf/feeds/session_core.hpp"

namespace qf::feeds::binance {

// The reconnect and staleness fields (stale_after_ms, instrument_stale_after_ms,
// reconnect_min_ms, reconnect_max_ms, max_connection_age_s, seed) come from ReconnectConfig.
struct SessionConfig : ReconnectConfig {
  std::string name = "binance-spot"; // the feed's name in the state layout
  Market market = Market::spot;
  net::Url ws;   // base: "wss://stream.binance.com:9443"
  net::Url rest; // base: "https://api.binance.com"
  std::string depth_stream = "depth@100ms";
  int snapshot_limit = 1000;
  int snapshot_weight = 0; // 0: the documented weight for snapshot_limit
  int streams_per_connection = 200;
  std::size_t max_frame_bytes = std::size_t{1} << 20;
  std::size_t max_snapshot_bytes = std::size_t{8} << 20;
  Recorder* recorder = nullptr; // record_dir: raw frames, opens and snapshots (never blocks)
};

class Session final : public VenueSession {
public:
  // Throws std::invalid_argument on a bad config (start-up only).
  Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
          net::RestBudget& budget, EventSink sink, LogFn log);
  ~Session() override;

  void start() override;
  void tick(std::uint64_t now_mono_ns) override;
  bool resync(core::InstrumentId instrument) override;
  void stop() override;
  [[nodiscard]] ipc::FeedRecord record() const override;

  // For tests.
  [[nodiscard]] std::size_t connections() const noexcept { return conns_.size(); }
  [[nodiscard]] BookState book_state(std::size_t index) const noexcept;

private:
  struct Conn;
  struct Instrument;
  struct SnapshotCounters {
    std::uint64_t requests = 0, failures = 0;
  };

  void connect(Conn& c);
  void on_open(Conn& c);
  void on_message(Conn& c, PaddedView frame, std::uint64_t recv_ticks);
  void on_closed(Conn& c, std::string_view reason);
  void request_snapshots(std::uint64_t now);
  void on_snapshot(std::size_t index, std::uint64_t epoch, const std::string& url, net::HttpResult&& r);

  SessionConfig config_;
  net::Loop& loop_;
  net::RestBudget& budget_;
  SessionCore core_;
  std::vector<std::unique_ptr<Instrument>> instruments_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<std::size_t> snapshot_queue_; // instrument indices, oldest request first
  std::unique_ptr<PaddedBuffer> snapshot_buffer_;
  std::unique_ptr<Parser> snapshot_parser_;
  SnapshotCounters snapshots_;
};

} // namespace qf::feeds::binance
