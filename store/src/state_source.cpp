#include "qf/store/source.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "qf/ipc/bus_guard.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::store {
namespace {

constexpr std::uint64_t kNs1s = 1'000'000'000ULL;
constexpr std::uint64_t kNs1m = 60 * kNs1s;

constexpr std::uint64_t kCorruptLogEveryNs = 10 * kNs1s;

// Reads entries [next, written) of one of the engine's log rings (entry i in slot i % N) in order,
// calling emit(i, entry). An entry overwritten before or during its copy is counted in `lost` (the
// counter is read again after the copy: once it reaches next + N the slot may hold the newer
// entry); one whose checksum fails is counted in `reads.corrupt` and skipped (it heals only when the
// ring laps it); a busy one ends the pass, the next poll retries it. The loads from the mapping run
// inside guarded_read (emit, which allocates, outside it): a SIGBUS (the segment truncated) is
// counted in `reads.bus_faults` and returns false, the next poll's StateReader::read re-checks it.
template <typename T, std::size_t N, typename Emit>
bool read_ring(const std::atomic<std::uint64_t>& counter, const std::array<ipc::Seqlock<T>, N>& entries,
               std::uint64_t& next, std::uint64_t& lost, RingReads& reads, Emit&& emit) {
  std::uint64_t written = 0;
  if (!ipc::guarded_read([&] { written = counter.load(std::memory_order_acquire); })) {
    ++reads.bus_faults;
    return false;
  }
  if (written > next && written - next > N) {
    lost += written - N - next;
    next = written - N;
  }
  for (; next < written; ++next) {
    T e{};
    ipc::ReadStatus st = ipc::ReadStatus::busy;
    bool overwritten = false;
    if (!ipc::guarded_read([&] {
          st = entries[next % N].try_load(e);
          overwritten = counter.load(std::memory_order_acquire) >= next + N;
        })) {
      ++reads.bus_faults;
      return false;
    }
    if (overwritten) {
      ++lost;
      continue;
    }
    if (st == ipc::ReadStatus::corrupt) {
      ++reads.corrupt;
      reads.last_corrupt_seq = next;
      continue;
    }
    if (st != ipc::ReadStatus::ok) {
      ++reads.busy;
      return true;
    }
    emit(next, e);
  }
  return true;
}

} // namespace

StateSource::StateSource(StateSourceOptions options)
    : options_(std::move(options)), reader_(options_.instance) {}

const ipc::InstrumentInfo* StateSource::info(std::uint16_t instrument) const noexcept {
  return instrument < snap_.instruments.size() ? &snap_.instruments[instrument].info : nullptr;
}

void StateSource::push(RowQueue& queue, Table t, std::uint64_t ts_ns) {
  queue.push(Row{t, partitioned(t) ? static_cast<std::int64_t>(ts_ns / kNsPerDay) : kNoDay, line_});
}

void StateSource::poll(RowQueue& queue) {
  reader_.read(snap_);
  engine_status_ = ipc::to_string(snap_.status);
  if (!ipc::has_engine(snap_.status)) {
    return;
  }
  if (snap_.start_unix_ns != engine_start_) {
    on_new_engine(queue, engine_start_ == 0);
  }
  cursors_.resize(snap_.instruments.size());
  bars(queue);
  // A bus fault ends the pass: nothing more is read from this mapping until the next read() checks it.
  if (!fills(queue) || !events(queue)) {
    return;
  }
  const std::uint64_t now = ipc::monotonic_ns();
  if (now - last_sample_mono_ns_ >= options_.sample_ns) {
    last_sample_mono_ns_ = now;
    samples(queue);
  }
}

void StateSource::on_new_engine(RowQueue& queue, bool first_attach) {
  engine_start_ = snap_.start_unix_ns;
  ++engines_;
  cursors_.assign(snap_.instruments.size(), Cursor{});
  equity_ns_ = 0;
  risk_seen_ = false;
  // An engine seen start to finish is read from sequence 0. One already running when the store
  // starts has its rings read from their oldest entry; what is older is counted, not lost silently.
  next_fill_ = 0;
  next_event_ = 0;
  if (first_attach) {
    const std::uint64_t f = snap_.fills_written, e = snap_.events_written;
    next_fill_ = f > ipc::kFillLogSize ? f - ipc::kFillLogSize : 0;
    next_event_ = e > ipc::kEventLogSize ? e - ipc::kEventLogSize : 0;
    fills_before_attach_ += next_fill_;
    events_before_attach_ += next_event_;
  }
  CopyLine(line_).u64(engine_start_).u64(snap_.generation).text(options_.instance).text(ipc::to_string(snap_.mode))
      .i64(snap_.engine_pid);
  push(queue, Table::engines, 0);
}

