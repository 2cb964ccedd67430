#pragma once
// SpscRing: bounded single-producer single-consumer queue of trivially copyable values.
// Design: power-of-two capacity, 64-bit sequences that never wrap (slot = seq & mask),
// each side caches the other side's index so the shared lines are touched only when
// the cached view says full/empty. Producer state and consumer state live on their own
// 128-byte blocks (adjacent-line prefetch). The object holds no pointers, so it can be
// placement-constructed inside a shared-memory segment and used across processes.
// Thread rules: exactly one producer thread/process calls try_push; exactly one consumer
// calls try_pop/drain. size_guess() may be called by anyone and is only a hint.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qf/ipc/cache.hpp"

namespace qf::ipc {

template <typename T, std::size_t N>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing carries trivially copyable values only");
  static_assert(N >= 2 && (N & (N - 1)) == 0, "capacity must be a power of two");
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

public:
  using value_type = T;
  static constexpr std::size_t kCapacity = N;

  SpscRing() noexcept = default;
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  static constexpr std::size_t capacity() noexcept { return N; }

  // Producer only.
  [[nodiscard]] bool try_push(const T& value) noexcept {
    const std::uint64_t head = producer_.head.load(std::memory_order_relaxed);
    if (head - producer_.cached_tail >= N) {
      producer_.cached_tail = consumer_.tail.load(std::memory_order_acquire);
      if (head - producer_.cached_tail >= N) {
        return false;
      }
    }
    slots_[head & kMask] = value;
    producer_.head.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer only.
  [[nodiscard]] bool try_pop(T& out) noexcept {
    const std::uint64_t tail = consumer_.local_tail;
    if (tail == consumer_.cached_head) {
      consumer_.cached_head = producer_.head.load(std::memory_order_acquire);
      if (tail == consumer_.cached_head) {
        return false;
      }
    }
    out = slots_[tail & kMask];
    // Publish the freed slot lazily: every kReleaseBatch pops, or when the ring looks empty.
    // A full ring otherwise makes the producer rewrite, one at a time, the very line the
    // consumer just read (measured: 64-byte items 4x slower). Unpublished pops are bounded
    // by kReleaseBatch - 1 and always flushed once the consumer catches up.
    const std::uint64_t next = tail + 1;
    consumer_.local_tail = next;
    if (next == consumer_.cached_head || (next & (kReleaseBatch - 1)) == 0) {
      consumer_.tail.store(next, std::memory_order_release);
    }
    return true;
  }

  // Consumer only. Calls handler(const T&) for up to max_items values in order and releases
  // their slots with a single store; returns how many were handled.
  template <typename Handler>
  std::size_t drain(Handler&& handler, std::size_t max_items) noexcept {
    const std::uint64_t tail = consumer_.local_tail;
    std::uint64_t available = consumer_.cached_head - tail;
    if (available == 0) {
      consumer_.cached_head = producer_.head.load(std::memory_order_acquire);
      available = consumer_.cached_head - tail;
      if (available == 0) {
        return 0;
      }
    }
    const std::uint64_t count = available < max_items ? available : max_items;
    for (std::uint64_t i = 0; i < count; ++i) {
      handler(static_cast<const T&>(slots_[(tail + i) & kMask]));
    }
    consumer_.local_tail = tail + count;
    consumer_.tail.store(tail + count, std::memory_order_release);
    return static_cast<std::size_t>(count);
  }

  // Anyone: a hint only, exact only when both sides are quiescent.
  [[nodiscard]] std::size_t size_guess() const noexcept {
    const std::uint64_t tail = consumer_.tail.load(std::memory_order_acquire);
    const std::uint64_t head = producer_.head.load(std::memory_order_acquire);
    return head >= tail ? static_cast<std::size_t>(head - tail) : 0;
  }

  // Total values ever pushed / popped (64-bit sequences never wrap).
  [[nodiscard]] std::uint64_t pushed_guess() const noexcept {
    return producer_.head.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t popped_guess() const noexcept {
    return consumer_.tail.load(std::memory_order_acquire);
  }

private:
  static constexpr std::uint64_t kMask = N - 1;
  static constexpr std::uint64_t kReleaseBatch = N >= 64 ? 16 : 1;

  // Own 128-byte block: written by the producer only.
  struct alignas(kCacheLinePair) ProducerSide {
    std::atomic<std::uint64_t> head{0};
    std::uint64_t cached_tail{0};
  };
  // Own 128-byte block: written by the consumer only.
  struct alignas(kCacheLinePair) ConsumerSide {
    std::atomic<std::uint64_t> tail{0}; // published: slots before it are free
    std::uint64_t local_tail{0};          // consumed: may run ahead of `tail`
    std::uint64_t cached_head{0};
  };

  ProducerSide producer_;
  ConsumerSide consumer_;
  alignas(kCacheLinePair) T slots_[N]{};
};

} // namespace qf::ipc
