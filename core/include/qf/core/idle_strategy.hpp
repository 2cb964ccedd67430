#pragma once
// IdleStrategy: what an agent does when a duty cycle found no work (Aeron's aeron_agent_idle).
// spin burns the core for the lowest latency (one ipc::cpu_relax per empty cycle); backoff
// spins, then yields, then parks through the driver's `park` (split mode: on the EventCount
// every feed push notifies, inline mode: in the network poll), so the next event wakes it and
// no sleep is added to a message's latency; sleep naps 1 ms (CI, laptops). A cycle with work
// resets the backoff. Owned and called by the one thread that runs the agent.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "qf/ipc/cache.hpp"
#include "qf/ipc/eventcount.hpp"

namespace qf::core {

enum class IdleKind : std::uint8_t { spin, backoff, sleep };

class IdleStrategy {
public:
  explicit IdleStrategy(IdleKind kind) noexcept : kind_(kind) {}

  // After each duty cycle: `work_count` is what do_work() returned; `park()` blocks until the
  // driver's wake-up source fires or its own deadline passes (backoff only).
  template <typename Park>
  void idle(std::size_t work_count, Park&& park) noexcept {
    if (work_count != 0) {
      count_ = 0;
      return;
    }
    switch (kind_) {
    case IdleKind::spin: ipc::cpu_relax(); return;
    case IdleKind::sleep: std::this_thread::sleep_for(std::chrono::milliseconds(1)); return;
    case IdleKind::backoff:
      if (count_ < kSpins) {
        ++count_;
        ipc::cpu_relax();
      } else if (count_ < kSpins + kYields) {
        ++count_;
        std::this_thread::yield();
      } else {
        park();
      }
      return;
    }
  }
  [[nodiscard]] IdleKind kind() const noexcept { return kind_; }
  // True once backoff has spun and yielded: the next empty cycle parks.
  [[nodiscard]] bool parking() const noexcept { return kind_ == IdleKind::backoff && count_ >= kSpins + kYields; }

private:
  static constexpr std::uint32_t kSpins = 200;
  static constexpr std::uint32_t kYields = 100;
  IdleKind kind_;
  std::uint32_t count_ = 0;
};

// The split-mode park: announce it on `wake`, re-check `has_work` (an event that landed between
// the last drain and the announcement), else wait at most `max_park_ns` (0: do not park).
template <typename HasWork>
void park_on(ipc::EventCount& wake, const HasWork& has_work, std::uint64_t max_park_ns) noexcept {
  if (max_park_ns == 0) {
    return;
  }
  const ipc::EventCount::Key key = wake.prepare_wait();
  if (has_work()) {
    wake.cancel_wait(key);
  } else {
    wake.wait_for(key, max_park_ns);
  }
}

} // namespace qf::core
