#pragma once
// RiskWriter: risk-state persistence off the hot thread. The core agent hands a snapshot off
// once a second (offer: one seqlock store into a single-slot mailbox and an EventCount notify,
// one futex wake since the writer is parked; never blocks, never touches a file); the writer
// thread ("qf-risk-writer") wakes, takes the newest snapshot and writes it with save_risk_state
// (file write and rename) within microseconds, so the file follows the hand-off order. A snapshot offered
// while the previous one is being written replaces it: only the newest state matters. The hot
// thread calls offer(); start/stop and the final save at shutdown belong to the main thread.

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "qf/core/paper.hpp"
#include "qf/ipc/cache.hpp"
#include "qf/ipc/eventcount.hpp"
#include "qf/ipc/seqlock.hpp"

namespace qf::engine {

class RiskWriter {
public:
  explicit RiskWriter(std::string path);
  ~RiskWriter();
  RiskWriter(const RiskWriter&) = delete;
  RiskWriter& operator=(const RiskWriter&) = delete;

  // Hot thread: publish the newest snapshot.
  void offer(const core::RiskSnapshot& s) noexcept {
    Bytes b;
    std::memcpy(b.bytes, &s, sizeof(s));
    slot_.store(b);
    offered_.store(offered_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    wake_.notify();
  }
  // Main thread: stops the writer thread (after its current write), without a last write.
  void stop();
  [[nodiscard]] std::uint64_t writes() const noexcept { return writes_.load(std::memory_order_relaxed); }

  static constexpr std::uint64_t kStopCheckNs = 100'000'000; // the longest park: stop() is seen by then

private:
  void run();

  std::string path_;
  // The snapshot as bytes: a trivial type, so the seqlock's memcpy into it is plain.
  struct Bytes {
    alignas(core::RiskSnapshot) unsigned char bytes[sizeof(core::RiskSnapshot)];
  };
  ipc::Seqlock<Bytes> slot_;
  alignas(ipc::kCacheLinePair) std::atomic<std::uint64_t> offered_{0}; // written by the hot thread only
  alignas(ipc::kCacheLinePair) std::atomic<bool> stop_{false};
  ipc::EventCount wake_;
  std::atomic<std::uint64_t> writes_{0};
  std::thread thread_;
};

} // namespace qf::engine
