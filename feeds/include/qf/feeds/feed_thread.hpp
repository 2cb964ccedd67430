#pragma once
// FeedThread: one network thread of the engine. It owns a net::Loop (one libwebsockets context)
// and the venue sessions placed on it, pushes their events into its FeedRing (consumed by the
// core thread), takes requests from the core through its RequestRing (resync an instrument),
// and publishes each session's counters into the state layout's FeedRecord (one writer per
// record: this thread). stop() closes the connections and joins; any thread may call it once.
// Inline mode runs the same sessions and loop without a thread of its own: the core thread calls
// start_inline(), then service() between its drains, then stop_inline().

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "qf/feeds/event_sink.hpp"
#include "qf/feeds/feed.hpp"
#include "qf/feeds/net/loop.hpp"

namespace qf::feeds {

class FeedThread {
public:
  using MakeSession = std::function<std::unique_ptr<VenueSession>(net::Loop&, EventSink)>;

  FeedThread(const net::LoopConfig& loop, const ipc::TscClock& clock, LogFn log);
  ~FeedThread();
  FeedThread(const FeedThread&) = delete;
  FeedThread& operator=(const FeedThread&) = delete;

  // Start-up only, before start(): a session publishing into feeds->feeds[feed_index], serving
  // `instruments` (their engine ids, for resync requests).
  void add_session(std::uint16_t feed_index, const std::vector<core::InstrumentId>& instruments,
                   const MakeSession& make);
  // Where the counters go (nullptr: nowhere).
  void publish_to(ipc::FeedTable* feeds) noexcept { feeds_ = feeds; }
  // Whom each push wakes (the core's EventCount; nullptr: nobody).
  void wake_on_push(ipc::EventCount* wake) noexcept { sink_.wake_on_push(wake); }

  // Spawns the thread; `on_start` runs first on it (pinning, naming).
  void start(std::function<void()> on_start);
  // Closes every connection (waiting up to `grace_ms` for the closes), then joins.
  void stop(int grace_ms = 500);

  // Inline mode (all on the calling thread, which also drains the ring): starts the sessions;
  // service() is one network pass (see net::Loop::service); stop_inline() closes every
  // connection, servicing the loop for up to `grace_ms`.
  void start_inline();
  bool service(bool may_block) { return loop_->service(may_block); }
  void stop_inline(int grace_ms = 500);
  void drain_when_full(void (*drain)(void*), void* context) noexcept { sink_.drain_when_full(drain, context); }

  [[nodiscard]] FeedRing& ring() noexcept { return *ring_; }
  [[nodiscard]] RequestRing& requests() noexcept { return *requests_; }
  [[nodiscard]] bool serves(core::InstrumentId id) const noexcept;

private:
  struct Entry {
    std::uint16_t feed_index;
    std::vector<core::InstrumentId> instruments;
    std::unique_ptr<VenueSession> session;
  };
  void on_tick();
  void publish();

  std::unique_ptr<FeedRing> ring_;
  std::unique_ptr<RequestRing> requests_;
  std::atomic<bool> abandon_{false};
  std::atomic<bool> stop_requested_{false};
  RingSink sink_;
  LogFn log_;
  ipc::FeedTable* feeds_ = nullptr;
  std::vector<Entry> sessions_; // destroyed after loop_ (callbacks during lws teardown reach them)
  std::unique_ptr<net::Loop> loop_;
  std::thread thread_;
  std::uint64_t stop_deadline_ns_ = 0;
  std::uint64_t last_publish_ns_ = 0;
  int grace_ms_ = 500;
};

} // namespace qf::feeds