void StateSource::bars(RowQueue& queue) {
  for (std::size_t i = 0; i < snap_.instruments.size(); ++i) {
    const ipc::InstrumentSnapshot& s = snap_.instruments[i];
    if (s.busy) {
      ++reads_.busy;
      continue;
    }
    const ipc::FeatureRecord& f = s.features;
    const auto one = [&](const ipc::BarValues& b, std::uint64_t interval_ns, std::uint64_t& last, bool indicators) {
      if (b.closed == 0 || b.start_unix_ns == last || b.start_unix_ns < last) {
        return;
      }
      if (last != 0 && b.start_unix_ns - last > interval_ns) {
        bars_missed_ += (b.start_unix_ns - last) / interval_ns - 1;
      }
      last = b.start_unix_ns;
      CopyLine l(line_);
      l.u64(engine_start_).text(ipc::text_of(s.info.venue)).text(ipc::text_of(s.info.symbol))
          .i64(static_cast<std::int64_t>(interval_ns / kNs1s)).time(b.start_unix_ns).real(b.open).real(b.high)
          .real(b.low).real(b.close).real(b.volume).i64(b.trades);
      if (indicators) {
        l.real(f.rsi).real(f.bollinger_z).real(f.atr);
      } else {
        l.null().null().null();
      }
      push(queue, Table::bars, b.start_unix_ns);
    };
    one(f.bar_1s, kNs1s, cursors_[i].bar_1s, true);
    one(f.bar_1m, kNs1m, cursors_[i].bar_1m, false);
  }
}

void StateSource::note_corrupt(const char* ring, std::uint64_t before) {
  if (reads_.corrupt == before) {
    return;
  }
  const std::uint64_t now = ipc::monotonic_ns();
  if (corrupt_logged_ns_ != 0 && now - corrupt_logged_ns_ < kCorruptLogEveryNs) {
    return;
  }
  corrupt_logged_ns_ = now;
  std::fprintf(stderr, "qf-store: %s entry %llu fails its checksum: skipped (%llu corrupt entries so far)\n", ring,
               static_cast<unsigned long long>(reads_.last_corrupt_seq),
               static_cast<unsigned long long>(reads_.corrupt));
}

bool StateSource::fills(RowQueue& queue) {
  const auto* log = reader_.view().section_as<ipc::ControlLog>(ipc::kSectionControl);
  if (log == nullptr) {
    return true;
  }
  const std::uint64_t corrupt_before = reads_.corrupt;
  const bool ok = read_ring(log->fills_written, log->fills, next_fill_, fills_lost_, reads_,
            [&](std::uint64_t seq, const ipc::FillRecord& f) {
              const ipc::InstrumentInfo* in = info(f.instrument);
              CopyLine l(line_);
              l.u64(engine_start_).u64(seq).time(f.unix_ns).u64(f.order_id);
              if (in != nullptr) {
                l.text(ipc::text_of(in->venue)).text(ipc::text_of(in->symbol));
              } else {
                l.text("?").text(fmt::format("#{}", f.instrument));
              }
              l.text(f.side == 0 ? "buy" : "sell").real(f.qty).real(f.price).real(f.fee).real(f.realized);
              push(queue, Table::fills, f.unix_ns);
            });
  note_corrupt("fill", corrupt_before);
  return ok;
}

