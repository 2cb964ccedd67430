#include "qf/feeds/binance/book_sync.hpp"

#include <algorithm>
#include <stdexcept>

#include "qf/feeds/emitters.hpp"

namespace qf::feeds::binance {

namespace {

constexpr std::size_t kMaxLevelIndex = 0xffffffffU; // Diff stores level offsets as uint32

} // namespace

BookSync::BookSync(core::InstrumentId instrument, const BookSyncConfig& config)
    : instrument_(instrument), config_(config) {
  if (config.max_buffered_diffs == 0 || config.max_buffered_levels == 0 ||
      config.max_buffered_levels > kMaxLevelIndex) {
    throw std::invalid_argument("binance::BookSync: buffer capacities must be in [1, 2^32)");
  }
  diffs_.resize(config.max_buffered_diffs);
  levels_.resize(config.max_buffered_levels);
}

// The snapshot already holds every update of the diff: spot drops u <= lastUpdateId, USD-M
// only u < lastUpdateId (PROTOCOLS.md 1.4 step 5, 2 step 3).
bool BookSync::contained(const Step& d, std::uint64_t id) const noexcept {
  return config_.market == Market::spot ? d.last_id <= id : d.last_id < id;
}

// The first diff applied on a snapshot: spot U <= lastUpdateId + 1 <= u, USD-M U <= lastUpdateId <= u.
bool BookSync::bridges(const Step& d, std::uint64_t id) const noexcept {
  return config_.market == Market::spot ? d.first_id <= id + 1 && id + 1 <= d.last_id
                                        : d.first_id <= id && id <= d.last_id;
}

// Every later diff: spot U == previous u + 1; USD-M pu == previous u (its ids are global
// across symbols, so U does not follow u).
bool BookSync::chains(const Step& d) const noexcept {
  return config_.market == Market::spot ? d.first_id == update_id_ + 1 : d.prev_id == update_id_;
}

SyncOutcome BookSync::on_message(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  switch (m.kind) {
  case MessageKind::depth_update:
    return on_diff(m, recv_ticks, sink);
  case MessageKind::depth_snapshot:
    return on_snapshot(m, recv_ticks, sink);
  default:
    ++counters_.ignored;
    return SyncOutcome::ignored;
  }
}

SyncOutcome BookSync::on_diff(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (m.kind != MessageKind::depth_update || m.instrument != instrument_) {
    ++counters_.ignored;
    return SyncOutcome::ignored;
  }
  const Step d{m.first_update_id, m.last_update_id, m.prev_update_id};
  switch (phase_) {
  case Phase::live:
    if (chains(d)) {
      (void)emit_levels(instrument_, m.bids, m.asks, d.last_id, m.event_ns, recv_ticks, true, sink);
      update_id_ = d.last_id;
      ++counters_.applied_diffs;
      return SyncOutcome::applied;
    }
    if (d.last_id <= update_id_) { // a repeat of updates the book has: harmless, dropped
      ++counters_.dropped_stale;
      return SyncOutcome::stale;
    }
    enter_gap(m.event_ns, recv_ticks, sink);
    (void)push(m, recv_ticks); // the first diff of the next synchronisation
    return SyncOutcome::gap;
  case Phase::bridging:
    if (contained(d, update_id_)) {
      ++counters_.dropped_stale;
      return SyncOutcome::stale;
    }
    if (bridges(d, update_id_)) {
      (void)emit_levels(instrument_, m.bids, m.asks, d.last_id, m.event_ns, recv_ticks, true, sink);
      sync_point_.first_id = d.first_id;
      sync_point_.last_id = d.last_id;
      update_id_ = d.last_id;
      ++counters_.applied_diffs;
      phase_ = Phase::live;
      state_ = BookState::live;
      emit_status(core::FeedStatus::book_live, m.event_ns, recv_ticks, sink);
      return SyncOutcome::applied;
    }
    // The stream is already past the snapshot (U > lastUpdateId + 1): it cannot be used.
    ++counters_.stale_snapshots;
    ++counters_.resyncs;
    phase_ = Phase::buffering;
    request();
    emit_status(core::FeedStatus::resync, m.event_ns, recv_ticks, sink);
    (void)push(m, recv_ticks);
    return SyncOutcome::snapshot_stale;
  case Phase::buffering:
    break;
  }
  return buffer(m, recv_ticks, sink);
}

SyncOutcome BookSync::buffer(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (!push(m, recv_ticks)) {
    // Full: the snapshot is too late for this buffer. Start over with a fresh request.
    ++counters_.overflows;
    ++counters_.resyncs;
    clear_buffer();
    state_ = BookState::syncing;
    request();
    emit_status(core::FeedStatus::resync, m.event_ns, recv_ticks, sink);
    (void)push(m, recv_ticks);
    return SyncOutcome::overflow;
  }
  if (!wanted_ && !in_flight_) {
    wanted_ = true; // the first buffered diff: now a snapshot can be bridged (1.4 steps 2-3)
  }
  return SyncOutcome::buffered;
}

SyncOutcome BookSync::on_snapshot(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  if (m.kind != MessageKind::depth_snapshot || m.instrument != instrument_ || phase_ == Phase::live) {
    ++counters_.ignored; // a late or unsolicited snapshot while live changes nothing
    return SyncOutcome::ignored;
  }
  in_flight_ = false;
  const std::uint64_t id = m.last_update_id;
  const auto step = [](const Diff& d) noexcept { return Step{d.first_id, d.last_id, d.prev_id}; };

  // Drop the buffered diffs the snapshot already contains; the first remaining one must bridge.
  std::size_t contained_count = 0;
  while (contained_count < diff_count_ && contained(step(diffs_[contained_count]), id)) {
    ++contained_count;
  }
  counters_.dropped_stale += contained_count;
  drop_front(contained_count);
  if (diff_count_ > 0 && !bridges(step(diffs_[0]), id)) {
    // The snapshot is older than the buffered diffs (spot: lastUpdateId < U - 1): ask again.
    ++counters_.stale_snapshots;
    ++counters_.resyncs;
    request();
    emit_status(core::FeedStatus::resync, m.event_ns, recv_ticks, sink);
    return SyncOutcome::snapshot_stale;
  }

  (void)emit_snapshot(instrument_, m.bids, m.asks, id, m.event_ns, recv_ticks, sink);
  ++counters_.snapshots_applied;
  update_id_ = id;
  phase_ = Phase::bridging;
  state_ = BookState::syncing;
  sync_point_ = SyncPoint{id, 0, 0};

  for (std::size_t i = 0; i < diff_count_; ++i) {
    const Diff& d = diffs_[i];
    const Step s = step(d);
    const auto bids = std::span<const core::Level>(levels_.data() + d.level_begin, d.bids);
    const auto asks = std::span<const core::Level>(levels_.data() + d.level_begin + d.bids, d.asks);
    if (phase_ == Phase::bridging || chains(s)) { // the first one bridges: checked above
      if (phase_ == Phase::bridging) {
        sync_point_.first_id = s.first_id;
        sync_point_.last_id = s.last_id;
        phase_ = Phase::live;
      }
      (void)emit_levels(instrument_, bids, asks, s.last_id, d.event_ns, d.recv_ticks, true, sink);
      update_id_ = s.last_id;
      ++counters_.applied_diffs;
      continue;
    }
    if (s.last_id <= update_id_) {
      ++counters_.dropped_stale;
      continue;
    }
    // A break inside the buffer: the diffs from here on wait for the next snapshot.
    const std::uint64_t event_ns = d.event_ns;
    const std::uint64_t diff_recv = d.recv_ticks;
    drop_front(i);
    enter_gap(event_ns, diff_recv, sink);
    return SyncOutcome::gap;
  }
  clear_buffer();
  if (phase_ == Phase::live) {
    state_ = BookState::live;
    emit_status(core::FeedStatus::book_live, m.event_ns, recv_ticks, sink);
  }
  return SyncOutcome::snapshot_applied;
}

void BookSync::resync(std::uint64_t recv_ticks, EventSink sink) noexcept {
  clear_buffer();
  phase_ = Phase::buffering;
  state_ = BookState::syncing;
  update_id_ = 0;
  ++counters_.resyncs;
  request();
  emit_status(core::FeedStatus::resync, 0, recv_ticks, sink);
}

bool BookSync::take_snapshot_request() noexcept {
  if (!wanted_) {
    return false;
  }
  wanted_ = false;
  in_flight_ = true;
  return true;
}

void BookSync::request() noexcept {
  wanted_ = true;
}

void BookSync::enter_gap(std::uint64_t exchange_ns, std::uint64_t recv_ticks, EventSink sink) noexcept {
  ++counters_.gaps;
  ++counters_.resyncs;
  phase_ = Phase::buffering;
  state_ = BookState::gap;
  request();
  emit_status(core::FeedStatus::gap, exchange_ns, recv_ticks, sink);
}

bool BookSync::push(const Message& m, std::uint64_t recv_ticks) noexcept {
  const std::size_t n = m.bids.size() + m.asks.size();
  if (diff_count_ == diffs_.size() || n > levels_.size() - level_count_) {
    return false;
  }
  std::copy(m.bids.begin(), m.bids.end(), levels_.begin() + static_cast<std::ptrdiff_t>(level_count_));
  std::copy(m.asks.begin(), m.asks.end(),
            levels_.begin() + static_cast<std::ptrdiff_t>(level_count_ + m.bids.size()));
  diffs_[diff_count_++] = Diff{m.first_update_id,
                               m.last_update_id,
                               m.prev_update_id,
                               m.event_ns,
                               recv_ticks,
                               static_cast<std::uint32_t>(level_count_),
                               static_cast<std::uint32_t>(m.bids.size()),
                               static_cast<std::uint32_t>(m.asks.size())};
  level_count_ += n;
  return true;
}

// Removes the first n buffered diffs and their levels (rare: a snapshot or a gap).
void BookSync::drop_front(std::size_t n) noexcept {
  if (n == 0) {
    return;
  }
  if (n >= diff_count_) {
    clear_buffer();
    return;
  }
  const std::uint32_t shift = diffs_[n].level_begin;
  std::copy(levels_.begin() + shift, levels_.begin() + static_cast<std::ptrdiff_t>(level_count_), levels_.begin());
  level_count_ -= shift;
  std::copy(diffs_.begin() + static_cast<std::ptrdiff_t>(n), diffs_.begin() + static_cast<std::ptrdiff_t>(diff_count_),
            diffs_.begin());
  diff_count_ -= n;
  for (std::size_t i = 0; i < diff_count_; ++i) {
    diffs_[i].level_begin -= shift;
  }
}

void BookSync::clear_buffer() noexcept {
  diff_count_ = 0;
  level_count_ = 0;
}

void BookSync::emit_status(core::FeedStatus status, std::uint64_t exchange_ns, std::uint64_t recv_ticks,
                           EventSink sink) const noexcept {
  feeds::emit_status(instrument_, status, update_id_, exchange_ns, recv_ticks, sink);
}

} // namespace qf::feeds::binance
