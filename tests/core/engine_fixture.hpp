#pragma once
// What the Engine tests share: events built by hand, and a real state segment with the sections an
// Engine publishes into (the composite table included).
#include <memory>
#include <string>

#include "qf/core/engine.hpp"
#include "qf/ipc/segment.hpp"

namespace qf::core::test {

inline Event level(std::uint16_t instrument, Side side, std::int64_t price, std::int64_t qty, std::uint64_t seq,
                   bool last = false) {
  Event e{};
  e.kind = EventKind::book_level;
  e.side = side;
  e.instrument = instrument;
  e.seq = seq;
  e.level.price = price;
  e.level.qty = qty;
  e.flags = last ? kFlagLastInMessage : 0;
  return e;
}
inline Event marker(std::uint16_t instrument, EventKind kind, std::uint64_t seq = 0) {
  Event e{};
  e.kind = kind;
  e.instrument = instrument;
  e.seq = seq;
  e.flags = kFlagLastInMessage;
  return e;
}
inline Event status(std::uint16_t instrument, FeedStatus s) {
  Event e = marker(instrument, EventKind::status);
  e.status = s;
  return e;
}

// /qf.<instance>.state owned by the test (zeroed memory is a valid layout), unlinked on destruction.
struct TestSegment {
  TestSegment(const std::string& instance, ipc::EngineMode mode) {
    ipc::SegmentOptions o;
    o.instance = instance;
    o.name = ipc::kStateSegmentName;
    o.layout_version = ipc::kStateLayoutVersion;
    const auto bytes = ipc::state_section_bytes();
    o.section_bytes.assign(bytes.begin(), bytes.end());
    o.mode = static_cast<std::uint32_t>(mode);
    owner = std::make_unique<ipc::SegmentOwner>(o);
    sections.instruments = new (owner->section(ipc::kSectionInstruments)) ipc::InstrumentTable{};
    sections.records = owner->section_as<ipc::InstrumentState>(ipc::kSectionRecords);
    sections.feeds = owner->section_as<ipc::FeedTable>(ipc::kSectionFeeds);
    sections.latency = owner->section_as<ipc::LatencyTable>(ipc::kSectionLatency);
    sections.events = owner->section_as<ipc::EventLog>(ipc::kSectionEvents);
    sections.control = owner->section_as<ipc::ControlLog>(ipc::kSectionControl);
    sections.composites = ipc::composite_table(owner->section(ipc::kSectionRecords));
  }
  ~TestSegment() { owner->unlink(); }
  TestSegment(const TestSegment&) = delete;
  TestSegment& operator=(const TestSegment&) = delete;

  std::unique_ptr<ipc::SegmentOwner> owner;
  StateSections sections;
};

} // namespace qf::core::test
