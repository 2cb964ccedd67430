#pragma once
// SessionCore: what every venue session does the same way, written once. It holds the session's
// name, sampled log, counters, event sink, recorder and backoff generator, and takes the paths
// that do not depend on the venue: each data frame (counted, recorded), the parse-error path (an
// unknown instrument is a counted drop; any other failure is a parse error, logged sampled with
// the frame's first 160 bytes), an oversized or a binary frame, a status event, and a
// connection's life through its Reconnector (open or back off, count the reconnect, record the
// open, watchdog steps that close a stale or too old connection, schedule the next connect on a
// close). A venue session keeps its subscriptions, its book sync wiring and what its venue does
// at each of these points. One per session, on the loop thread; cold paths may allocate.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "qf/core/event.hpp"
#include "qf/feeds/event_sink.hpp"
#include "qf/feeds/feed.hpp"
#include "qf/feeds/net/loop.hpp"
#include "qf/feeds/net/url.hpp"
#include "qf/feeds/padded_buffer.hpp"
#include "qf/feeds/parse_result.hpp"
#include "qf/feeds/reconnector.hpp"

namespace qf::feeds {

class Recorder;

// The published counters (FeedRecord) plus the ones every session keeps for its log.
struct SessionCounters : FeedCounters {
  std::uint64_t oversized = 0, unknown_instrument = 0, venue_errors = 0, stale_connections = 0;
};

class SessionCore {
public:
  SessionCore(std::string name, EventSink sink, LogFn log, Recorder* recorder, std::uint64_t seed);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] EventSink sink() const noexcept { return sink_; }
  [[nodiscard]] Recorder* recorder() const noexcept { return recorder_; }
  [[nodiscard]] SessionCounters& counters() noexcept { return counters_; }
  [[nodiscard]] const SessionCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::mt19937_64& rng() noexcept { return rng_; }
  // The session's monotonic time: set by start() and every tick.
  [[nodiscard]] std::uint64_t now() const noexcept { return now_; }
  void set_now(std::uint64_t now_mono_ns) noexcept { now_ = now_mono_ns; }
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }
  void stop() noexcept { stopping_ = true; }

  // At most 20 lines per 10 s (SessionLog::sampled); `always` for connects and closes.
  void log(LogLevel level, const std::string& text) { log_.sampled(level, text, now_); }
  void log_always(LogLevel level, std::string_view text) const { log_.always(level, text); }

  // A data frame arrived: counted (messages, bytes), recorded and parsed into `m` by the venue's
  // parser; false when it did not parse (the failure went down the parse-error path).
  template <class Parser, class Message>
  [[nodiscard]] bool parse(Parser& parser, PaddedView frame, Message& m) {
    on_frame(frame);
    const ParseResult r = parser.parse(frame, m);
    if (r != ParseResult::ok) {
      on_parse_failure(r, frame);
      return false;
    }
    return true;
  }
  void on_frame(PaddedView frame) noexcept;
  // The parse-error path of every session.
  void on_parse_failure(ParseResult r, PaddedView frame);
  // A frame over max_frame_bytes (skipped by the connection): a parse error; `consequence` says
  // what the session does about it ("resyncing the connection's books").
  void on_oversized(std::size_t bytes, std::string_view consequence);
  void on_binary();
  // A status event for one instrument (engine id), with no id and no exchange time.
  void status(core::InstrumentId instrument, core::FeedStatus s, std::uint64_t recv_ticks) const noexcept;

  // Opens `ws`; a refusal is logged and backs off.
  void connect(Reconnector& r, net::WsConnection& ws, const net::Url& url);
  // `ws` opened: counts a reconnect and records the open; true when it was a reconnect.
  bool on_open(Reconnector& r, std::string_view url_text);
  // `ws` closed: logged; unless stopping, the next connect is scheduled.
  void on_closed(Reconnector& r, const net::WsConnection& ws, std::string_view reason);
  // One tick's watchdogs for `ws`: a stale or too old connection is logged (stale counted) and
  // closed here; on Step::connect the caller connects, on Step::stale it marks its books stale.
  Reconnector::Step watch(Reconnector& r, net::WsConnection& ws);

private:
  std::string name_;
  EventSink sink_;
  SessionLog log_;
  Recorder* recorder_;
  std::mt19937_64 rng_;
  SessionCounters counters_;
  std::uint64_t now_ = 0;
  bool stopping_ = false;
};

} // namespace qf::feeds
