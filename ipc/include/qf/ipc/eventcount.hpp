#pragma once
// EventCount: lets a consumer park until a producer has something for it (Vyukov / folly).
// Design: a 32-bit epoch that is the futex word, and a count of registered waiters on its own
// block. The consumer announces that it parks (prepare_wait), re-checks its queues, then waits
// for the epoch to move; a producer calls notify() after each push and pays the futex syscall
// only when a waiter is registered: otherwise notify is one fence and one load, nothing else.
// Threads: any number of notifiers; waiters call prepare_wait, then exactly one of cancel_wait,
// wait or wait_for with the key. Linux only (futex), within one process (FUTEX_PRIVATE).

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <ctime>

#include "qf/ipc/cache.hpp"

namespace qf::ipc {

class EventCount {
public:
  using Key = std::uint32_t;

  EventCount() noexcept = default;
  EventCount(const EventCount&) = delete;
  EventCount& operator=(const EventCount&) = delete;

  // Waiter: announce the park. The caller must re-check its condition after this call and
  // before wait(): a push it misses in that re-check is guaranteed to see the waiter.
  [[nodiscard]] Key prepare_wait() noexcept {
    waiters_.fetch_add(1, std::memory_order_relaxed);
    store_load_fence();
    return epoch_.load(std::memory_order_acquire);
  }

  // Waiter: the re-check found work; withdraw the announcement.
  void cancel_wait(Key /*key*/) noexcept { waiters_.fetch_sub(1, std::memory_order_relaxed); }

  // Waiter: park until a notify() after prepare_wait() (loops on spurious wake-ups).
  void wait(Key key) noexcept {
    while (epoch_.load(std::memory_order_acquire) == key) {
      futex_wait(key, nullptr);
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Waiter: as wait(), but gives up after about `timeout_ns` (a deadline the caller keeps,
  // e.g. a housekeeping tick). May also return early (signal, spurious): the caller re-checks.
  void wait_for(Key key, std::uint64_t timeout_ns) noexcept {
    if (epoch_.load(std::memory_order_acquire) == key) {
      const timespec ts{static_cast<std::time_t>(timeout_ns / 1'000'000'000ULL),
                        static_cast<long>(timeout_ns % 1'000'000'000ULL)};
      futex_wait(key, &ts);
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Notifier, after publishing its item (e.g. SpscRing::try_push). Returns true when it woke
  // someone (made the syscall), false on the fast path (nobody parked).
  bool notify() noexcept {
    store_load_fence();
    if (waiters_.load(std::memory_order_relaxed) == 0) {
      return false;
    }
    epoch_.fetch_add(1, std::memory_order_release); // the parked side's key goes stale
    wakes_.fetch_add(1, std::memory_order_relaxed);
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&epoch_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
    return true;
  }

  // Number of notify() calls that made the wake syscall (tests, statistics).
  [[nodiscard]] std::uint64_t wakes() const noexcept { return wakes_.load(std::memory_order_relaxed); }

private:
  // Store-load ordering, the whole point (Dekker): the waiter stores "I park" then loads the
  // queue; the notifier stores the item then loads the waiter count. Release/acquire cannot
  // order a store before a later load, so each side has a seq_cst fence between the two: then
  // at least one side sees the other's store, i.e. either the waiter's re-check finds the item
  // or the notifier finds the waiter and moves the epoch. GCC warns that TSan does not model
  // fences; nothing here is published through them (items travel by the queue's release/acquire).
  static void store_load_fence() noexcept {
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
    std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  }

  void futex_wait(Key key, const timespec* timeout) noexcept {
    // Returns at once if the epoch is no longer `key` (the kernel compares under its lock).
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&epoch_), FUTEX_WAIT_PRIVATE, key, timeout, nullptr, 0);
  }

  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free, "the epoch is used as a futex word");

  // Own block: written by notifiers, and only when someone is parked.
  alignas(kCacheLinePair) std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint64_t> wakes_{0};
  // Own block: written by waiters when they park; read by every notify.
  alignas(kCacheLinePair) std::atomic<std::uint32_t> waiters_{0};
};

} // namespace qf::ipc
