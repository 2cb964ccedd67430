#include "qf/feeds/resubscribe_session.hpp"

#include <stdexcept>
#include <utility>

namespace qf::feeds {

void ResubscribeSession::ToEngineIds::operator()(const core::Event& e) const {
  core::Event out = e;
  out.instrument = session->instruments_[e.instrument].spec.id;
  session->core_.sink()(out);
}

ResubscribeSession::ResubscribeSession(const ResubscribeSessionConfig& config,
                                       std::vector<SessionInstrument> instruments, net::Loop& loop, EventSink sink,
                                       LogFn log)
    : config_(config), loop_(loop), core_(config.name, sink, std::move(log), config.recorder, config.seed),
      ws_(loop, *this, config.max_frame_bytes), reconnector_(config_, core_.rng()) {
  if (instruments.empty()) {
    throw std::invalid_argument(config.name + ": a session needs at least one instrument");
  }
  for (SessionInstrument& s : instruments) {
    instruments_.push_back({std::move(s), 0, false});
  }
}

ResubscribeSession::~ResubscribeSession() = default;

void ResubscribeSession::start() {
  core_.set_now(ipc::monotonic_ns());
  connect();
}

void ResubscribeSession::stop() {
  core_.stop();
  ws_.close();
}

void ResubscribeSession::connect() { core_.connect(reconnector_, ws_, config_.ws); }

void ResubscribeSession::on_open() {
  const std::uint64_t ticks = loop_.clock().now();
  const bool reconnect = core_.on_open(reconnector_, config_.ws.text());
  core_.log_always(LogLevel::info, config_.name + ": connected, subscribing " + std::to_string(instruments_.size()) +
                                       " instruments");
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    Instrument& in = instruments_[i];
    in.stale = false;
    in.last_update_ns = core_.now();
    // The subscribe brings every book's snapshot: older resubscribe requests are answered by it.
    (void)books().take_resubscribe_request(static_cast<core::InstrumentId>(i));
    core_.status(in.spec.id, core::FeedStatus::connected, ticks);
    if (reconnect) {
      ++core_.counters().resyncs; // the fresh snapshot after a reconnect
    }
  }
  subscribe_all();
  awaiting_subscribed_ = true;
}

void ResubscribeSession::on_oversized(std::size_t bytes) {
  core_.on_oversized(bytes, "resubscribing the books");
  for (const Instrument& in : instruments_) {
    (void)resync(in.spec.id);
  }
}

void ResubscribeSession::on_closed(std::string_view reason) {
  core_.on_closed(reconnector_, ws_, reason);
  awaiting_subscribed_ = false;
  books().on_disconnect(loop_.clock().now(), engine_sink()); // every book not live, `disconnected` each
}

void ResubscribeSession::subscribe_answered(std::uint64_t recv_ticks) {
  if (!awaiting_subscribed_) {
    return;
  }
  awaiting_subscribed_ = false;
  for (const Instrument& in : instruments_) {
    core_.status(in.spec.id, core::FeedStatus::subscribed, recv_ticks);
  }
}

void ResubscribeSession::touched(std::size_t index, bool snapshot_applied, std::uint64_t recv_ticks) {
  Instrument& in = instruments_[index];
  in.last_update_ns = core_.now();
  if (snapshot_applied) {
    in.stale = false; // BookSync emitted book_live
  } else if (in.stale && book_live(index)) {
    in.stale = false;
    core_.status(in.spec.id, core::FeedStatus::book_live, recv_ticks);
  }
}

bool ResubscribeSession::resync(core::InstrumentId id) {
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    if (instruments_[i].spec.id == id) {
      books().resync(static_cast<core::InstrumentId>(i), loop_.clock().now(), engine_sink());
      ++core_.counters().resyncs;
      send_resubscribes();
      return true;
    }
  }
  return false;
}

void ResubscribeSession::send_resubscribes() {
  if (!ws_.connected()) {
    return; // the reconnect's subscribe brings fresh snapshots (on_open clears the requests)
  }
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    if (books().take_resubscribe_request(static_cast<core::InstrumentId>(i))) {
      indices.push_back(i);
    }
  }
  if (!indices.empty()) {
    resubscribe(indices);
  }
}

void ResubscribeSession::tick(std::uint64_t now) {
  core_.set_now(now);
  if (core_.stopping()) {
    return;
  }
  const std::uint64_t ticks = loop_.clock().now();
  switch (core_.watch(reconnector_, ws_)) {
  case Reconnector::Step::connect:
    connect();
    return;
  case Reconnector::Step::stale:
    for (const Instrument& in : instruments_) {
      core_.status(in.spec.id, core::FeedStatus::stale, ticks);
    }
    return;
  case Reconnector::Step::healthy:
    break;
  default:
    return;
  }
  on_healthy(now);
  send_resubscribes();
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    Instrument& in = instruments_[i];
    if (!in.stale && book_live(i) && reconnector_.instrument_stale(in.last_update_ns, now)) {
      in.stale = true;
      core_.status(in.spec.id, core::FeedStatus::stale, ticks);
    }
  }
}

ipc::FeedRecord ResubscribeSession::record() const {
  const bool open = ws_.connected();
  return feed_record(config_.name,
                     connection_state(open ? 1U : 0U, !open && !ws_.idle() ? 1U : 0U, 1, reconnector_.ever_opened()),
                     core_.counters());
}

} // namespace qf::feeds
