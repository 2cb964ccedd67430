#include "qf/ipc/seqlock.hpp"

#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>

namespace qf::ipc {
namespace {

struct Quote {
  std::int64_t bid;
  std::int64_t ask;
  std::uint32_t flags;
  std::uint16_t venue;
  std::uint8_t odd_size_tail; // not a multiple of 8 bytes: the last word is partial
};

TEST(seqlock, should_return_zero_value_before_the_first_store) {
  Seqlock<Quote> lock;
  Quote q{1, 2, 3, 4, 5};
  ASSERT_EQ(lock.try_load(q), ReadStatus::ok);
  EXPECT_EQ(q.bid, 0);
  EXPECT_EQ(q.ask, 0);
  EXPECT_EQ(q.odd_size_tail, 0);
}

TEST(seqlock, should_return_the_last_stored_value) {
  Seqlock<Quote> lock;
  lock.store(Quote{100, 101, 7, 2, 9});
  lock.store(Quote{200, 201, 8, 3, 10});
  Quote q{};
  ASSERT_EQ(lock.try_load(q), ReadStatus::ok);
  EXPECT_EQ(q.bid, 200);
  EXPECT_EQ(q.ask, 201);
  EXPECT_EQ(q.flags, 8U);
  EXPECT_EQ(q.venue, 3);
  EXPECT_EQ(q.odd_size_tail, 10);
}

TEST(seqlock, should_apply_an_update_to_the_current_value) {
  Seqlock<Quote> lock;
  lock.store(Quote{100, 101, 0, 1, 0});
  lock.update([](Quote& q) { q.ask += 5; });
  Quote q{};
  ASSERT_EQ(lock.try_load(q), ReadStatus::ok);
  EXPECT_EQ(q.bid, 100);
  EXPECT_EQ(q.ask, 106);
}

TEST(seqlock, should_count_completed_writes_as_its_version) {
  Seqlock<Quote> lock;
  EXPECT_EQ(lock.version(), 0U);
  lock.store(Quote{});
  lock.update([](Quote&) {});
  EXPECT_EQ(lock.version(), 2U);
}

TEST(seqlock, should_return_busy_instead_of_hanging_when_the_writer_died_mid_update) {
  // The record lives in memory shared with a forked writer that dies inside update().
  void* mem = ::mmap(nullptr, sizeof(Seqlock<Quote>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* lock = new (mem) Seqlock<Quote>();
  lock->store(Quote{1, 2, 0, 0, 0});
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    lock->update([](Quote&) { std::raise(SIGKILL); });
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  Quote q{};
  EXPECT_EQ(lock->try_load(q, 100), ReadStatus::busy);
  ::munmap(mem, sizeof(Seqlock<Quote>));
}

// Garbage behind the writer's back (a stray write into the segment): every payload byte and the
// checksum word changed in turn, each is `corrupt` and never returned as data; the writer's next
// store heals the record. The layout is sequence, checksum, payload words (state layout v10).
TEST(seqlock, should_report_corrupt_and_return_nothing_when_a_byte_changes_behind_the_writer) {
  Seqlock<Quote> lock;
  const Quote stored{100, 101, 7, 2, 9};
  lock.store(stored);
  auto* bytes = reinterpret_cast<unsigned char*>(&lock);
  constexpr std::size_t kPayload = 16;
  for (std::size_t at = 8; at < kPayload + sizeof(Quote); ++at) {
    for (const unsigned flip : {0x01U, 0x80U, 0xFFU}) {
      bytes[at] = static_cast<unsigned char>(bytes[at] ^ flip);
      Quote q{-1, -1, 0, 0, 0};
      EXPECT_EQ(lock.try_load(q), ReadStatus::corrupt) << "byte " << at << " xor " << flip;
      EXPECT_EQ(q.bid, -1) << "byte " << at << ": a corrupt record must leave `out` untouched";
      EXPECT_EQ(q.ask, -1);
      bytes[at] = static_cast<unsigned char>(bytes[at] ^ flip);
    }
  }
  bytes[kPayload] = static_cast<unsigned char>(bytes[kPayload] ^ 0x10U);
  Quote q{};
  ASSERT_EQ(lock.try_load(q), ReadStatus::corrupt);
  lock.store(Quote{200, 201, 8, 3, 10});
  ASSERT_EQ(lock.try_load(q), ReadStatus::ok);
  EXPECT_EQ(q.bid, 200);
  lock.update([](Quote& v) { v.ask += 1; });
  ASSERT_EQ(lock.try_load(q), ReadStatus::ok);
  EXPECT_EQ(q.ask, 202);
  // Two words swapped is caught too (each word has its own multiplier).
  std::swap_ranges(bytes + kPayload, bytes + kPayload + 8, bytes + kPayload + 8);
  EXPECT_EQ(lock.try_load(q), ReadStatus::corrupt);
}

// Wide enough (2 KiB) that a copy takes long and readers regularly overlap a write.
struct Wide {
  std::array<std::uint64_t, 256> words;
};

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(cpu), &set);
  ASSERT_EQ(::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set), 0);
}

struct TornReadResult {
  std::uint64_t torn = 0;
  std::uint64_t backwards = 0;
  std::uint64_t writes = 0;
  std::uint64_t final_word = 0;
};

#if defined(__SANITIZE_THREAD__)
constexpr std::uint64_t kReads = 20'000; // TSan makes each 2 KiB copy ~10x slower; the Release pass takes 200k
#else
constexpr std::uint64_t kReads = 200'000;
#endif

// A writer stores without pause while the reader takes `reads` consistent copies. Across two
// CPUs readers overlap writes in flight; on one CPU the scheduler preempts them mid-copy.
TornReadResult hammer(int writer_cpu, int reader_cpu, std::uint64_t reads) {
  const auto lock_storage = std::make_unique<Seqlock<Wide>>();
  Seqlock<Wide>& lock = *lock_storage;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> writes{0};
  std::thread writer([&] {
    pin_to(writer_cpu);
    std::uint64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      Wide w;
      w.words.fill(++i);
      lock.store(w);
      // Gaps between writes, as in the engine (records change at most ~1M times/s): readers
      // get even windows to start copies in, which a write then overlaps.
      for (int spin = 0; spin < 16; ++spin) {
        cpu_relax();
      }
    }
    writes.store(i, std::memory_order_release);
  });
  pin_to(reader_cpu);
  TornReadResult r;
  std::uint64_t consistent = 0;
  std::uint64_t last = 0;
  while (consistent < reads) {
    Wide w;
    if (lock.try_load(w) != ReadStatus::ok) {
      continue;
    }
    ++consistent;
    for (const auto word : w.words) {
      r.torn += word != w.words[0] ? 1U : 0U;
    }
    r.backwards += w.words[0] < last ? 1U : 0U;
    last = w.words[0];
  }
  stop.store(true, std::memory_order_relaxed);
  writer.join();
  r.writes = writes.load(std::memory_order_acquire);
  Wide final_value{};
  EXPECT_EQ(lock.try_load(final_value), ReadStatus::ok);
  r.final_word = final_value.words[255];
  return r;
}

TEST(seqlock, should_never_hand_a_reader_a_torn_value_while_a_writer_on_another_cpu_stores) {
  if (std::thread::hardware_concurrency() < 2) {
    GTEST_SKIP() << "needs two CPUs";
  }
  const TornReadResult r = hammer(1, 0, kReads);
  EXPECT_EQ(r.torn, 0U);
  EXPECT_EQ(r.backwards, 0U);
  EXPECT_EQ(r.final_word, r.writes);
}

TEST(seqlock, should_never_hand_a_reader_a_torn_value_when_preempted_mid_copy) {
  const TornReadResult r = hammer(0, 0, kReads);
  EXPECT_EQ(r.torn, 0U);
  EXPECT_EQ(r.backwards, 0U);
  EXPECT_EQ(r.final_word, r.writes);
}

} // namespace
} // namespace qf::ipc
