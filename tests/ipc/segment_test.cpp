#include "qf/ipc/segment.hpp"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "qf/ipc/seqlock.hpp"

namespace qf::ipc {
namespace {

constexpr std::uint64_t kStallNs = 2'000'000'000ULL;

class segment : public ::testing::Test {
protected:
  void SetUp() override {
    static int counter = 0;
    instance_ = "seg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  }
  void TearDown() override { ::shm_unlink(segment_path(instance_, "state").c_str()); }

  SegmentOptions options(std::uint32_t version = 3) const {
    SegmentOptions o;
    o.instance = instance_;
    o.name = "state";
    o.layout_version = version;
    o.section_bytes = {sizeof(Seqlock<std::uint64_t>), 1000};
    o.mode = 2;
    return o;
  }
  std::string instance_;
};

TEST_F(segment, should_await_when_no_segment_exists) {
  SegmentView view(instance_, "state", 3);
  EXPECT_EQ(view.try_attach(), AttachStatus::awaiting);
  EXPECT_FALSE(view.attached());
  EXPECT_NE(view.message().find("awaiting /qf." + instance_ + ".state"), std::string::npos) << view.message();
}

TEST_F(segment, should_await_while_the_owner_is_still_creating_it) {
  SegmentOwner owner(options());
  SegmentView view(instance_, "state", 3);
  EXPECT_EQ(view.try_attach(), AttachStatus::awaiting) << "state is still `creating`";
  owner.set_state(SegmentState::running);
  EXPECT_EQ(view.try_attach(), AttachStatus::attached) << view.message();
}

TEST_F(segment, should_show_readers_the_owner_header_and_sections) {
  SegmentOwner owner(options());
  auto* value = new (owner.section(0)) Seqlock<std::uint64_t>();
  value->store(4242);
  std::memcpy(owner.section(1), "hello", 5);
  owner.set_state(SegmentState::running);

  SegmentView view(instance_, "state", 3);
  ASSERT_EQ(view.try_attach(), AttachStatus::attached) << view.message();
  const SegmentHeader& h = view.header();
  EXPECT_EQ(h.magic.load(), kSegmentMagic);
  EXPECT_EQ(h.layout_version, 3U);
  EXPECT_EQ(h.owner_pid, ::getpid());
  EXPECT_EQ(h.generation, 1U);
  EXPECT_EQ(h.mode, 2U);
  EXPECT_EQ(h.section_count, 2U);
  EXPECT_EQ(h.sections[0].offset % kSectionAlign, 0U);
  EXPECT_EQ(h.sections[1].offset % kSectionAlign, 0U);
  EXPECT_EQ(view.section_size(1), 1000U);
  EXPECT_EQ(std::memcmp(view.section(1), "hello", 5), 0);
  std::uint64_t seen = 0;
  ASSERT_EQ(view.section_as<Seqlock<std::uint64_t>>(0)->try_load(seen), ReadStatus::ok);
  EXPECT_EQ(seen, 4242U);
  EXPECT_EQ(view.owner_status(kStallNs), OwnerStatus::running);
}

TEST_F(segment, should_refuse_a_section_smaller_than_the_type_asked_for) {
  SegmentOwner owner(options());
  owner.set_state(SegmentState::running);
  SegmentView view(instance_, "state", 3);
  ASSERT_EQ(view.try_attach(), AttachStatus::attached);
  struct Big {
    char bytes[4096];
  };
  EXPECT_EQ(view.section_as<Big>(1), nullptr);
  EXPECT_EQ(view.section(5), nullptr) << "no such section";
}

TEST_F(segment, should_refuse_a_layout_version_mismatch_with_a_clear_message) {
  SegmentOwner owner(options(4));
  owner.set_state(SegmentState::running);
  SegmentView view(instance_, "state", 3);
  EXPECT_EQ(view.try_attach(), AttachStatus::version_mismatch);
  EXPECT_FALSE(view.attached());
  EXPECT_NE(view.message().find("layout version 4"), std::string::npos) << view.message();
  EXPECT_NE(view.message().find("reads version 3"), std::string::npos) << view.message();
}

TEST_F(segment, should_report_a_stalled_owner_by_heartbeat_age_and_a_stopped_one_by_state) {
  auto owner = std::make_unique<SegmentOwner>(options());
  owner->set_state(SegmentState::running);
  SegmentView view(instance_, "state", 3);
  ASSERT_EQ(view.try_attach(), AttachStatus::attached);
  owner->header().heartbeat_ns.store(monotonic_ns() - 10 * kStallNs);
  EXPECT_EQ(view.owner_status(kStallNs), OwnerStatus::stalled);
  EXPECT_GE(view.heartbeat_age_ns(), 10 * kStallNs);
  owner->heartbeat();
  EXPECT_EQ(view.owner_status(kStallNs), OwnerStatus::running);
  owner.reset();
  EXPECT_EQ(view.owner_status(kStallNs), OwnerStatus::stopped);
}

TEST_F(segment, should_bump_the_generation_when_an_owner_replaces_a_stopped_one) {
  auto first = std::make_unique<SegmentOwner>(options());
  first->set_state(SegmentState::running);
  SegmentView view(instance_, "state", 3);
  ASSERT_EQ(view.try_attach(), AttachStatus::attached);
  first.reset();
  EXPECT_FALSE(view.owner_restarted());

  SegmentOwner second(options());
  second.set_state(SegmentState::running);
  EXPECT_EQ(second.generation(), 2U);
  EXPECT_TRUE(view.owner_restarted());
  EXPECT_EQ(view.header().generation, 1U) << "still mapped to the old incarnation";
  ASSERT_EQ(view.try_attach(), AttachStatus::attached);
  EXPECT_EQ(view.header().generation, 2U);
  EXPECT_FALSE(view.owner_restarted());
}

TEST_F(segment, should_let_a_read_write_peer_write_into_sections) {
  SegmentOwner owner(options());
  owner.set_state(SegmentState::running);
  SegmentPeer peer(instance_, "state", 3);
  ASSERT_EQ(peer.try_attach(), AttachStatus::attached) << peer.message();
  std::memcpy(peer.section(1), "peer", 4);
  EXPECT_EQ(std::memcmp(owner.section(1), "peer", 4), 0);
}

TEST_F(segment, should_reject_names_that_are_not_plain_identifiers) {
  EXPECT_THROW((void)segment_path("../etc", "state"), SegmentError);
  EXPECT_THROW((void)segment_path("", "state"), SegmentError);
  EXPECT_THROW((void)segment_path("a", "st/ate"), SegmentError);
  EXPECT_EQ(segment_path("prod-1", "state"), "/qf.prod-1.state");
}

using segment_death = segment;

TEST_F(segment_death, should_fault_on_a_write_through_the_read_only_view) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  SegmentOwner owner(options());
  owner.set_state(SegmentState::running);
  SegmentView view(instance_, "state", 3);
  ASSERT_EQ(view.try_attach(), AttachStatus::attached);
  // Defeat the type system on purpose: the OS mapping itself must refuse the write.
  auto* bytes = const_cast<std::byte*>(view.section(1));
  EXPECT_DEATH(
      {
        *reinterpret_cast<volatile std::byte*>(bytes) = std::byte{1};
        std::fprintf(stderr, "write went through\n");
      },
      "");
  EXPECT_EQ(owner.section(1)[0], std::byte{0}) << "the owner's memory is unchanged";
}

} // namespace
} // namespace qf::ipc
