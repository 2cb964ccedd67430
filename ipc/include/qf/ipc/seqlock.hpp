#pragma once
// Seqlock<T>: one writer, any number of readers in any process, no reader ever blocks the
// writer. The payload is stored as 64-bit atomic words framed by a sequence counter (odd
// while a write is in progress), so there is no data race in the C++ memory model. Ordering
// without standalone fences (which TSan cannot check): payload words are release-stored after
// the odd sequence and acquire-loaded before the sequence is re-read, so a reader that sees
// any word of a newer write must also see its odd sequence and retries. On x86 release
// stores and acquire loads are plain moves; on ARM they are stlr/ldar, correct as well.
// Readers retry a bounded number of times and then report Busy, so a writer that died
// mid-update (sequence stuck odd) can never hang a reader. Readers only load, so a record
// works through a read-only mapping.
// Integrity: each write also stores a checksum of the payload words (checksum_words) inside the
// same odd window; a reader recomputes it over its consistent copy and reports `corrupt` (never
// the data) when they differ: bytes changed behind the writer's back (a stray write into the
// segment, a damaged file). A never-written record (all zero) checks, as zero words sum to zero.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qf/ipc/cache.hpp"

namespace qf::ipc {

enum class ReadStatus : std::uint8_t {
  ok,      // `out` holds a consistent copy
  busy,    // the writer kept the record busy for every retry (or died mid-update)
  corrupt, // a consistent copy whose checksum does not match its payload: `out` is untouched
};

// The records' checksum: sum of word i times the odd constant K_i (mod 2^64). A change of any
// bits within one word always changes the sum (an odd multiplier is a bijection mod 2^64); a
// change of several words escapes it with odds of about 2^-64 unless crafted. Hand-written
// rather than CRC32C: the build targets baseline x86-64 (no SSE4.2 without a runtime dispatch
// that cannot inline), and independent multiply-adds pipeline at about a word a cycle where a
// CRC chain waits 3 cycles a word. Not a defence against a writer that forges records.
[[nodiscard]] constexpr std::uint64_t checksum_words(const std::uint64_t* words, std::size_t n) noexcept {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sum += words[i] * (0x9E3779B97F4A7C15ULL + 2 * 0xD6E8FEB86659FD93ULL * i); // odd for every i
  }
  return sum;
}

// The same checksum over a trivially copyable object (write-once tables; zero padding to a word).
template <typename T> [[nodiscard]] std::uint64_t checksum_of(const T& value) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  std::array<std::uint64_t, (sizeof(T) + 7) / 8> words{};
  std::memcpy(words.data(), &value, sizeof(T));
  return checksum_words(words.data(), words.size());
}

template <typename T>
class alignas(kCacheLinePair) Seqlock {
  static_assert(std::is_trivially_copyable_v<T>, "Seqlock carries trivially copyable values only");
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

public:
  static constexpr int kDefaultRetries = 64;

  Seqlock() noexcept = default;
  Seqlock(const Seqlock&) = delete;
  Seqlock& operator=(const Seqlock&) = delete;

  // Writer only.
  void store(const T& value) noexcept {
    Words buf{};
    std::memcpy(buf.data(), &value, sizeof(T));
    const std::uint64_t check = checksum_words(buf.data(), kWords);
    begin_write();
    write_words(buf, check);
    end_write();
  }

  // Writer only: read the current value, let `mutate(T&)` change it, publish the result.
  // The record is marked busy while `mutate` runs.
  template <typename Mutate>
  void update(Mutate&& mutate) noexcept(noexcept(mutate(std::declval<T&>()))) {
    Words buf = load_words();
    T value;
    std::memcpy(&value, buf.data(), sizeof(T));
    begin_write();
    mutate(value);
    std::memcpy(buf.data(), &value, sizeof(T));
    write_words(buf, checksum_words(buf.data(), kWords));
    end_write();
  }

  // Any reader, any process. Never blocks; gives up after `max_retries` attempts.
  [[nodiscard]] ReadStatus try_load(T& out, int max_retries = kDefaultRetries) const noexcept {
    for (int attempt = 0; attempt < max_retries; ++attempt) {
      const std::uint64_t before = seq_.load(std::memory_order_acquire);
      if ((before & 1U) != 0) {
        cpu_relax();
        continue;
      }
      const std::uint64_t check = check_.load(std::memory_order_acquire);
      const Words buf = load_words(std::memory_order_acquire);
      const std::uint64_t after = seq_.load(std::memory_order_relaxed);
      if (before == after) {
        if (checksum_words(buf.data(), kWords) != check) {
          return ReadStatus::corrupt;
        }
        std::memcpy(&out, buf.data(), sizeof(T));
        return ReadStatus::ok;
      }
      cpu_relax();
    }
    return ReadStatus::busy;
  }

  // Number of completed writes (the sequence counter halved); a hint for change detection.
  [[nodiscard]] std::uint64_t version() const noexcept {
    return seq_.load(std::memory_order_acquire) >> 1;
  }

private:
  static constexpr std::size_t kWords = (sizeof(T) + 7) / 8;
  using Words = std::array<std::uint64_t, kWords>;

  void begin_write() noexcept {
    const std::uint64_t seq = seq_.load(std::memory_order_relaxed);
    seq_.store(seq + 1, std::memory_order_relaxed);
  }
  void end_write() noexcept {
    seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  void write_words(const Words& buf, std::uint64_t check) noexcept {
    check_.store(check, std::memory_order_release);
    for (std::size_t i = 0; i < kWords; ++i) {
      // release: the odd sequence stored before is visible to whoever sees this word.
      words_[i].store(buf[i], std::memory_order_release);
    }
  }
  // acquire for readers: the sequence re-read after the words cannot move before them.
  [[nodiscard]] Words load_words(std::memory_order order = std::memory_order_relaxed) const noexcept {
    Words buf;
    for (std::size_t i = 0; i < kWords; ++i) {
      buf[i] = words_[i].load(order);
    }
    return buf;
  }

  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> check_{0}; // checksum_words of the payload (v12 of the state layout)
  std::atomic<std::uint64_t> words_[kWords]{};
};

} // namespace qf::ipc
