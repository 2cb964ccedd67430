#pragma once
// Host tuning and the host self-check for qf-engine (start-up only, never the core loop).
// Every tuning step is best effort: what the host or the user's permissions refuse degrades
// with one clear warning, returned to the caller to log. The self-check reads /sys and /proc
// and reports what would hurt latency on this host.

#include <string>
#include <vector>

namespace qf::engine {

struct TuningRequest {
  int cpu = -1;               // pin the calling thread here; -1: do not pin
  int numa_node = -1;         // bind memory allocations of the process to this node; -1: no
  bool lock_memory = false;   // mlockall(MCL_CURRENT | MCL_FUTURE)
  int realtime_priority = 0;  // SCHED_FIFO priority for the calling thread; 0: no
};

// Applies the request to the calling thread/process; returns one warning per refused step.
[[nodiscard]] std::vector<std::string> apply_tuning(const TuningRequest& request);

// Pins the calling thread; empty string on success, else the reason.
[[nodiscard]] std::string pin_current_thread(int cpu);

struct HostFinding {
  std::string what;   // "isolated CPUs"
  std::string found;  // "none"
  std::string advice; // what to change, or empty when fine
  bool hurts_latency = false;
};

// Reads the host's latency-relevant settings for the core CPU. `root` lets tests point it at a
// fake /sys and /proc tree.
[[nodiscard]] std::vector<HostFinding> check_host(int core_cpu, const std::string& root = "");

// The CPU the calling thread runs on now, -1 if unknown.
[[nodiscard]] int current_cpu() noexcept;

// What the kernel says of the calling thread: the one CPU its affinity allows (-1 when more),
// its scheduling policy (SCHED_OTHER, SCHED_FIFO, ... or -1) and real-time priority.
struct ThreadProfile {
  int pinned_cpu = -1;
  int policy = -1;
  int priority = 0;
};
[[nodiscard]] ThreadProfile current_thread_profile() noexcept;

} // namespace qf::engine
