#pragma once
// ResubscribeSession: the VenueSession of a venue that carries every instrument on one websocket
// connection and whose books come back only by resubscribing (Coinbase Exchange level2, Kraken
// v2 book; no REST), written once. It owns the connection and its Reconnector, the session's
// SessionCore, the instruments (index = the parser's id 0..n-1; events leave with the engine's
// ids through engine_sink()) and their staleness; it connects, reconnects, runs the watchdogs
// (a connection without data for stale_after_ms is stale and reconnects at once; a live book
// without any message for instrument_stale_after_ms is `stale` until its next one), answers the
// operator's resync and resubscribes what the venue's BookSync asks for. A venue derives and
// writes its subscribe messages and its frame handling (parse, BookSync, then touched()), and
// names its BookSync (books()). Everything runs on the loop thread.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/event_sink.hpp"
#include "qf/feeds/feed.hpp"
#include "qf/feeds/net/loop.hpp"
#include "qf/feeds/net/url.hpp"
#include "qf/feeds/padded_buffer.hpp"
#include "qf/feeds/reconnector.hpp"
#include "qf/feeds/recorder.hpp"
#include "qf/feeds/resubscribe_books.hpp"
#include "qf/feeds/session_core.hpp"

namespace qf::feeds {

// The reconnect and staleness fields come from ReconnectConfig.
struct ResubscribeSessionConfig : ReconnectConfig {
  std::string name; // the feed's name in the state layout
  net::Url ws;
  std::size_t max_frame_bytes = std::size_t{1} << 20;
  Recorder* recorder = nullptr; // record_dir: raw frames and opens (never blocks)
};

class ResubscribeSession : public VenueSession, private net::WsConnection::Handler {
public:
  ~ResubscribeSession() override;

  void start() override;
  void tick(std::uint64_t now_mono_ns) override;
  bool resync(core::InstrumentId instrument) override;
  void stop() override;
  [[nodiscard]] ipc::FeedRecord record() const override;

  // For tests.
  [[nodiscard]] bool connected() const noexcept { return ws_.connected(); }

protected:
  struct Instrument {
    SessionInstrument spec;
    std::uint64_t last_update_ns = 0;
    bool stale = false;
  };

  // Throws std::invalid_argument without instruments (start-up only).
  ResubscribeSession(const ResubscribeSessionConfig& config, std::vector<SessionInstrument> instruments,
                     net::Loop& loop, EventSink sink, LogFn log);

  // ---- What the venue writes ----
  // The connection opened (statuses sent, old resubscribe requests taken): subscribe everything;
  // the venue's first answer to it calls subscribe_answered().
  virtual void subscribe_all() = 0;
  // Leave and rejoin the book channel of these instruments (indices), for fresh snapshots.
  virtual void resubscribe(const std::vector<std::size_t>& indices) = 0;
  // One data frame: parse (core_.parse), BookSync, then touched() for the instrument.
  virtual void on_frame(PaddedView frame, std::uint64_t recv_ticks) = 0;
  // The venue's BookSync (its ids are the instrument indices).
  [[nodiscard]] virtual ResubscribeBookSet& books() noexcept = 0;
  // Once per tick while the connection is healthy (a venue's keepalive).
  virtual void on_healthy(std::uint64_t /*now_mono_ns*/) {}

  // ---- What the venue uses ----
  // A message for instrument `index` arrived: its staleness clock restarts, and a stale live book
  // is `book_live` again (`snapshot_applied`: BookSync already emitted book_live).
  void touched(std::size_t index, bool snapshot_applied, std::uint64_t recv_ticks);
  // Sends resubscribes for every book BookSync asks for (now, or by the reconnect's subscribe).
  void send_resubscribes();
  // Rewrites the parser's index into the engine's id on the way to the core.
  [[nodiscard]] EventSink engine_sink() noexcept { return EventSink(to_engine_); }
  // The venue answered the subscribe of this connection: every instrument's `subscribed` status,
  // once per connection.
  void subscribe_answered(std::uint64_t recv_ticks);

  ResubscribeSessionConfig config_;
  net::Loop& loop_;
  SessionCore core_;
  std::vector<Instrument> instruments_; // index = the Parser's id
  net::WsConnection ws_;
  Reconnector reconnector_;

private:
  struct ToEngineIds {
    ResubscribeSession* session;
    void operator()(const core::Event& e) const;
  };

  void connect();
  [[nodiscard]] bool book_live(std::size_t index) noexcept {
    return books().state(static_cast<core::InstrumentId>(index)) == SubscribedBookState::live;
  }
  void on_open() override;
  void on_message(PaddedView frame, std::uint64_t recv_ticks) override { on_frame(frame, recv_ticks); }
  void on_oversized(std::size_t bytes) override;
  void on_binary() override { core_.on_binary(); }
  void on_closed(std::string_view reason) override;

  ToEngineIds to_engine_{this};
  bool awaiting_subscribed_ = false; // the subscribe went out; its first answer emits `subscribed`
};

} // namespace qf::feeds
