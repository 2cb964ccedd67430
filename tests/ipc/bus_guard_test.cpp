// guarded_read and the StateReader over a segment file truncated under it: a SIGBUS in the
// mapping is a `false` / status damaged, never the reader's death. Without the guard these tests
// die of SIGBUS (drop the guarded_read in StateReader::read to see the second one do so).
#include "qf/ipc/bus_guard.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"
#include "qf/ipc/state_reader.hpp"

namespace qf::ipc {
namespace {

TEST(bus_guard, should_turn_a_read_past_a_truncated_file_into_false) {
  const int fd = ::memfd_create("qf-bus-guard", 0);
  ASSERT_GE(fd, 0);
  constexpr std::size_t kBytes = 4 * 4096;
  ASSERT_EQ(::ftruncate(fd, kBytes), 0);
  auto* map = static_cast<const volatile char*>(::mmap(nullptr, kBytes, PROT_READ, MAP_SHARED, fd, 0));
  ASSERT_NE(map, MAP_FAILED);
  char seen = 1;
  EXPECT_TRUE(guarded_read([&] { seen = map[kBytes - 1]; }));
  EXPECT_EQ(seen, 0);
  ASSERT_EQ(::ftruncate(fd, 4096), 0); // the last three pages are gone: touching them is SIGBUS
  seen = 1;
  EXPECT_FALSE(guarded_read([&] { seen = map[kBytes - 1]; }));
  EXPECT_EQ(seen, 1);
  EXPECT_FALSE(guarded_read([&] { seen = map[2 * 4096]; })) << "a second fault is caught the same way";
  EXPECT_TRUE(guarded_read([&] { seen = map[0]; })) << "the page that is left still reads";
  ::munmap(const_cast<char*>(map), kBytes);
  ::close(fd);
}

// A real state segment read in a loop while another thread truncates its file and restores the
// size, over and over: some truncations land between the reader's fstat and its copy (the copy
// is most of a read). Every read must end running or damaged, and at least one must be the
// caught SIGBUS (the message says so); the reader keeps reading and attaches again.
TEST(bus_guard, should_report_a_segment_truncated_during_a_state_read_as_damaged) {
  SegmentOptions o;
  o.instance = "busg-" + std::to_string(::getpid());
  o.name = kStateSegmentName;
  o.layout_version = kStateLayoutVersion;
  const auto bytes = state_section_bytes();
  o.section_bytes.assign(bytes.begin(), bytes.end());
  SegmentOwner owner(o);
  owner.set_state(SegmentState::running);
  owner.heartbeat();
  const std::string path = "/dev/shm" + owner.path();
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  const auto full = static_cast<off_t>(owner.mapped_bytes());

  std::atomic<bool> stop{false};
  std::thread truncator([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      (void)::ftruncate(fd, 4096); // the header page stays
      (void)::ftruncate(fd, full);
    }
  });
  StateReader reader(o.instance, std::uint64_t{60'000'000'000});
  StateSnapshot snap;
  std::uint64_t caught = 0;
  std::uint64_t reads = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (caught == 0 && std::chrono::steady_clock::now() < give_up) {
    reader.read(snap);
    ++reads;
    if (snap.status != EngineStatus::running && snap.status != EngineStatus::damaged &&
        snap.status != EngineStatus::awaiting) {
      ADD_FAILURE() << to_string(snap.status) << ": " << snap.message;
      break;
    }
    if (snap.message.find("SIGBUS reading the mapping") != std::string::npos) {
      EXPECT_EQ(snap.status, EngineStatus::damaged);
      EXPECT_EQ(snap.message.rfind("segment damaged: ", 0), 0U) << snap.message;
      EXPECT_TRUE(snap.instruments.empty());
      ++caught;
    }
  }
  stop.store(true);
  truncator.join();
  ::close(fd);
  EXPECT_GT(caught, 0U) << "no truncation landed inside a copy in " << reads << " reads";
  reader.read(snap); // the size is whole again: the reader attaches and reads
  EXPECT_EQ(snap.status, EngineStatus::running) << snap.message;
  owner.unlink();
}

} // namespace
} // namespace qf::ipc
