// Cost of a timestamp: TscClock::now() (rdtsc) against clock_gettime(CLOCK_MONOTONIC).
#include <benchmark/benchmark.h>

#include <chrono>

#include "qf/ipc/tsc_clock.hpp"

namespace {

void BM_TscNow(benchmark::State& state) {
  const qf::ipc::TscClock clock = qf::ipc::TscClock::calibrate(std::chrono::milliseconds(20));
  state.SetLabel(clock.source() == qf::ipc::ClockSource::tsc ? "rdtsc" : "fallback:clock_gettime");
  for (auto _ : state) {
    benchmark::DoNotOptimize(clock.now());
  }
}

void BM_ClockGettime(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(qf::ipc::monotonic_ns());
  }
}

BENCHMARK(BM_TscNow)->Name("clock/tsc_now");
BENCHMARK(BM_ClockGettime)->Name("clock/clock_gettime_monotonic");

} // namespace

BENCHMARK_MAIN();
