#pragma once
// Reconnector: one websocket connection's reconnect policy and watchdogs, the same for every
// venue session. Backoff with full jitter: the n-th reconnect in a row waits uniform in
// [0, min(max, min * 2^n)] (at least 1 ns); n is reset once a connection had lived 30 s. A close
// the session asked for (serverShutdown, the stale watchdog, the age limit) reconnects at once.
// Watchdogs, one step() per loop tick: an open connection without a data frame for
// stale_after_ms is stale (a venue that answers pings but stalls its streams is stale too), one
// older than max_connection_age_s is renewed before the venue cuts it (Binance: 24 h); an
// instrument whose live book has not changed for instrument_stale_after_ms is stale. Pure policy
// over the connection's state and times (SessionCore opens and closes); testable alone. Loop
// thread, no allocation.

#include <cstdint>
#include <random>

namespace qf::feeds {

// The fields of every venue's SessionConfig that govern reconnects and staleness.
struct ReconnectConfig {
  int stale_after_ms = 10000;            // no data frame for this long: the connection is stale
  int instrument_stale_after_ms = 60000; // a live book unchanged this long while connected: stale
  int reconnect_min_ms = 250;            // backoff: the first ceiling, doubled per attempt
  int reconnect_max_ms = 30000;          // and its cap
  int max_connection_age_s = 23 * 3600;  // renewed before the venue's limit
  std::uint64_t seed = 0;                // backoff jitter (0: random)
};

class Reconnector {
public:
  enum class Step : std::uint8_t {
    wait,    // idle before its reconnect time, or connecting, or closing
    connect, // idle and its reconnect time has come: open it now
    stale,   // open but silent past stale_after_ms: close it (it reconnects at once)
    too_old, // open past max_connection_age_s: close it (it reconnects at once)
    healthy, // open and fine: the session's instrument watchdogs run
  };

  // The session's generator is shared by its connections (one jitter sequence per seed).
  Reconnector(const ReconnectConfig& config, std::mt19937_64& rng) noexcept : config_(config), rng_(&rng) {}

  // The connection is being opened: no reconnect pending, not stale.
  void opening() noexcept {
    next_connect_ns_ = 0;
    stale_ = false;
  }
  // The open was refused at once and the connection is idle: back off, unless the close that
  // the refusal caused has already scheduled the next attempt.
  void refused(std::uint64_t now_ns) noexcept;
  // The connection opened; true when it is a reconnect (it had been open before).
  bool opened() noexcept;
  // The connection closed (not at shutdown): schedules the next connect.
  void closed(std::uint64_t opened_mono_ns, std::uint64_t now_ns) noexcept;
  // The next close reconnects at once (serverShutdown).
  void reconnect_at_once() noexcept { at_once_ = true; }

  // One tick's watchdogs over the connection's state. stale is reported once per connection;
  // stale and too_old arm reconnect_at_once for the close that follows.
  [[nodiscard]] Step step(bool idle, bool connected, std::uint64_t last_rx_mono_ns, std::uint64_t opened_mono_ns,
                          std::uint64_t now_ns) noexcept;
  // An instrument's watchdog: true when its book last changed more than
  // instrument_stale_after_ms before now.
  [[nodiscard]] bool instrument_stale(std::uint64_t last_update_ns, std::uint64_t now_ns) const noexcept;

  [[nodiscard]] bool ever_opened() const noexcept { return ever_opened_; }
  [[nodiscard]] std::uint64_t next_connect_ns() const noexcept { return next_connect_ns_; } // 0: none pending
  [[nodiscard]] std::uint32_t attempt() const noexcept { return attempt_; }
  [[nodiscard]] std::uint64_t silent_ns() const noexcept { return silent_ns_; } // at the last stale step
  [[nodiscard]] const ReconnectConfig& config() const noexcept { return config_; }

private:
  void schedule(bool at_once, std::uint64_t now_ns) noexcept;

  ReconnectConfig config_;
  std::mt19937_64* rng_;
  std::uint64_t next_connect_ns_ = 0;
  std::uint64_t silent_ns_ = 0;
  std::uint32_t attempt_ = 0;
  bool ever_opened_ = false;
  bool at_once_ = false;
  bool stale_ = false;
};

} // namespace qf::feeds
