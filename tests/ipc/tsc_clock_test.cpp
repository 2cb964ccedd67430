#include "qf/ipc/tsc_clock.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace qf::ipc {
namespace {

// Busy-waits `ns` on CLOCK_MONOTONIC and returns (ticks elapsed, monotonic ns elapsed),
// each pair read back to back so both clocks measure the same interval.
std::pair<std::uint64_t, std::uint64_t> measure(const TscClock& clock, std::uint64_t ns) {
  const std::uint64_t t0 = clock.now();
  const std::uint64_t m0 = monotonic_ns();
  while (monotonic_ns() - m0 < ns) {
  }
  const std::uint64_t m1 = monotonic_ns();
  const std::uint64_t t1 = clock.now();
  return {clock.delta_ns(t0, t1), m1 - m0};
}

TEST(tsc_clock, should_measure_an_interval_like_clock_monotonic) {
  const TscClock clock = TscClock::calibrate(std::chrono::milliseconds(20));
  const auto [tsc_ns, mono_ns] = measure(clock, 30'000'000);
  const double ratio = static_cast<double>(tsc_ns) / static_cast<double>(mono_ns);
  EXPECT_NEAR(ratio, 1.0, 0.02) << "tsc " << tsc_ns << " ns vs monotonic " << mono_ns << " ns";
}

TEST(tsc_clock, should_use_the_tsc_when_the_cpu_has_an_invariant_one) {
  const TscClock clock = TscClock::calibrate(std::chrono::milliseconds(5));
  EXPECT_EQ(clock.source(), TscClock::tsc_usable() ? ClockSource::tsc : ClockSource::monotonic);
  if (clock.source() == ClockSource::tsc) {
    EXPECT_GT(clock.ticks_per_ns(), 0.1);
    EXPECT_LT(clock.ticks_per_ns(), 10.0);
  }
}

TEST(tsc_clock, should_convert_ticks_in_a_reader_exactly_as_the_writer_does) {
  const TscClock writer = TscClock::calibrate(std::chrono::milliseconds(5));
  const TscClock reader(writer.calibration());
  const std::uint64_t a = writer.now();
  const std::uint64_t b = a + 123'456'789;
  EXPECT_EQ(reader.delta_ns(a, b), writer.delta_ns(a, b));
  EXPECT_EQ(reader.to_monotonic_ns(b), writer.to_monotonic_ns(b));
}

TEST(tsc_clock, should_map_ticks_to_monotonic_time) {
  const TscClock clock = TscClock::calibrate(std::chrono::milliseconds(10));
  const std::uint64_t before = monotonic_ns();
  const std::uint64_t ticks = clock.now();
  const std::uint64_t after = monotonic_ns();
  const std::uint64_t mapped = clock.to_monotonic_ns(ticks);
  // Calibration error grows with distance from the base point; allow 0.1% of that distance.
  const std::uint64_t slack = 100'000 + (after - clock.calibration().base_ns) / 1000;
  EXPECT_GE(mapped + slack, before);
  EXPECT_LE(mapped, after + slack);
}

TEST(tsc_clock, should_never_report_a_negative_interval) {
  const TscClock clock = TscClock::calibrate(std::chrono::milliseconds(5));
  EXPECT_EQ(clock.delta_ns(1000, 10), 0U);
  std::uint64_t last = clock.now();
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t t = clock.now();
    ASSERT_GE(t, last);
    last = t;
  }
}

TEST(tsc_clock, should_fall_back_to_clock_monotonic_when_told_to) {
  ::setenv("QF_CLOCK", "monotonic", 1);
  const TscClock clock = TscClock::calibrate(std::chrono::milliseconds(5));
  ::unsetenv("QF_CLOCK");
  EXPECT_EQ(clock.source(), ClockSource::monotonic);
  EXPECT_DOUBLE_EQ(clock.ticks_per_ns(), 1.0);
  const std::uint64_t before = monotonic_ns();
  const std::uint64_t t = clock.now();
  EXPECT_GE(t, before);
  EXPECT_EQ(clock.delta_ns(t, t + 5000), 5000U);
}

} // namespace
} // namespace qf::ipc
