#include "qf/feeds/feed_thread.hpp"

#include <algorithm>

namespace qf::feeds {

namespace {
constexpr std::uint64_t kPublishPeriodNs = 100'000'000; // counters: 10 Hz
}

FeedThread::FeedThread(const net::LoopConfig& loop, const ipc::TscClock& clock, LogFn log)
    : ring_(std::make_unique<FeedRing>()), requests_(std::make_unique<RequestRing>()),
      sink_(*ring_, clock, abandon_), log_(std::move(log)), loop_(std::make_unique<net::Loop>(loop, clock)) {}

FeedThread::~FeedThread() {
  stop(0);
  loop_.reset(); // lws teardown calls back into the sessions' connections: they still exist
}

void FeedThread::add_session(std::uint16_t feed_index, const std::vector<core::InstrumentId>& instruments,
                             const MakeSession& make) {
  sessions_.push_back({feed_index, instruments, make(*loop_, EventSink(sink_))});
}

bool FeedThread::serves(core::InstrumentId id) const noexcept {
  return std::any_of(sessions_.begin(), sessions_.end(), [id](const Entry& e) {
    return std::find(e.instruments.begin(), e.instruments.end(), id) != e.instruments.end();
  });
}

void FeedThread::start(std::function<void()> on_start) {
  thread_ = std::thread([this, on_start = std::move(on_start)] {
    if (on_start) {
      on_start();
    }
    for (Entry& e : sessions_) {
      e.session->start();
    }
    loop_->run([this] { on_tick(); });
    publish();
  });
}

void FeedThread::start_inline() {
  for (Entry& e : sessions_) {
    e.session->start();
  }
  loop_->begin([this] { on_tick(); });
}

void FeedThread::stop_inline(int grace_ms) {
  grace_ms_ = grace_ms;
  stop_requested_.store(true, std::memory_order_release);
  loop_->wake();
  while (loop_->service(true)) {
  }
  loop_->end();
  publish();
}

void FeedThread::stop(int grace_ms) {
  if (!thread_.joinable()) {
    return;
  }
  grace_ms_ = grace_ms;
  abandon_.store(true, std::memory_order_release); // never wait on a ring nobody drains any more
  stop_requested_.store(true, std::memory_order_release);
  loop_->wake();
  thread_.join();
}

void FeedThread::on_tick() {
  const std::uint64_t now = ipc::monotonic_ns();
  if (stop_requested_.load(std::memory_order_acquire)) {
    if (stop_deadline_ns_ == 0) {
      stop_deadline_ns_ = now + static_cast<std::uint64_t>(grace_ms_) * 1'000'000;
      for (Entry& e : sessions_) {
        e.session->stop();
      }
    }
    bool all_closed = true;
    for (const Entry& e : sessions_) {
      all_closed &= e.session->record().state != ipc::ConnectionState::connected &&
                    e.session->record().state != ipc::ConnectionState::connecting;
    }
    if (all_closed || now >= stop_deadline_ns_) {
      loop_->stop();
    }
    return;
  }
  FeedRequest r;
  while (requests_->try_pop(r)) {
    for (Entry& e : sessions_) {
      if (std::find(e.instruments.begin(), e.instruments.end(), r.instrument) != e.instruments.end()) {
        (void)e.session->resync(r.instrument);
      }
    }
  }
  for (Entry& e : sessions_) {
    e.session->tick(now);
  }
  if (now - last_publish_ns_ >= kPublishPeriodNs) {
    last_publish_ns_ = now;
    publish();
  }
}

void FeedThread::publish() {
  if (feeds_ == nullptr) {
    return;
  }
  for (const Entry& e : sessions_) {
    ipc::FeedRecord r = e.session->record();
    r.ring_high_water = sink_.high_water();
    r.drops += sink_.dropped();
    feeds_->feeds[e.feed_index].store(r);
  }
}

} // namespace qf::feeds
