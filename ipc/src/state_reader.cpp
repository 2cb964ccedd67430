#include "qf/ipc/state_reader.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "qf/ipc/bus_guard.hpp"

namespace qf::ipc {

const char* to_string(EngineStatus s) noexcept {
  switch (s) {
  case EngineStatus::awaiting: return "awaiting";
  case EngineStatus::running: return "running";
  case EngineStatus::stalled: return "stalled";
  case EngineStatus::stopped: return "stopped";
  case EngineStatus::version_mismatch: return "version_mismatch";
  case EngineStatus::damaged: return "damaged";
  }
  return "unknown";
}

StateSnapshot::StateSnapshot() {
  for (auto& h : latency) {
    h = std::make_unique<HistogramSnapshot>();
  }
}

StateReader::StateReader(std::string instance, std::uint64_t stall_after_ns)
    : view_(std::move(instance), kStateSegmentName, kStateLayoutVersion), stall_after_ns_(stall_after_ns) {}

const TickJournal* StateReader::journal() const noexcept {
  if (!view_.attached()) {
    return nullptr;
  }
  const auto* log = view_.section_as<EventLog>(kSectionEvents);
  return log == nullptr ? nullptr : &log->journal;
}

namespace {
constexpr const char* kBusError = "SIGBUS reading the mapping (the file shrank while it was read)";
constexpr const char* kCorrupt = "records fail their checksum";

void clear(StateSnapshot& out) noexcept {
  out.instruments.clear();
  out.feeds.clear();
  out.events.clear();
  out.acks.clear();
  out.fills.clear();
  out.composites.clear();
  out.portfolio = {};
  out.risk = {};
  out.fills_written = 0;
  out.ticks_written = 0;
  out.corrupt_records = 0;
  out.corrupt_log_entries = 0;
}

// Loads one record; a checksum mismatch leaves `out` as it was, counts it and names the first.
template <typename T>
bool load(const Seqlock<T>& lock, T& out, StateSnapshot& snap, const char* what, std::size_t index) noexcept {
  const ReadStatus st = lock.try_load(out);
  if (st == ReadStatus::corrupt) {
    if (snap.corrupt_records++ == 0) {
      snap.message = fmt::format("{} (first: {} {})", kCorrupt, what, index);
    }
  }
  return st == ReadStatus::ok;
}

// Loads one entry of the fill or event log: a checksum mismatch skips the entry and counts it,
// the read stays served (a ring entry heals only when the ring laps it; readers go on past it).
template <typename T> bool load_entry(const Seqlock<T>& lock, T& out, StateSnapshot& snap) noexcept {
  const ReadStatus st = lock.try_load(out);
  snap.corrupt_log_entries += st == ReadStatus::corrupt ? 1U : 0U;
  return st == ReadStatus::ok;
}
} // namespace

void StateReader::read(StateSnapshot& out) noexcept {
  clear(out);
  // verify() before anything is read: the file's size (fstat) and every section inside it.
  bool verified = true;
  if (view_.attached() && (!guarded_read([&] { verified = view_.verify(); }) || !verified)) {
    if (view_.attached()) { // the fault hit verify's own header read
      view_.detach();
      out.message = "segment damaged: " + view_.path() + ": " + kBusError;
    } else {
      out.message = view_.message();
    }
    out.status = EngineStatus::damaged;
    return;
  }
  if (!view_.attached() || view_.owner_restarted()) {
    const AttachStatus a = view_.try_attach();
    if (a != AttachStatus::attached) {
      out.status = a == AttachStatus::version_mismatch ? EngineStatus::version_mismatch
                   : a == AttachStatus::damaged        ? EngineStatus::damaged
                                                       : EngineStatus::awaiting;
      out.message = view_.message();
      return;
    }
  }
  out.message.clear();
  if (!guarded_read([&] { copy(out); })) {
    // The file shrank between verify()'s fstat and the copy: nothing of this read is kept; the
    // next read re-attaches (and finds the size wrong, or a new segment).
    view_.detach();
    clear(out);
    out.status = EngineStatus::damaged;
    out.message = "segment damaged: " + view_.path() + ": " + kBusError;
    return;
  }
  if (out.corrupt_records > 0) {
    // Garbage behind the writer's back: nothing of this read is served (the records that passed
    // included); the engine's next write of a record heals it, a write-once table stays refused.
    const std::string what = out.message;
    const std::uint32_t corrupt = out.corrupt_records;
    clear(out);
    out.corrupt_records = corrupt;
    out.status = EngineStatus::damaged;
    out.message = "segment damaged: " + view_.path() + ": " + what;
  }
}

// Only copies out of the mapping into `out` (allocations happen between the mapping's loads,
// never during one): guarded_read may leave it at any load (bus_guard.hpp).
void StateReader::copy(StateSnapshot& out) noexcept {
  const SegmentHeader& h = view_.header();
  switch (view_.owner_status(stall_after_ns_)) {
  case OwnerStatus::running: out.status = EngineStatus::running; break;
  case OwnerStatus::stalled: out.status = EngineStatus::stalled; break;
  case OwnerStatus::stopped: out.status = EngineStatus::stopped; break;
  }
  out.mode = static_cast<EngineMode>(h.mode);
  out.generation = h.generation;
  out.engine_pid = h.owner_pid;
  out.start_unix_ns = h.start_unix_ns;
  out.heartbeat_age_ns = view_.heartbeat_age_ns();

  const auto* table = view_.section_as<InstrumentTable>(kSectionInstruments);
  const auto* records = view_.section_as<InstrumentState>(kSectionRecords);
  const auto* feeds = view_.section_as<FeedTable>(kSectionFeeds);
  const auto* latency = view_.section_as<LatencyTable>(kSectionLatency);
  const auto* log = view_.section_as<EventLog>(kSectionEvents);
  const auto* acks = view_.section_as<ControlLog>(kSectionControl);
  if (table == nullptr || records == nullptr || feeds == nullptr || latency == nullptr || log == nullptr ||
      acks == nullptr) {
    out.status = EngineStatus::version_mismatch;
    out.message = view_.path() + ": sections smaller than this reader's layout";
    return;
  }
  // The write-once table is checked on a copy, and only the copy is used.
  const InstrumentTable instruments = *table;
  const bool table_ok = intact(instruments);
  if (!table_ok && out.corrupt_records++ == 0) {
    out.message = fmt::format("{} (first: the instrument table)", kCorrupt);
  }
  // Only the records the section holds (verify() proved the section lies inside the mapping).
  const std::size_t n = !table_ok ? 0
                                  : std::min({std::size_t{instruments.count}, kMaxInstruments,
                                              view_.section_size(kSectionRecords) / sizeof(InstrumentState)});
  out.instruments.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    InstrumentSnapshot& s = out.instruments[i];
    s.info = instruments.items[i];
    const InstrumentState& r = records[i];
    s.busy = !load(r.quote, s.quote, out, "quote of instrument", i);
    s.busy |= !load(r.book, s.book, out, "book of instrument", i);
    s.busy |= !load(r.features, s.features, out, "features of instrument", i);
    s.busy |= !load(r.signal, s.signal, out, "signal of instrument", i);
    s.busy |= !load(r.health, s.health, out, "health of instrument", i);
    s.busy |= !load(r.position, s.position, out, "position of instrument", i);
    s.busy |= !load(r.drift, s.drift, out, "drift of instrument", i);
    s.drift.features = std::min<std::uint8_t>(s.drift.features, kMaxModelFeatures);
  }
  if (view_.section_size(kSectionRecords) >= kCompositeOffset + sizeof(CompositeTable)) {
    const CompositeTable* ct = composite_table(records);
    std::size_t nc = std::min<std::size_t>(ct->count, kMaxComposites);
    if (!intact(*ct)) {
      nc = 0;
      if (out.corrupt_records++ == 0) {
        out.message = fmt::format("{} (first: the composite table)", kCorrupt);
      }
    }
    out.composites.resize(nc);
    for (std::size_t c = 0; c < nc; ++c) {
      out.composites[c].info = ct->info[c];
      out.composites[c].info.members = std::min<std::uint8_t>(out.composites[c].info.members, kMaxCompositeMembers);
      out.composites[c].busy = !load(ct->records[c], out.composites[c].record, out, "composite", c);
    }
  }
  (void)load(feeds->engine, out.engine, out, "engine record", 0);
  out.model = {};
  (void)load(feeds->model, out.model, out, "model record", 0);
  out.model.features = std::min<std::uint8_t>(out.model.features, kMaxModelFeatures);
  out.model.folds = std::min<std::uint8_t>(out.model.folds, kMaxModelFolds);
  const std::size_t nf = std::min<std::size_t>(feeds->count, kMaxFeeds);
  out.feeds.resize(nf);
  for (std::size_t i = 0; i < nf; ++i) {
    (void)load(feeds->feeds[i], out.feeds[i], out, "feed", i);
  }
  for (std::size_t s = 0; s < kStageCount; ++s) {
    latency->stages[s].snapshot(*out.latency[s]);
  }
  const std::uint64_t written = log->written.load(std::memory_order_acquire);
  out.events_written = written;
  out.ticks_written = log->journal.head();
  const std::uint64_t first = written > kEventLogSize ? written - kEventLogSize : 0;
  for (std::uint64_t i = first; i < written; ++i) {
    NotableEvent e{};
    if (load_entry(log->entries[i % kEventLogSize], e, out)) {
      out.events.push_back(e);
    }
  }
  const std::uint64_t acked = acks->written.load(std::memory_order_acquire);
  out.acks_written = acked;
  out.acks.clear();
  for (std::uint64_t i = acked > kControlLogSize ? acked - kControlLogSize : 0; i < acked; ++i) {
    ControlAck a{};
    if (load(acks->entries[i % kControlLogSize], a, out, "control acknowledgement", i)) {
      out.acks.push_back(a);
    }
  }
  (void)load(acks->portfolio, out.portfolio, out, "portfolio record", 0);
  (void)load(acks->risk, out.risk, out, "risk record", 0);
  const std::uint64_t filled = acks->fills_written.load(std::memory_order_acquire);
  out.fills_written = filled;
  for (std::uint64_t i = filled > kFillLogSize ? filled - kFillLogSize : 0; i < filled; ++i) {
    FillRecord f{};
    if (load_entry(acks->fills[i % kFillLogSize], f, out)) {
      out.fills.push_back(f);
    }
  }
}

} // namespace qf::ipc
