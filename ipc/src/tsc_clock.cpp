#include "qf/ipc/tsc_clock.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace qf::ipc {
namespace {

#if defined(__x86_64__)
bool cpuid_invariant_tsc() noexcept {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0x80000000U, nullptr) < 0x80000007U) {
    return false;
  }
  __cpuid(0x80000007U, eax, ebx, ecx, edx);
  return (edx & (1U << 8)) != 0;
}

// Hypervisors often hide the cpuid bit while the kernel still trusts the TSC: accept the
// kernel's own verdict (constant_tsc and nonstop_tsc flags) as well.
bool kernel_trusts_tsc() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) {
      const auto has = [&line](const char* flag) {
        return line.find(std::string(" ") + flag + " ") != std::string::npos ||
               line.ends_with(std::string(" ") + flag);
      };
      return has("constant_tsc") && has("nonstop_tsc");
    }
  }
  return false;
}

struct Pair {
  std::uint64_t ticks;
  std::uint64_t ns;
};

// One (tsc, monotonic) pair, taken where the rdtsc bracket around clock_gettime is tightest.
Pair sample_pair() noexcept {
  Pair best{};
  std::uint64_t best_width = ~std::uint64_t{0};
  for (int i = 0; i < 16; ++i) {
    const std::uint64_t t0 = __rdtsc();
    const std::uint64_t ns = monotonic_ns();
    const std::uint64_t t1 = __rdtsc();
    if (t1 - t0 < best_width) {
      best_width = t1 - t0;
      best = Pair{t0 + (t1 - t0) / 2, ns};
    }
  }
  return best;
}
#endif

std::uint64_t q32_ns_per_tick(double ticks_per_ns) noexcept {
  return static_cast<std::uint64_t>(std::llround(4294967296.0 / ticks_per_ns));
}

} // namespace

bool TscClock::tsc_usable() noexcept {
  if (const char* forced = std::getenv("QF_CLOCK"); forced != nullptr && std::strcmp(forced, "monotonic") == 0) {
    return false;
  }
#if defined(__x86_64__)
  try {
    return cpuid_invariant_tsc() || kernel_trusts_tsc();
  } catch (...) {
    return false;
  }
#else
  return false;
#endif
}

TscClock::TscClock(const ClockCalibration& calibration) noexcept
    : calibration_(calibration),
      ns_per_tick_q32_(q32_ns_per_tick(calibration.ticks_per_ns > 0.0 ? calibration.ticks_per_ns : 1.0)) {
  if (!(calibration_.ticks_per_ns > 0.0)) {
    calibration_.ticks_per_ns = 1.0;
  }
}

TscClock TscClock::monotonic() {
  ClockCalibration c;
  c.source = ClockSource::monotonic;
  c.ticks_per_ns = 1.0;
  c.base_ns = monotonic_ns();
  c.base_ticks = c.base_ns;
  return TscClock(c);
}

TscClock TscClock::calibrate(std::chrono::milliseconds duration) {
#if defined(__x86_64__)
  if (!tsc_usable()) {
    return monotonic();
  }
  const Pair start = sample_pair();
  const std::uint64_t wait_ns = static_cast<std::uint64_t>(std::chrono::nanoseconds(duration).count());
  while (monotonic_ns() - start.ns < wait_ns) {
  }
  const Pair end = sample_pair();
  if (end.ns <= start.ns || end.ticks <= start.ticks) {
    return monotonic();
  }
  ClockCalibration c;
  c.source = ClockSource::tsc;
  c.ticks_per_ns = static_cast<double>(end.ticks - start.ticks) / static_cast<double>(end.ns - start.ns);
  c.base_ticks = end.ticks;
  c.base_ns = end.ns;
  return TscClock(c);
#else
  (void)duration;
  return monotonic();
#endif
}

} // namespace qf::ipc
