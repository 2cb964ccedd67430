#pragma once
// The layout shared by multiprocess_test and ipc_peer: one ring section, one seqlock section.

#include <array>
#include <cstdint>

#include "qf/ipc/seqlock.hpp"
#include "qf/ipc/spsc_ring.hpp"

namespace qf::ipc::test {

inline constexpr std::uint32_t kTestLayoutVersion = 7;
inline constexpr const char* kTestSegmentName = "test";

// 64 bytes like the engine's events; `check` lets the consumer detect a corrupted slot.
struct RingEvent {
  std::uint64_t seq;
  std::array<std::uint64_t, 6> payload;
  std::uint64_t check;
};
static_assert(sizeof(RingEvent) == 64);

[[nodiscard]] inline RingEvent make_event(std::uint64_t seq) noexcept {
  RingEvent e{};
  e.seq = seq;
  std::uint64_t check = seq * 0x9E3779B97F4A7C15ULL;
  for (std::size_t i = 0; i < e.payload.size(); ++i) {
    e.payload[i] = seq ^ (i * 0x100000001B3ULL);
    check ^= e.payload[i];
  }
  e.check = check;
  return e;
}
[[nodiscard]] inline bool event_intact(const RingEvent& e) noexcept {
  const RingEvent expected = make_event(e.seq);
  return expected.payload == e.payload && expected.check == e.check;
}

// Every word carries the same counter, so a torn copy shows mismatching words. 2 KiB, so
// copies are long enough for readers to overlap writes often.
struct Record {
  std::array<std::uint64_t, 256> words;
};

using TestRing = SpscRing<RingEvent, 1024>;
using TestRecord = Seqlock<Record>;

} // namespace qf::ipc::test