bool StateSource::events(RowQueue& queue) {
  const auto* log = reader_.view().section_as<ipc::EventLog>(ipc::kSectionEvents);
  if (log == nullptr) {
    return true;
  }
  const std::uint64_t corrupt_before = reads_.corrupt;
  const bool ok = read_ring(log->written, log->entries, next_event_, events_lost_, reads_,
            [&](std::uint64_t seq, const ipc::NotableEvent& e) {
              const ipc::InstrumentInfo* in = e.instrument == 0xFFFF ? nullptr : info(e.instrument);
              CopyLine l(line_);
              l.u64(engine_start_).u64(seq).time(e.unix_ns).text(ipc::to_string(e.kind));
              if (in != nullptr) {
                l.text(ipc::text_of(in->venue)).text(ipc::text_of(in->symbol));
              } else {
                l.null().null();
              }
              l.text(ipc::text_of(e.text));
              push(queue, Table::events, e.unix_ns);
            });
  note_corrupt("event", corrupt_before);
  return ok;
}

void StateSource::samples(RowQueue& queue) {
  for (std::size_t i = 0; i < snap_.instruments.size(); ++i) {
    const ipc::InstrumentSnapshot& s = snap_.instruments[i];
    const ipc::SignalRecord& g = s.signal;
    if (s.busy || g.updated_unix_ns == 0 || g.updated_unix_ns == cursors_[i].signal_ns) {
      continue;
    }
    cursors_[i].signal_ns = g.updated_unix_ns;
    std::string regime = "{";
    for (std::uint32_t r = 0; r < g.regimes && r < ipc::kMaxRegimes; ++r) {
      fmt::format_to(std::back_inserter(regime), "{}{}", r == 0 ? "" : ",", g.regime[r]);
    }
    regime += "}";
    CopyLine(line_).u64(engine_start_).text(ipc::text_of(s.info.venue)).text(ipc::text_of(s.info.symbol))
        .time(g.updated_unix_ns).real(g.signal).real(g.confidence).raw(regime).i64(g.dominant);
    push(queue, Table::signals, g.updated_unix_ns);
  }
  const ipc::PortfolioRecord& p = snap_.portfolio;
  if (p.updated_unix_ns != 0 && p.updated_unix_ns != equity_ns_) {
    equity_ns_ = p.updated_unix_ns;
    CopyLine(line_).u64(engine_start_).time(p.updated_unix_ns).real(p.equity).real(p.cash).real(p.peak_equity)
        .real(p.drawdown).real(p.daily_pnl).real(p.realized).real(p.unrealized).real(p.fees).real(p.gross_exposure)
        .u64(p.fills).u64(p.orders);
    push(queue, Table::equity, p.updated_unix_ns);
  }
  const ipc::RiskRecord& r = snap_.risk;
  const bool changed = !risk_seen_ || r.kill_mode != risk_.kill_mode || r.kill_cause != risk_.kill_cause ||
                       r.kill_trips != risk_.kill_trips || r.refusals != risk_.refusals;
  if (r.updated_unix_ns != 0 && changed) {
    risk_ = r;
    risk_seen_ = true;
    ipc::JsonWriter refusals;
    refusals.begin_object();
    for (std::size_t k = 0; k < r.refusal_reasons && k < ipc::kMaxRefusalReasons; ++k) {
      if (ipc::kRefusalNames[k][0] != '\0') {
        refusals.key(ipc::kRefusalNames[k]).u64(r.refusals[k]);
      }
    }
    refusals.end_object();
    CopyLine(line_).u64(engine_start_).time(r.updated_unix_ns).text(ipc::to_string(r.kill_mode))
        .text(ipc::to_string(r.kill_cause)).u64(r.kill_trips).text(refusals.view());
    push(queue, Table::risk, r.updated_unix_ns);
  }
}

void StateSource::status(ipc::JsonWriter& out) const {
  out.key("source").str("state").key("instance").str(options_.instance).key("engine").str(engine_status_);
  out.key("engine_start_unix_ns").u64(engine_start_).key("engines_seen").u64(engines_);
  out.key("fills_next_seq").u64(next_fill_).key("events_next_seq").u64(next_event_);
  out.key("fills_lost").u64(fills_lost_).key("events_lost").u64(events_lost_).key("corrupt").u64(reads_.corrupt);
  out.key("fills_before_attach").u64(fills_before_attach_).key("events_before_attach").u64(events_before_attach_);
  out.key("bars_missed").u64(bars_missed_).key("busy_reads").u64(reads_.busy);
  out.key("bus_faults").u64(reads_.bus_faults);
}

} // namespace qf::store
