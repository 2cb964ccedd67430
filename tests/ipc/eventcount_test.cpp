#include "qf/ipc/eventcount.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "qf/ipc/spsc_ring.hpp"

namespace qf::ipc {
namespace {

TEST(eventcount, should_make_no_syscall_when_nobody_is_parked) {
  EventCount ec;
  std::uint64_t woke = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    woke += ec.notify() ? 1U : 0U;
  }
  EXPECT_EQ(woke, 0U);
  EXPECT_EQ(ec.wakes(), 0U);
}

TEST(eventcount, should_make_no_syscall_after_a_cancelled_wait) {
  EventCount ec;
  const EventCount::Key key = ec.prepare_wait();
  ec.cancel_wait(key);
  EXPECT_FALSE(ec.notify());
  EXPECT_EQ(ec.wakes(), 0U);
}

TEST(eventcount, should_pay_the_syscall_once_a_waiter_is_announced) {
  EventCount ec;
  const EventCount::Key key = ec.prepare_wait();
  EXPECT_TRUE(ec.notify());
  EXPECT_EQ(ec.wakes(), 1U);
  ec.wait(key); // the epoch moved: returns without parking
}

TEST(eventcount, should_release_a_waiter_that_prepared_before_the_notify) {
  EventCount ec;
  std::atomic<bool> prepared{false};
  std::atomic<bool> released{false};
  std::thread waiter([&] {
    const EventCount::Key key = ec.prepare_wait();
    prepared.store(true, std::memory_order_release);
    ec.wait(key);
    released.store(true, std::memory_order_release);
  });
  while (!prepared.load(std::memory_order_acquire)) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(ec.notify()) << "the waiter announced itself before this notify";
  waiter.join(); // a lost wake-up hangs here (ctest TIMEOUT)
  EXPECT_TRUE(released.load(std::memory_order_acquire));
}

TEST(eventcount, should_return_from_a_timed_wait_that_nobody_notifies) {
  EventCount ec;
  const EventCount::Key key = ec.prepare_wait();
  ec.wait_for(key, 1'000'000); // 1 ms: must come back on its own
  EXPECT_FALSE(ec.notify()) << "the timed-out waiter must have withdrawn";
}

// Stress: a producer pushes a million items through an SpscRing in short bursts and, after
// each burst, parks until the consumer has taken all of them; the consumer drains and parks
// whenever the ring is empty. Both sides park and wake hundreds of thousands of times; a lost
// wake-up hangs (ctest TIMEOUT), a lost or reordered item fails the order check.
TEST(eventcount, should_lose_no_wakeup_when_both_sides_park_and_wake_a_million_times) {
  constexpr std::uint64_t kItems = 1'000'000;
  SpscRing<std::uint64_t, 64> ring;
  EventCount items;    // the consumer parks on it, the producer notifies after each push
  EventCount consumed; // the producer parks on it, the consumer notifies after each drain
  std::atomic<std::uint64_t> taken{0};
  std::uint64_t consumer_parks = 0;
  bool in_order = true;

  std::thread consumer([&] {
    std::uint64_t expected = 0;
    while (expected < kItems) {
      const std::size_t n = ring.drain([&](const std::uint64_t& v) { in_order &= (v == expected++); }, 64);
      if (n != 0) {
        taken.store(expected, std::memory_order_release);
        consumed.notify();
        continue;
      }
      const EventCount::Key key = items.prepare_wait();
      if (ring.size_guess() != 0) {
        items.cancel_wait(key);
        continue;
      }
      ++consumer_parks;
      items.wait(key);
    }
  });

  std::uint64_t pushed = 0;
  std::uint64_t burst = 0;
  while (pushed < kItems) {
    const std::uint64_t end = std::min(kItems, pushed + 1 + burst++ % 3); // bursts of 1, 2, 3
    while (pushed < end) {
      if (ring.try_push(pushed)) {
        ++pushed;
        items.notify();
      }
    }
    while (taken.load(std::memory_order_acquire) != pushed) {
      const EventCount::Key key = consumed.prepare_wait();
      if (taken.load(std::memory_order_acquire) == pushed) {
        consumed.cancel_wait(key);
        break;
      }
      consumed.wait(key);
    }
  }
  consumer.join();

  EXPECT_TRUE(in_order);
  EXPECT_EQ(taken.load(std::memory_order_acquire), kItems);
  std::printf("consumer parked %llu times, producer woke it %llu times; producer parks woken %llu times\n",
              static_cast<unsigned long long>(consumer_parks), static_cast<unsigned long long>(items.wakes()),
              static_cast<unsigned long long>(consumed.wakes()));
}

} // namespace
} // namespace qf::ipc
