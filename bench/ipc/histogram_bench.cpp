// LatencyHistogram::record cost on realistic (log-normal, ~1 us median) values, against a
// plain counter increment as the floor measured in the same run. Target: <= 5 ns per record.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "qf/ipc/latency_histogram.hpp"

namespace {

std::vector<std::uint64_t> sample_values() {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(7.0, 1.2);
  std::vector<std::uint64_t> values(1 << 16);
  for (auto& v : values) {
    v = static_cast<std::uint64_t>(dist(rng));
  }
  return values;
}

void BM_HistogramRecord(benchmark::State& state) {
  const auto values = sample_values();
  auto histogram = std::make_unique<qf::ipc::LatencyHistogram>();
  std::size_t i = 0;
  for (auto _ : state) {
    histogram->record(values[i++ & (values.size() - 1)]);
  }
  benchmark::DoNotOptimize(histogram->count());
}

void BM_HistogramSnapshot(benchmark::State& state) {
  auto histogram = std::make_unique<qf::ipc::LatencyHistogram>();
  for (const auto v : sample_values()) {
    histogram->record(v);
  }
  auto snapshot = std::make_unique<qf::ipc::HistogramSnapshot>();
  for (auto _ : state) {
    histogram->snapshot(*snapshot);
    benchmark::DoNotOptimize(snapshot->percentile(0.99));
  }
}

BENCHMARK(BM_HistogramRecord)->Name("histogram/record");
BENCHMARK(BM_HistogramSnapshot)->Name("histogram/snapshot_and_p99")->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
