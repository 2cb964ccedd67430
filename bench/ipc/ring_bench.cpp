// SpscRing against boost::lockfree::spsc_queue, same capacity, same 64-byte values, threads
// pinned to different CPUs. Throughput: items/s through one queue. Round trip: ns for a value
// to go to the other thread and come back through a second queue.
#include <benchmark/benchmark.h>

#include <boost/lockfree/spsc_queue.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "bench_affinity.hpp"
#include "qf/ipc/spsc_ring.hpp"

namespace {

struct Event {
  std::uint64_t seq;
  std::array<std::uint64_t, 7> payload;
};
static_assert(sizeof(Event) == 64);

constexpr std::size_t kCapacity = 4096;
constexpr std::uint64_t kItems = 1'000'000;

// 8-byte items: index traffic dominates (the classic SPSC comparison). 64-byte items: the
// engine's event size, one cache line per item, so both queues also pay the data transfer.
struct Small {
  std::uint64_t seq;
};

template <typename T>
struct QfQueue {
  using Item = T;
  qf::ipc::SpscRing<T, kCapacity> ring;
  bool push(const T& e) noexcept { return ring.try_push(e); }
  bool pop(T& e) noexcept { return ring.try_pop(e); }
  template <typename F>
  std::size_t consume(F&& f) noexcept { return ring.drain(f, 256); }
};

template <typename T>
struct BoostQueue {
  using Item = T;
  boost::lockfree::spsc_queue<T, boost::lockfree::capacity<kCapacity>> queue;
  bool push(const T& e) noexcept { return queue.push(e); }
  bool pop(T& e) noexcept { return queue.pop(e); }
  template <typename F>
  std::size_t consume(F&& f) noexcept { return queue.consume_all(f); }
};

// The producer side of a throughput run: pinned, waits for `go`, pushes kItems values.
template <typename Queue>
std::thread start_producer(Queue& queue, const std::atomic<bool>& go) {
  return std::thread([&queue, &go] {
    qf::bench::pin_this_thread(qf::bench::kProducerCpu);
    while (!go.load(std::memory_order_acquire)) {
    }
    typename Queue::Item e{};
    for (std::uint64_t i = 0; i < kItems; ++i) {
      e.seq = i;
      while (!queue.push(e)) {
      }
    }
  });
}

template <typename Queue>
void BM_Throughput(benchmark::State& state) {
  using Item = typename Queue::Item;
  auto queue = std::make_unique<Queue>();
  qf::bench::pin_this_thread(qf::bench::kConsumerCpu);
  for (auto _ : state) {
    std::atomic<bool> go{false};
    std::thread producer = start_producer(*queue, go);
    const auto start = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    Item e{};
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < kItems; ++i) {
      while (!queue->pop(e)) {
      }
      sum += e.seq;
    }
    const auto end = std::chrono::steady_clock::now();
    producer.join();
    benchmark::DoNotOptimize(sum);
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kItems));
}

// Batch consumers: SpscRing::drain() (bounded batch, one release store) against boost's
// consume_all(functor).
template <typename Queue>
void BM_ThroughputBatch(benchmark::State& state) {
  auto queue = std::make_unique<Queue>();
  qf::bench::pin_this_thread(qf::bench::kConsumerCpu);
  for (auto _ : state) {
    std::atomic<bool> go{false};
    std::thread producer = start_producer(*queue, go);
    const auto start = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    std::uint64_t seen = 0;
    std::uint64_t sum = 0;
    while (seen < kItems) {
      seen += queue->consume([&](const Event& e) { sum += e.seq; });
    }
    const auto end = std::chrono::steady_clock::now();
    producer.join();
    benchmark::DoNotOptimize(sum);
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kItems));
}

template <typename Queue>
void BM_RoundTrip(benchmark::State& state) {
  using Item = typename Queue::Item;
  constexpr std::uint64_t kTrips = 100'000;
  auto there = std::make_unique<Queue>();
  auto back = std::make_unique<Queue>();
  qf::bench::pin_this_thread(qf::bench::kConsumerCpu);
  for (auto _ : state) {
    std::thread echo([&] {
      qf::bench::pin_this_thread(qf::bench::kProducerCpu);
      Item e{};
      for (std::uint64_t i = 0; i < kTrips; ++i) {
        while (!there->pop(e)) {
        }
        while (!back->push(e)) {
        }
      }
    });
    Item e{};
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < kTrips; ++i) {
      e.seq = i;
      while (!there->push(e)) {
      }
      while (!back->pop(e)) {
      }
    }
    const auto end = std::chrono::steady_clock::now();
    echo.join();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
  }
  // Seconds per round trip (iterations x kTrips trips over the measured time, inverted).
  state.counters["round_trip"] = benchmark::Counter(static_cast<double>(kTrips),
                                                    benchmark::Counter::kIsIterationInvariantRate |
                                                        benchmark::Counter::kInvert);
}

BENCHMARK_TEMPLATE(BM_Throughput, QfQueue<Small>)->Name("ring/throughput_8B/qf_spsc_ring")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Throughput, BoostQueue<Small>)->Name("ring/throughput_8B/boost_spsc_queue")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Throughput, QfQueue<Event>)->Name("ring/throughput_64B/qf_spsc_ring")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Throughput, BoostQueue<Event>)->Name("ring/throughput_64B/boost_spsc_queue")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ThroughputBatch, QfQueue<Event>)->Name("ring/throughput_64B_batch/qf_spsc_ring_drain")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ThroughputBatch, BoostQueue<Event>)->Name("ring/throughput_64B_batch/boost_consume_all")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RoundTrip, QfQueue<Event>)->Name("ring/round_trip_64B/qf_spsc_ring")->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RoundTrip, BoostQueue<Event>)->Name("ring/round_trip_64B/boost_spsc_queue")->UseManualTime()->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
