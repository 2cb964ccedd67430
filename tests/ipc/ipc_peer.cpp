// A separate process for the multi-process ipc tests. Modes:
//   writer   INSTANCE EVENTS UPDATES  owns the segment, streams EVENTS ring events and
//                                     UPDATES seqlock updates, then waits for the consumer
//   consumer INSTANCE EVENTS          attaches read-write, pops EVENTS events, checks order and content
//   reader   INSTANCE UPDATES         attaches read-only, reads the record until it shows UPDATES,
//                                     checks every copy is whole and counters never go back
//   owner    INSTANCE                 owns the segment, heartbeats until SIGTERM, exits cleanly
//   die-mid-update INSTANCE           owns the segment, stores once, then dies inside an update
// Exit status 0 means every check passed; failures print why on stderr. Each mode gives up
// after a deadline, so a broken peer never hangs the test.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "qf/ipc/segment.hpp"
#include "qf/ipc/tsc_clock.hpp"
#include "test_layout.hpp"

using namespace qf::ipc;
using namespace qf::ipc::test;

namespace {

constexpr std::uint64_t kDeadlineNs = 120'000'000'000ULL;
volatile std::sig_atomic_t g_stop = 0;

SegmentOptions test_options(const std::string& instance) {
  SegmentOptions o;
  o.instance = instance;
  o.name = kTestSegmentName;
  o.layout_version = kTestLayoutVersion;
  o.section_bytes = {sizeof(TestRing), sizeof(TestRecord)};
  return o;
}

template <typename Attachment>
bool attach_within_deadline(Attachment& a) {
  const std::uint64_t start = monotonic_ns();
  while (a.try_attach() != AttachStatus::attached) {
    if (monotonic_ns() - start > kDeadlineNs) {
      std::fprintf(stderr, "peer: never attached: %s\n", a.message().c_str());
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

int run_writer(const std::string& instance, std::uint64_t events, std::uint64_t updates) {
  SegmentOwner owner(test_options(instance));
  auto* ring = new (owner.section(0)) TestRing();
  auto* record = new (owner.section(1)) TestRecord();
  owner.set_state(SegmentState::running);

  const std::uint64_t start = monotonic_ns();
  std::uint64_t pushed = 0;
  std::uint64_t updated = 0;
  while (pushed < events || updated < updates) {
    if (pushed < events && ring->try_push(make_event(pushed))) {
      ++pushed;
    }
    if (updated < updates) {
      ++updated;
      Record r;
      r.words.fill(updated);
      record->store(r);
    }
    if (monotonic_ns() - start > kDeadlineNs) {
      std::fprintf(stderr, "writer: deadline with %llu/%llu pushed\n", static_cast<unsigned long long>(pushed),
                   static_cast<unsigned long long>(events));
      return 1;
    }
  }
  // Keep the segment owned until the consumer has taken everything.
  while (ring->popped_guess() < events) {
    if (monotonic_ns() - start > kDeadlineNs) {
      std::fprintf(stderr, "writer: consumer stopped at %llu\n", static_cast<unsigned long long>(ring->popped_guess()));
      return 1;
    }
    std::this_thread::yield();
  }
  return 0;
}

int run_consumer(const std::string& instance, std::uint64_t events) {
  SegmentPeer peer(instance, kTestSegmentName, kTestLayoutVersion);
  if (!attach_within_deadline(peer)) {
    return 1;
  }
  auto* ring = peer.section_as<TestRing>(0);
  const std::uint64_t start = monotonic_ns();
  std::uint64_t expected = 0;
  bool ok = true;
  while (expected < events && ok) {
    ring->drain(
        [&](const RingEvent& e) {
          if (e.seq != expected || !event_intact(e)) {
            std::fprintf(stderr, "consumer: expected event %llu, got %llu (intact=%d)\n",
                         static_cast<unsigned long long>(expected), static_cast<unsigned long long>(e.seq),
                         event_intact(e) ? 1 : 0);
            ok = false;
          }
          ++expected;
        },
        256);
    if (monotonic_ns() - start > kDeadlineNs) {
      std::fprintf(stderr, "consumer: deadline at %llu\n", static_cast<unsigned long long>(expected));
      return 1;
    }
  }
  return ok ? 0 : 1;
}

int run_reader(const std::string& instance, std::uint64_t updates) {
  SegmentView view(instance, kTestSegmentName, kTestLayoutVersion);
  if (!attach_within_deadline(view)) {
    return 1;
  }
  const auto* record = view.section_as<TestRecord>(1);
  const std::uint64_t start = monotonic_ns();
  std::uint64_t last = 0;
  std::uint64_t reads = 0;
  std::uint64_t busy = 0;
  while (last < updates) {
    Record r;
    if (record->try_load(r) != ReadStatus::ok) {
      ++busy;
      continue;
    }
    ++reads;
    for (const std::uint64_t w : r.words) {
      if (w != r.words[0]) {
        std::fprintf(stderr, "reader: torn read: word %llu beside %llu\n", static_cast<unsigned long long>(w),
                     static_cast<unsigned long long>(r.words[0]));
        return 1;
      }
    }
    if (r.words[0] < last) {
      std::fprintf(stderr, "reader: went back from %llu to %llu\n", static_cast<unsigned long long>(last),
                   static_cast<unsigned long long>(r.words[0]));
      return 1;
    }
    last = r.words[0];
    if (monotonic_ns() - start > kDeadlineNs) {
      std::fprintf(stderr, "reader: deadline at %llu\n", static_cast<unsigned long long>(last));
      return 1;
    }
  }
  std::fprintf(stderr, "reader: %llu consistent reads, %llu busy\n", static_cast<unsigned long long>(reads),
               static_cast<unsigned long long>(busy));
  return 0;
}

int run_owner(const std::string& instance) {
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  SegmentOwner owner(test_options(instance));
  new (owner.section(0)) TestRing();
  new (owner.section(1)) TestRecord();
  owner.set_state(SegmentState::running);
  const std::uint64_t start = monotonic_ns();
  while (g_stop == 0 && monotonic_ns() - start < kDeadlineNs) {
    owner.heartbeat();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return 0; // ~SegmentOwner marks the segment stopped
}

int run_die_mid_update(const std::string& instance) {
  SegmentOwner owner(test_options(instance));
  auto* record = new (owner.section(1)) TestRecord();
  Record r;
  r.words.fill(1);
  record->store(r);
  owner.set_state(SegmentState::running);
  record->update([](Record&) { std::raise(SIGKILL); });
  return 1; // unreachable
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ipc_peer MODE INSTANCE [N [M]]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string instance = argv[2];
  const auto arg = [&](int i) { return argc > i ? std::strtoull(argv[i], nullptr, 10) : 0ULL; };
  try {
    if (mode == "writer") {
      return run_writer(instance, arg(3), arg(4));
    }
    if (mode == "consumer") {
      return run_consumer(instance, arg(3));
    }
    if (mode == "reader") {
      return run_reader(instance, arg(3));
    }
    if (mode == "owner") {
      return run_owner(instance);
    }
    if (mode == "die-mid-update") {
      return run_die_mid_update(instance);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peer %s: %s\n", mode.c_str(), e.what());
    return 3;
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
