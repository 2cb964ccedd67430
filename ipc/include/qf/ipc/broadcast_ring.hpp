#pragma once
// BroadcastRing<T, N>: one writer, any number of readers in any process, as Aeron's broadcast
// buffer: the writer never waits for anyone (stores only: no syscall, no allocation, no reader
// state), and a reader that falls behind by more than N entries is lapped: it detects it, counts
// exactly how many entries it lost and resumes at the head. Each slot is a small seqlock whose
// sequence names the position it holds (2p+1 while entry p is written, 2p+2 once complete), so a
// reader sees entry p whole or sees that it was overwritten: no torn reads, and a later lap is
// told apart from a retry. Payload words are release-stored and acquire-loaded as in Seqlock (no
// standalone fences, TSan checks what ships). Readers only load: works through a read-only mapping.
// (Aeron is Java / C without a shared-memory C++ broadcast buffer in Debian; this is its protocol
// on fixed-size slots.)

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qf/ipc/cache.hpp"

namespace qf::ipc {

template <typename T, std::size_t N>
class BroadcastRing {
  static_assert(std::is_trivially_copyable_v<T>, "BroadcastRing carries trivially copyable values only");
  static_assert(N >= 2 && (N & (N - 1)) == 0, "N is a power of two");
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

public:
  static constexpr std::size_t kCapacity = N;

  BroadcastRing() noexcept = default;
  BroadcastRing(const BroadcastRing&) = delete;
  BroadcastRing& operator=(const BroadcastRing&) = delete;

  // Writer only. Overwrites the oldest entry once N are held; never waits.
  void append(const T& value) noexcept {
    Words buf{};
    std::memcpy(buf.data(), &value, sizeof(T));
    const std::uint64_t p = head_.load(std::memory_order_relaxed);
    Slot& s = slots_[p & (N - 1)];
    s.seq.store(2 * p + 1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < kWords; ++i) {
      // release: whoever sees this word also sees the odd sequence stored before it.
      s.words[i].store(buf[i], std::memory_order_release);
    }
    s.seq.store(2 * p + 2, std::memory_order_release);
    head_.store(p + 1, std::memory_order_release);
  }

  // Entries ever appended; entry p lives in slot p % N until p + N is appended.
  [[nodiscard]] std::uint64_t head() const noexcept { return head_.load(std::memory_order_acquire); }

  // Reader: copies entry `p` into `out`. `ok`: done; `pending`: p is not written yet;
  // `lapped`: p was overwritten (before or during the copy).
  enum class Read : std::uint8_t { ok, pending, lapped };
  [[nodiscard]] Read try_read(std::uint64_t p, T& out) const noexcept {
    const Slot& s = slots_[p & (N - 1)];
    const std::uint64_t before = s.seq.load(std::memory_order_acquire);
    if (before < 2 * p + 2) {
      return Read::pending; // an older lap (or entry p being written): not readable yet
    }
    if (before != 2 * p + 2) {
      return Read::lapped;
    }
    Words buf;
    for (std::size_t i = 0; i < kWords; ++i) {
      buf[i] = s.words[i].load(std::memory_order_acquire);
    }
    if (s.seq.load(std::memory_order_relaxed) != before) {
      return Read::lapped;
    }
    std::memcpy(&out, buf.data(), sizeof(T));
    return Read::ok;
  }

private:
  static constexpr std::size_t kWords = (sizeof(T) + 7) / 8;
  using Words = std::array<std::uint64_t, kWords>;
  struct Slot {
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint64_t> words[kWords]{};
  };

  alignas(kCacheLinePair) std::atomic<std::uint64_t> head_{0};
  alignas(kCacheLinePair) std::array<Slot, N> slots_{};
};

// One reader's cursor over a BroadcastRing (in the reader's own memory). `poll` hands out the
// entries in order; after a lap it counts the entries it never delivered in `lost()` and resumes
// at the head, so delivered + lost == the head it has reached, exactly.
template <typename Ring>
class BroadcastCursor {
public:
  // Starts at the ring's current head (only what is appended from now on), or at `from`.
  explicit BroadcastCursor(const Ring& ring) noexcept : ring_(&ring), next_(ring.head()) {}
  BroadcastCursor(const Ring& ring, std::uint64_t from) noexcept : ring_(&ring), next_(from) {}

  // Copies the next entry into `out`; false when there is none yet.
  template <typename T>
  [[nodiscard]] bool poll(T& out) noexcept {
    for (;;) {
      switch (ring_->try_read(next_, out)) {
      case Ring::Read::ok:
        ++next_;
        ++delivered_;
        return true;
      case Ring::Read::pending:
        return false;
      case Ring::Read::lapped: {
        const std::uint64_t head = ring_->head();
        lost_ += head - next_;
        ++laps_;
        next_ = head;
        break; // and try again at the head (pending until the writer appends)
      }
      }
    }
  }

  [[nodiscard]] std::uint64_t next() const noexcept { return next_; }
  [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_; }
  [[nodiscard]] std::uint64_t lost() const noexcept { return lost_; }
  [[nodiscard]] std::uint64_t laps() const noexcept { return laps_; }

private:
  const Ring* ring_;
  std::uint64_t next_;
  std::uint64_t delivered_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t laps_ = 0;
};

} // namespace qf::ipc
