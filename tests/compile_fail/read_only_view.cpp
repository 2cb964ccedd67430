// Misuse of the ipc layer that must not compile. Each QF_CASE selects one misuse; case 0 is
// the control (legitimate reads only) and must compile, proving the failures come from the
// misuse and not from a broken file.
#include "qf/ipc/segment.hpp"
#include "qf/ipc/seqlock.hpp"
#include "qf/ipc/spsc_ring.hpp"
#include "qf/ipc/state_layout.hpp"

#include <string>

#ifndef QF_CASE
#define QF_CASE 0
#endif

int main() {
  qf::ipc::SegmentView view("default", "state", 1);
  if (view.try_attach() != qf::ipc::AttachStatus::attached) {
    return 0;
  }
  [[maybe_unused]] const std::uint64_t beat = view.header().heartbeat_ns.load();
  [[maybe_unused]] const std::byte first = view.section(0)[0];
  [[maybe_unused]] const auto* record = view.section_as<qf::ipc::Seqlock<int>>(0);
  const auto* log = view.section_as<qf::ipc::EventLog>(qf::ipc::kSectionEvents);
  qf::ipc::TickRecord tick{};
  qf::ipc::BroadcastCursor<qf::ipc::TickJournal> cursor(log->journal); // reading the journal is fine
  [[maybe_unused]] const bool got = cursor.poll(tick);
  const auto* records = view.section_as<qf::ipc::InstrumentState>(qf::ipc::kSectionRecords);
  qf::ipc::DriftRecord drift{};
  [[maybe_unused]] const auto read = records->drift.try_load(drift); // reading the drift record is fine
#if QF_CASE == 1
  view.section(0)[0] = std::byte{1}; // section memory is const through a view
#elif QF_CASE == 2
  view.header().heartbeat_ns.store(1); // the header is const through a view
#elif QF_CASE == 3
  record->store(5); // a seqlock record reached through a view cannot be written
#elif QF_CASE == 5
  log->journal.append(tick); // the tick journal reached through a view cannot be written
#elif QF_CASE == 6
  records->drift.store(drift); // the drift record (layout v9) reached through a view cannot be written
#elif QF_CASE == 4
  qf::ipc::SpscRing<std::string, 8> ring; // rings carry trivially copyable values only
#endif
  return 0;
}
