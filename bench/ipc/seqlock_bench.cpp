// Seqlock costs: uncontended store and load of a 128-byte record (BBO + last trade sized), and
// the reader's cost and retry rate while a writer on the other CPU updates at 1 M updates/s.
// Counters: retry_rate = reads whose first attempt had to retry / reads; torn = copies whose
// words disagree (must be 0).
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "bench_affinity.hpp"
#include "qf/ipc/seqlock.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace {

struct Record {
  std::array<std::uint64_t, 16> words; // 128 bytes
};

void BM_SeqlockStoreUncontended(benchmark::State& state) {
  auto lock = std::make_unique<qf::ipc::Seqlock<Record>>();
  Record r{};
  std::uint64_t i = 0;
  for (auto _ : state) {
    r.words.fill(++i);
    lock->store(r);
    benchmark::ClobberMemory();
  }
}

void BM_SeqlockLoadUncontended(benchmark::State& state) {
  auto lock = std::make_unique<qf::ipc::Seqlock<Record>>();
  Record r{};
  r.words.fill(7);
  lock->store(r);
  for (auto _ : state) {
    Record out;
    benchmark::DoNotOptimize(lock->try_load(out));
    benchmark::DoNotOptimize(out);
  }
}

void BM_SeqlockLoadWithWriterAt1MHz(benchmark::State& state) {
  auto lock = std::make_unique<qf::ipc::Seqlock<Record>>();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> writes{0};
  qf::bench::pin_this_thread(qf::bench::kConsumerCpu);
  std::thread writer([&] {
    qf::bench::pin_this_thread(qf::bench::kProducerCpu);
    const std::uint64_t start = qf::ipc::monotonic_ns();
    std::uint64_t n = 0;
    Record r{};
    while (!stop.load(std::memory_order_relaxed)) {
      // One update per microsecond: wait for the next deadline, then write.
      while (qf::ipc::monotonic_ns() - start < n * 1000) {
      }
      r.words.fill(++n);
      lock->store(r);
    }
    writes.store(n, std::memory_order_relaxed);
  });
  std::uint64_t reads = 0;
  std::uint64_t retried = 0;
  std::uint64_t busy = 0;
  std::uint64_t torn = 0;
  for (auto _ : state) {
    Record out;
    if (lock->try_load(out, 1) != qf::ipc::ReadStatus::ok) {
      ++retried;
      if (lock->try_load(out) != qf::ipc::ReadStatus::ok) {
        ++busy;
        continue;
      }
    }
    ++reads;
    torn += out.words[0] != out.words[15] ? 1U : 0U;
    benchmark::DoNotOptimize(out);
  }
  stop.store(true, std::memory_order_relaxed);
  writer.join();
  state.counters["retry_rate"] = reads + busy > 0 ? static_cast<double>(retried) / static_cast<double>(reads + busy) : 0.0;
  state.counters["busy"] = static_cast<double>(busy);
  state.counters["torn"] = static_cast<double>(torn);
  state.counters["writer_updates"] = static_cast<double>(writes.load());
}

BENCHMARK(BM_SeqlockStoreUncontended)->Name("seqlock/store_uncontended_128B");
BENCHMARK(BM_SeqlockLoadUncontended)->Name("seqlock/load_uncontended_128B");
BENCHMARK(BM_SeqlockLoadWithWriterAt1MHz)->Name("seqlock/load_with_writer_1M_per_s_128B")->MinTime(1.0);

} // namespace

BENCHMARK_MAIN();
