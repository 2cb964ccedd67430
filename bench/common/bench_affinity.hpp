#pragma once
// Thread pinning for benchmarks: producer and consumer on different CPUs, as in production.

#include <pthread.h>
#include <sched.h>

#include <thread>

namespace qf::bench {

// Pins the calling thread; returns false (and the benchmark runs unpinned) when refused.
inline bool pin_this_thread(unsigned cpu) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % std::thread::hardware_concurrency(), &set);
  return ::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set) == 0;
}

inline constexpr unsigned kConsumerCpu = 0;
inline constexpr unsigned kProducerCpu = 1;

} // namespace qf::bench
