#include "qf/ipc/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace qf::ipc {
namespace {

TEST(spsc_ring, should_pop_values_in_push_order) {
  SpscRing<int, 8> ring;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ring.try_push(i));
  }
  for (int i = 0; i < 5; ++i) {
    int out = -1;
    ASSERT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out, i);
  }
}

TEST(spsc_ring, should_reject_pop_when_empty) {
  SpscRing<int, 4> ring;
  int out = 42;
  EXPECT_FALSE(ring.try_pop(out));
  EXPECT_EQ(out, 42) << "a failed pop must not touch the output";
}

TEST(spsc_ring, should_reject_push_when_full) {
  SpscRing<int, 4> ring;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.try_push(i)) << i;
  }
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size_guess(), 4U);
}

TEST(spsc_ring, should_accept_a_push_again_once_a_pop_frees_a_slot) {
  SpscRing<int, 4> ring;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.try_push(i));
  }
  int out = 0;
  ASSERT_TRUE(ring.try_pop(out));
  EXPECT_TRUE(ring.try_push(4));
  std::vector<int> rest;
  while (ring.try_pop(out)) {
    rest.push_back(out);
  }
  EXPECT_EQ(rest, (std::vector<int>{1, 2, 3, 4}));
}

TEST(spsc_ring, should_keep_order_when_sequences_run_many_times_around_the_slots) {
  SpscRing<std::uint64_t, 8> ring;
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  for (int round = 0; round < 10'000; ++round) {
    const int burst = 1 + round % 8;
    for (int i = 0; i < burst; ++i) {
      ASSERT_TRUE(ring.try_push(next_in++));
    }
    std::uint64_t out = 0;
    while (ring.try_pop(out)) {
      ASSERT_EQ(out, next_out++);
    }
  }
  EXPECT_EQ(ring.pushed_guess(), next_in);
  EXPECT_EQ(ring.popped_guess(), next_out);
}

TEST(spsc_ring, should_drain_at_most_max_items_in_order) {
  SpscRing<int, 16> ring;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(ring.try_push(i));
  }
  std::vector<int> seen;
  EXPECT_EQ(ring.drain([&](const int& v) { seen.push_back(v); }, 4), 4U);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(ring.drain([&](const int& v) { seen.push_back(v); }, 100), 6U);
  EXPECT_EQ(seen.size(), 10U);
  EXPECT_EQ(seen.back(), 9);
  EXPECT_EQ(ring.size_guess(), 0U);
}

TEST(spsc_ring, should_drain_nothing_when_empty) {
  SpscRing<int, 4> ring;
  int calls = 0;
  EXPECT_EQ(ring.drain([&](const int&) { ++calls; }, 8), 0U);
  EXPECT_EQ(calls, 0);
}

TEST(spsc_ring, should_free_drained_slots_for_the_producer) {
  SpscRing<int, 4> ring;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.try_push(i));
  }
  ASSERT_EQ(ring.drain([](const int&) {}, 2), 2U);
  EXPECT_TRUE(ring.try_push(4));
  EXPECT_TRUE(ring.try_push(5));
  EXPECT_FALSE(ring.try_push(6));
}

TEST(spsc_ring, should_place_producer_and_consumer_indices_on_separate_128_byte_blocks) {
  using Ring = SpscRing<std::uint64_t, 8>;
  EXPECT_EQ(alignof(Ring), 128U);
  EXPECT_GE(sizeof(Ring), 3 * 128U) << "producer block, consumer block, then slots";
}

struct Wide {
  std::uint64_t seq;
  std::uint64_t pad[6];
  std::uint64_t check;
};

TEST(spsc_ring, should_transfer_every_value_in_order_between_two_threads) {
  static SpscRing<Wide, 1024> ring;
  constexpr std::uint64_t kCount = 2'000'000;
  std::thread producer([] {
    for (std::uint64_t i = 0; i < kCount;) {
      Wide w{};
      w.seq = i;
      w.check = ~i;
      if (ring.try_push(w)) {
        ++i;
      }
    }
  });
  std::uint64_t expected = 0;
  bool ordered = true;
  while (expected < kCount) {
    ring.drain(
        [&](const Wide& w) {
          ordered = ordered && w.seq == expected && w.check == ~expected;
          ++expected;
        },
        64);
  }
  producer.join();
  EXPECT_TRUE(ordered);
  EXPECT_EQ(expected, kCount);
}

} // namespace
} // namespace qf::ipc
