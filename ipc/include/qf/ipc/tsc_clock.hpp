#pragma once
// TscClock: cheap timestamps for latency stamps. On x86 with an invariant TSC, now() is one
// rdtsc; the tick rate is calibrated against CLOCK_MONOTONIC at start and exported (in the
// segment header) so readers in other processes convert ticks the same way. Where rdtsc is
// not usable (other CPUs, no invariant TSC, or QF_CLOCK=monotonic), ticks are CLOCK_MONOTONIC
// nanoseconds and the conversion is the identity. Any thread may call any const member.

#include <chrono>
#include <cstdint>
#include <ctime>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace qf::ipc {

enum class ClockSource : std::uint32_t {
  monotonic = 0, // ticks are CLOCK_MONOTONIC nanoseconds
  tsc = 1,       // ticks are rdtsc counts
};

// Trivially copyable: published in shared memory so readers can convert engine ticks.
struct ClockCalibration {
  ClockSource source = ClockSource::monotonic;
  std::uint32_t reserved = 0;
  double ticks_per_ns = 1.0;
  std::uint64_t base_ticks = 0; // a tick reading ...
  std::uint64_t base_ns = 0;    // ... and the CLOCK_MONOTONIC time it was taken at
};

[[nodiscard]] inline std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000U + static_cast<std::uint64_t>(ts.tv_nsec);
}

[[nodiscard]] inline std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000U + static_cast<std::uint64_t>(ts.tv_nsec);
}

class TscClock {
public:
  // Measures the TSC against CLOCK_MONOTONIC for `duration` (busy-waiting) when the TSC is
  // usable; otherwise returns the monotonic fallback at once.
  [[nodiscard]] static TscClock calibrate(std::chrono::milliseconds duration = std::chrono::milliseconds{20});
  [[nodiscard]] static TscClock monotonic();
  // Readers rebuild the writer's clock from its published calibration.
  explicit TscClock(const ClockCalibration& calibration) noexcept;

  // True when this CPU has an invariant TSC and QF_CLOCK does not force the fallback.
  [[nodiscard]] static bool tsc_usable() noexcept;

  [[nodiscard]] std::uint64_t now() const noexcept {
#if defined(__x86_64__)
    if (calibration_.source == ClockSource::tsc) {
      return __rdtsc();
    }
#endif
    return monotonic_ns();
  }

  // Elapsed nanoseconds between two tick readings (0 if `to` precedes `from`).
  [[nodiscard]] std::uint64_t delta_ns(std::uint64_t from, std::uint64_t to) const noexcept {
    if (to <= from) {
      return 0;
    }
    return ticks_to_ns(to - from);
  }
  [[nodiscard]] std::uint64_t ticks_to_ns(std::uint64_t ticks) const noexcept {
    return static_cast<std::uint64_t>((static_cast<U128>(ticks) * ns_per_tick_q32_) >> 32);
  }
  // CLOCK_MONOTONIC nanoseconds corresponding to a tick reading.
  [[nodiscard]] std::uint64_t to_monotonic_ns(std::uint64_t ticks) const noexcept {
    if (ticks >= calibration_.base_ticks) {
      return calibration_.base_ns + ticks_to_ns(ticks - calibration_.base_ticks);
    }
    const std::uint64_t back = ticks_to_ns(calibration_.base_ticks - ticks);
    return back < calibration_.base_ns ? calibration_.base_ns - back : 0;
  }

  [[nodiscard]] const ClockCalibration& calibration() const noexcept { return calibration_; }
  [[nodiscard]] ClockSource source() const noexcept { return calibration_.source; }
  [[nodiscard]] double ticks_per_ns() const noexcept { return calibration_.ticks_per_ns; }

private:
  __extension__ using U128 = unsigned __int128; // GCC/Clang builtin; exact 64x64->128 multiply

  ClockCalibration calibration_;
  std::uint64_t ns_per_tick_q32_; // 2^32 / ticks_per_ns, for a multiply-shift conversion
};

} // namespace qf::ipc
