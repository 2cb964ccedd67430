#include "qf/ipc/broadcast_ring.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

namespace qf::ipc {
namespace {

// Seven words all derived from the position: a torn copy mixes two positions and is caught.
struct Entry {
  std::array<std::uint64_t, 7> w;
  friend bool operator==(const Entry&, const Entry&) = default;
};
Entry entry(std::uint64_t p) {
  Entry e{};
  for (std::size_t i = 0; i < e.w.size(); ++i) {
    e.w[i] = p * 0x9E3779B97F4A7C15ULL + i;
  }
  return e;
}
// The position an entry was written for, or ~0 when its words disagree (torn).
std::uint64_t position_of(const Entry& e) {
  const std::uint64_t p = (e.w[0]) * 0xF1DE83E19937733DULL; // inverse of the odd multiplier mod 2^64
  return e == entry(p) ? p : ~0ULL;
}

using Small = BroadcastRing<Entry, 16>;

TEST(broadcast_ring, hands_out_every_entry_in_order) {
  auto ring = std::make_unique<Small>();
  BroadcastCursor<Small> cursor(*ring);
  Entry out{};
  EXPECT_FALSE(cursor.poll(out));
  for (std::uint64_t p = 0; p < 10; ++p) {
    ring->append(entry(p));
  }
  for (std::uint64_t p = 0; p < 10; ++p) {
    ASSERT_TRUE(cursor.poll(out));
    EXPECT_EQ(position_of(out), p);
  }
  EXPECT_FALSE(cursor.poll(out));
  EXPECT_EQ(cursor.delivered(), 10U);
  EXPECT_EQ(cursor.lost(), 0U);
}

TEST(broadcast_ring, a_full_ring_is_still_read_whole) {
  auto ring = std::make_unique<Small>();
  BroadcastCursor<Small> cursor(*ring);
  for (std::uint64_t p = 0; p < Small::kCapacity; ++p) {
    ring->append(entry(p));
  }
  Entry out{};
  for (std::uint64_t p = 0; p < Small::kCapacity; ++p) {
    ASSERT_TRUE(cursor.poll(out));
    EXPECT_EQ(position_of(out), p);
  }
  EXPECT_EQ(cursor.lost(), 0U);
}

TEST(broadcast_ring, a_lapped_reader_counts_exactly_what_it_lost_and_resumes_at_the_head) {
  auto ring = std::make_unique<Small>();
  BroadcastCursor<Small> cursor(*ring);
  Entry out{};
  for (std::uint64_t p = 0; p < 3; ++p) {
    ring->append(entry(p));
  }
  ASSERT_TRUE(cursor.poll(out)); // entry 0 read; 1.. will be lapped
  for (std::uint64_t p = 3; p < 3 + Small::kCapacity + 5; ++p) {
    ring->append(entry(p)); // the writer never waits for the cursor
  }
  const std::uint64_t head = ring->head();
  EXPECT_EQ(head, 3 + Small::kCapacity + 5);
  EXPECT_FALSE(cursor.poll(out)); // lapped: jumps to the head, nothing newer yet
  EXPECT_EQ(cursor.lost(), head - 1);
  EXPECT_EQ(cursor.laps(), 1U);
  EXPECT_EQ(cursor.next(), head);
  ring->append(entry(head));
  ASSERT_TRUE(cursor.poll(out));
  EXPECT_EQ(position_of(out), head);
  EXPECT_EQ(cursor.delivered() + cursor.lost(), ring->head());
}

TEST(broadcast_ring, reports_pending_lapped_and_ok_per_position) {
  auto ring = std::make_unique<Small>();
  Entry out{};
  EXPECT_EQ(ring->try_read(0, out), Small::Read::pending);
  for (std::uint64_t p = 0; p < Small::kCapacity + 1; ++p) {
    ring->append(entry(p));
  }
  EXPECT_EQ(ring->try_read(0, out), Small::Read::lapped);
  EXPECT_EQ(ring->try_read(1, out), Small::Read::ok);
  EXPECT_EQ(position_of(out), 1U);
  EXPECT_EQ(ring->try_read(Small::kCapacity + 1, out), Small::Read::pending);
}

// A free-running writer and a reader that falls behind on purpose (it waits until the writer is
// two laps ahead before reading on): every entry it gets is whole and in order, each jump in
// positions is exactly what it counted as lost, and delivered + lost == everything written. The
// writer runs until the reader has seen enough (it never waits for the reader's position).
TEST(broadcast_ring, a_slow_reader_under_a_running_writer_never_sees_a_torn_entry) {
  using Ring = BroadcastRing<Entry, 64>;
  auto ring = std::make_unique<Ring>();
  BroadcastCursor<Ring> cursor(*ring, 0);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t p = 0; !stop.load(std::memory_order_relaxed); ++p) {
      ring->append(entry(p));
    }
  });
  std::uint64_t torn = 0, out_of_order = 0, lost_seen = 0, prev = ~0ULL;
  Entry out{};
  const auto check = [&] {
    const std::uint64_t p = position_of(out);
    if (p == ~0ULL) {
      ++torn;
      return;
    }
    const std::uint64_t jump = cursor.lost() - lost_seen; // counted since the last entry
    if (p != prev + 1 + jump) {
      ++out_of_order;
    }
    lost_seen = cursor.lost();
    prev = p;
  };
  std::uint64_t waited_at = ~0ULL;
  while (cursor.delivered() < 20'000 || cursor.laps() < 10) {
    if (cursor.delivered() % 32 == 31 && waited_at != cursor.delivered()) {
      waited_at = cursor.delivered(); // once per 32 entries
      const std::uint64_t want = cursor.next() + 2 * Ring::kCapacity; // fall behind: two laps
      while (ring->head() < want) {
        std::this_thread::yield();
      }
    }
    if (cursor.poll(out)) {
      check();
    }
  }
  stop.store(true);
  writer.join();
  while (cursor.poll(out)) { // the rest, the writer stopped
    check();
  }
  EXPECT_EQ(torn, 0U);
  EXPECT_EQ(out_of_order, 0U);
  EXPECT_EQ(cursor.next(), ring->head());
  EXPECT_EQ(cursor.delivered() + cursor.lost(), ring->head());
  EXPECT_GE(cursor.laps(), 10U);
}

} // namespace
} // namespace qf::ipc
