#pragma once
// Bridge: qf-bridge's one loop. It follows the engine's state segment read-only (StateReader) and
// its tick journal (a BroadcastCursor: lapped means counted loss, never a wait on the engine), and
// publishes to NATS (libnats): every journal tick at once, the conflated records at conflate_hz,
// fills and notable events each once. Bars, signals, fills and events also land in JetStream
// streams (created or updated with the config's limits at every (re)connect), with a Nats-Msg-Id so
// a restarted bridge does not store a message twice. While NATS is down nothing is sent: every
// message is counted as unsent and the loop goes on; libnats reconnects with capped exponential
// backoff and full jitter.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "qf/config/config.hpp"

namespace qf::bridge {

struct BridgeStats {
  std::uint64_t published = 0;      // messages handed to NATS
  std::uint64_t unsent = 0;         // messages not sent because NATS was down (or refused them)
  std::uint64_t publish_errors = 0; // of those, refused by libnats while connected
  std::uint64_t ticks = 0;          // journal ticks delivered by the cursor
  std::uint64_t ticks_lost = 0;     // journal ticks overwritten before the bridge read them (lapped)
  std::uint64_t laps = 0;
  std::uint64_t fills_lost = 0, events_lost = 0; // past the state's recent-fills / events rings
  std::uint64_t reconnects = 0, disconnects = 0;
  std::uint64_t streams_ready = 0; // stream setups that succeeded
  std::uint64_t engine_restarts = 0;
  std::uint64_t bus_faults = 0; // SIGBUS while reading the journal (segment truncated): cursor dropped
};

class Bridge {
public:
  Bridge(const config::Config& config, std::string instance);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Runs until `stop` is set; returns the process exit code.
  int run(const std::atomic<bool>& stop);
  [[nodiscard]] const BridgeStats& stats() const noexcept;
  // The counters as one JSON object (the bridge.stats payload and the exit summary).
  [[nodiscard]] std::string stats_json() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace qf::bridge
