// Multi-process behaviour of the ipc layer: separate processes (posix_spawn of ipc_peer)
// stream ring events and seqlock updates while other processes verify them; owners restart,
// die, and die mid-update while readers watch.
#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "qf/ipc/segment.hpp"
#include "test_layout.hpp"

extern char** environ;

namespace qf::ipc::test {
namespace {

constexpr std::uint64_t kWaitNs = 30'000'000'000ULL;

std::string unique_instance(const char* tag) {
  static int counter = 0;
  return std::string("mp-") + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

pid_t spawn_peer(const std::vector<std::string>& args) {
  std::vector<std::string> all{QF_IPC_PEER};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, QF_IPC_PEER, nullptr, nullptr, argv.data(), environ);
  EXPECT_EQ(rc, 0) << "cannot spawn " << QF_IPC_PEER;
  return pid;
}

// Exit code, or 128 + signal.
int wait_peer(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls `done` until it holds or kWaitNs pass; returns whether it held.
template <typename Pred>
bool eventually(Pred done) {
  const std::uint64_t start = monotonic_ns();
  while (!done()) {
    if (monotonic_ns() - start > kWaitNs) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct SegmentCleanup {
  std::string instance;
  ~SegmentCleanup() { ::shm_unlink(segment_path(instance, kTestSegmentName).c_str()); }
};

TEST(multiprocess, should_deliver_every_ring_event_in_order_and_never_tear_a_record_across_processes) {
  const std::string instance = unique_instance("stream");
  SegmentCleanup cleanup{instance};
#if defined(__SANITIZE_THREAD__)
  constexpr std::uint64_t kScale = 10; // TSan runs each access ~10x slower: a tenth of the traffic still wraps the ring
#else
  constexpr std::uint64_t kScale = 1;
#endif
  constexpr std::uint64_t kEvents = 2'000'000 / kScale;
  constexpr std::uint64_t kUpdates = 2'000'000 / kScale;

  const pid_t writer = spawn_peer({"writer", instance, std::to_string(kEvents), std::to_string(kUpdates)});
  const pid_t consumer = spawn_peer({"consumer", instance, std::to_string(kEvents)});
  const pid_t reader1 = spawn_peer({"reader", instance, std::to_string(kUpdates)});
  const pid_t reader2 = spawn_peer({"reader", instance, std::to_string(kUpdates)});

  EXPECT_EQ(wait_peer(consumer), 0) << "consumer saw a lost, reordered or corrupted event";
  EXPECT_EQ(wait_peer(reader1), 0) << "reader 1 saw a torn or backwards record";
  EXPECT_EQ(wait_peer(reader2), 0) << "reader 2 saw a torn or backwards record";
  EXPECT_EQ(wait_peer(writer), 0);
}

TEST(multiprocess, should_see_stopped_then_a_new_generation_when_the_owner_restarts) {
  const std::string instance = unique_instance("restart");
  SegmentCleanup cleanup{instance};
  SegmentView view(instance, kTestSegmentName, kTestLayoutVersion);
  EXPECT_EQ(view.try_attach(), AttachStatus::awaiting);

  const pid_t first = spawn_peer({"owner", instance});
  ASSERT_TRUE(eventually([&] { return view.try_attach() == AttachStatus::attached; })) << view.message();
  const Incarnation before = view.incarnation();
  EXPECT_EQ(before.owner_pid, first);
  EXPECT_EQ(view.owner_status(5'000'000'000ULL), OwnerStatus::running);

  ASSERT_EQ(::kill(first, SIGTERM), 0);
  ASSERT_EQ(wait_peer(first), 0);
  EXPECT_EQ(view.owner_status(5'000'000'000ULL), OwnerStatus::stopped);
  EXPECT_FALSE(view.owner_restarted());

  const pid_t second = spawn_peer({"owner", instance});
  ASSERT_TRUE(eventually([&] { return view.owner_restarted(); }));
  ASSERT_TRUE(eventually([&] { return view.try_attach() == AttachStatus::attached && view.header().state.load() == SegmentState::running; }));
  EXPECT_EQ(view.incarnation().generation, before.generation + 1);
  EXPECT_EQ(view.incarnation().owner_pid, second);
  EXPECT_EQ(view.owner_status(5'000'000'000ULL), OwnerStatus::running);

  ::kill(second, SIGTERM);
  EXPECT_EQ(wait_peer(second), 0);
}

TEST(multiprocess, should_report_a_killed_owner_as_stopped_and_reclaim_its_segment) {
  const std::string instance = unique_instance("dead");
  SegmentCleanup cleanup{instance};
  SegmentView view(instance, kTestSegmentName, kTestLayoutVersion);

  const pid_t owner = spawn_peer({"owner", instance});
  ASSERT_TRUE(eventually([&] { return view.try_attach() == AttachStatus::attached; })) << view.message();
  ASSERT_EQ(::kill(owner, SIGKILL), 0);
  ASSERT_EQ(wait_peer(owner), 128 + SIGKILL);

  EXPECT_EQ(view.header().state.load(), SegmentState::running) << "a killed owner cannot mark its segment stopped";
  EXPECT_EQ(view.owner_status(5'000'000'000ULL), OwnerStatus::stopped) << "but its pid is gone";

  SegmentOptions options;
  options.instance = instance;
  options.name = kTestSegmentName;
  options.layout_version = kTestLayoutVersion;
  options.section_bytes = {64};
  SegmentOwner successor(options);
  EXPECT_EQ(successor.generation(), view.incarnation().generation + 1);
}

TEST(multiprocess, should_refuse_to_take_over_the_segment_of_a_live_owner) {
  const std::string instance = unique_instance("live");
  SegmentCleanup cleanup{instance};
  SegmentView view(instance, kTestSegmentName, kTestLayoutVersion);
  const pid_t owner = spawn_peer({"owner", instance});
  ASSERT_TRUE(eventually([&] { return view.try_attach() == AttachStatus::attached; })) << view.message();

  SegmentOptions options;
  options.instance = instance;
  options.name = kTestSegmentName;
  options.layout_version = kTestLayoutVersion;
  try {
    SegmentOwner thief(options);
    ADD_FAILURE() << "a second owner took over a live segment";
  } catch (const SegmentError& e) {
    EXPECT_NE(std::string(e.what()).find("running process (pid " + std::to_string(owner)), std::string::npos)
        << e.what();
  }
  ::kill(owner, SIGTERM);
  EXPECT_EQ(wait_peer(owner), 0);
}

TEST(multiprocess, should_return_busy_when_writer_died_mid_update) {
  const std::string instance = unique_instance("midupdate");
  SegmentCleanup cleanup{instance};
  const pid_t writer = spawn_peer({"die-mid-update", instance});
  ASSERT_EQ(wait_peer(writer), 128 + SIGKILL);

  SegmentView view(instance, kTestSegmentName, kTestLayoutVersion);
  ASSERT_EQ(view.try_attach(), AttachStatus::attached) << view.message();
  const auto* record = view.section_as<TestRecord>(1);
  ASSERT_NE(record, nullptr);
  Record r{};
  EXPECT_EQ(record->try_load(r, 1000), ReadStatus::busy);
  EXPECT_EQ(record->version(), 1U) << "one completed store before the crash";
}

} // namespace
} // namespace qf::ipc::test
