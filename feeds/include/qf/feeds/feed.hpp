#pragma once
// What every venue session shares: the ring its events go to (feed thread -> core thread), the
// request ring the core uses to ask a feed thread for something (resync an instrument), the
// per-feed counters it publishes into the state layout's FeedRecord, and the VenueSession
// interface a FeedThread drives. One session serves one venue's instruments on one feed thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "qf/core/event.hpp"
#include "qf/ipc/eventcount.hpp"
#include "qf/ipc/spsc_ring.hpp"
#include "qf/ipc/state_layout.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::feeds {

inline constexpr std::size_t kFeedRingSize = std::size_t{1} << 16;
using FeedRing = ipc::SpscRing<core::Event, kFeedRingSize>;

struct FeedRequest {
  enum class Kind : std::uint8_t { resync = 0 };
  Kind kind = Kind::resync;
  core::InstrumentId instrument = 0;
};
using RequestRing = ipc::SpscRing<FeedRequest, 256>;

// One instrument as a session sees it: its engine id and its venue spelling.
struct SessionInstrument {
  core::InstrumentId id = 0;
  std::string symbol;
  int price_decimals = 2;
  int qty_decimals = 8;
};

// Cold-path log output of a session (the engine routes it to spdlog); never from the core.
enum class LogLevel : std::uint8_t { info, warn, error };
using LogFn = std::function<void(LogLevel, std::string_view)>;

// Pushes events into a FeedRing, stamping the push time. A full ring means the core is behind:
// the feed thread waits (counted) rather than lose an event that a book depends on; it gives
// up only when `abandon` is set (shutdown), counting the drop. The high-water mark is sampled
// every 64 pushes. After each push it notifies `wake` (if set) so a parked core wakes; that
// costs one fence and one load while the core is not parked.
class RingSink {
public:
  RingSink(FeedRing& ring, const ipc::TscClock& clock, const std::atomic<bool>& abandon) noexcept
      : ring_(ring), clock_(clock), abandon_(abandon) {}

  // Start-up only: the EventCount the consumer parks on (nullptr: nobody parks, no notify).
  void wake_on_push(ipc::EventCount* wake) noexcept { wake_ = wake; }
  // Start-up only, inline mode: the consumer runs on this thread, so a full ring calls
  // `drain(context)` (the core agent's duty cycle) instead of waiting for another thread.
  void drain_when_full(void (*drain)(void*), void* context) noexcept {
    drain_ = drain;
    drain_context_ = context;
  }

  void operator()(const core::Event& event) noexcept {
    core::Event e = event;
    const std::uint64_t pushed = clock_.now();
    const std::uint64_t delta = pushed > e.recv_ticks ? pushed - e.recv_ticks : 0;
    e.push_delta_ticks = static_cast<std::uint32_t>(delta > 0xFFFFFFFFULL ? 0xFFFFFFFFULL : delta);
    while (!ring_.try_push(e)) {
      ++full_waits_;
      if (drain_ != nullptr) {
        drain_(drain_context_);
        continue;
      }
      if (abandon_.load(std::memory_order_relaxed)) {
        ++dropped_;
        return;
      }
    }
    if (wake_ != nullptr) {
      wake_->notify();
    }
    // The depth reads the consumer's index (its cache line): sampled, not paid per event.
    if ((++pushes_ & (kHighWaterSample - 1)) == 0) {
      const std::size_t depth = ring_.size_guess();
      high_water_ = depth > high_water_ ? depth : high_water_;
    }
  }

  [[nodiscard]] std::uint64_t full_waits() const noexcept { return full_waits_; }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }
  [[nodiscard]] std::uint64_t high_water() const noexcept { return high_water_; }

private:
  FeedRing& ring_;
  const ipc::TscClock& clock_;
  const std::atomic<bool>& abandon_;
  ipc::EventCount* wake_ = nullptr;
  void (*drain_)(void*) = nullptr;
  void* drain_context_ = nullptr;
  std::uint64_t full_waits_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t high_water_ = 0;
  std::uint64_t pushes_ = 0;
  static constexpr std::uint64_t kHighWaterSample = 64; // power of two
};

// The counters every session publishes as its FeedRecord.
struct FeedCounters {
  std::uint64_t messages = 0, bytes = 0, parse_errors = 0, reconnects = 0, gaps = 0, resyncs = 0, drops = 0;
  // The recorder (record_dir): frames its full queue refused for this feed, and its write
  // errors (the venue's recorder, shared by its feeds). Losses are never silent.
  std::uint64_t record_dropped = 0, record_write_errors = 0;
};

// A session's connections summed up for the FeedRecord: all open -> connected; else any opening
// -> connecting; else disconnected once one had opened, idle before.
[[nodiscard]] ipc::ConnectionState connection_state(std::size_t open, std::size_t opening, std::size_t total,
                                                    bool ever_opened) noexcept;
[[nodiscard]] ipc::FeedRecord feed_record(std::string_view name, ipc::ConnectionState state,
                                          const FeedCounters& counters) noexcept;

// A session's log: `sampled` lets at most 20 lines through per 10 s and then counts the rest,
// reporting how many were suppressed when the next window opens (bad input must not flood the
// log); `always` is for the rare lines (connects, closes). Callers name the session in their lines.
class SessionLog {
public:
  SessionLog(std::string name, LogFn log) : name_(std::move(name)), log_(std::move(log)) {}
  void sampled(LogLevel level, std::string_view text, std::uint64_t now_mono_ns);
  void always(LogLevel level, std::string_view text) const;

private:
  std::string name_;
  LogFn log_;
  std::uint64_t window_start_ns_ = 0;
  std::uint32_t lines_ = 0;
  std::uint64_t suppressed_ = 0;
};

class VenueSession {
public:
  virtual ~VenueSession() = default;
  // Opens the connections (loop thread).
  virtual void start() = 0;
  // Watchdogs, reconnects, snapshot scheduling, counter publishing; every loop tick.
  virtual void tick(std::uint64_t now_mono_ns) = 0;
  // The operator (control queue) asked for a fresh book of one of this session's instruments.
  virtual bool resync(core::InstrumentId instrument) = 0;
  // Closes every connection (shutdown).
  virtual void stop() = 0;
  // The counters as published (name, state, messages, ...).
  [[nodiscard]] virtual ipc::FeedRecord record() const = 0;
};

} // namespace qf::feeds
