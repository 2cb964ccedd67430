#pragma once
// The control layout: /qf.<instance>.control, the only way a reader process (the gateway, a
// test) affects the engine. The engine owns the segment; exactly one producer process at a
// time attaches it read-write (SegmentPeer) and claims the producer slot, then pushes
// ControlCommand values into an SPSC ring that the core thread drains between batches. The
// engine acknowledges every command in its state segment (state_layout.hpp, ControlLog), so
// the producer sees the result by reading state, never by writing it.
// Any change to a type here bumps kControlLayoutVersion.

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "qf/ipc/cache.hpp"
#include "qf/ipc/spsc_ring.hpp"

namespace qf::ipc {

inline constexpr std::uint32_t kControlLayoutVersion = 3; // v3: deadline_mono_ns, actor 32 bytes
inline constexpr const char* kControlSegmentName = "control";
inline constexpr std::size_t kControlRingSize = 64;
inline constexpr std::uint16_t kNoInstrument = 0xFFFF;

enum class ControlAction : std::uint8_t {
  resync = 1,   // drop the instrument's book and sync it again from a fresh snapshot
  kill_on = 2,  // manual kill switch: no new orders
  kill_off = 3, // release the manual kill switch
  flatten = 4,  // close every paper position, then halt
  resume = 5,   // leave halt / reduce-only after a drawdown trip
  kill_reduce_only = 6, // kill switch in reduce-only mode: only orders that shrink a position
  reset = 7,            // release the kill switch and re-base the drawdown peak on current equity
};

[[nodiscard]] constexpr const char* to_string(ControlAction a) noexcept {
  switch (a) {
  case ControlAction::resync: return "resync";
  case ControlAction::kill_on: return "kill_on";
  case ControlAction::kill_off: return "kill_off";
  case ControlAction::flatten: return "flatten";
  case ControlAction::resume: return "resume";
  case ControlAction::kill_reduce_only: return "kill_reduce_only";
  case ControlAction::reset: return "reset";
  }
  return "unknown";
}

struct ControlCommand {
  std::uint64_t id;           // producer-assigned, increasing; echoed in the acknowledgement
  std::uint64_t sent_unix_ns; // producer's wall clock
  ControlAction action;
  std::uint8_t reserved;
  std::uint16_t instrument; // index into the state's InstrumentTable, kNoInstrument if none
  std::uint32_t reserved2;
  // CLOCK_MONOTONIC (system-wide, ipc::monotonic_ns) after which the engine must not execute the
  // command but acknowledge it `expired`: the producer stops waiting only after it, so a timeout
  // it reports means "not executed". 0 = no deadline.
  std::uint64_t deadline_mono_ns;
  std::array<char, 32> actor; // who asked ("gateway 127.0.0.1"), NUL-terminated
};
static_assert(sizeof(ControlCommand) == 64);
static_assert(std::is_trivially_copyable_v<ControlCommand>);

// Section 0 of the control segment.
struct ControlQueue {
  // The producer slot: the pid of the process allowed to push, 0 when free. A producer claims
  // it by compare-exchange from 0 (or from a pid that no longer exists), and frees it at exit.
  alignas(kCacheLinePair) std::atomic<std::int32_t> producer_pid;
  SpscRing<ControlCommand, kControlRingSize> ring;
};

// Whether `c` must be refused as expired at `now_mono_ns` (ipc::monotonic_ns()).
[[nodiscard]] constexpr bool expired(const ControlCommand& c, std::uint64_t now_mono_ns) noexcept {
  return c.deadline_mono_ns != 0 && now_mono_ns > c.deadline_mono_ns;
}

inline void set_actor(ControlCommand& c, std::string_view actor) noexcept {
  const std::size_t n = actor.size() < c.actor.size() - 1 ? actor.size() : c.actor.size() - 1;
  std::memcpy(c.actor.data(), actor.data(), n);
  c.actor[n] = '\0';
}

} // namespace qf::ipc
