#pragma once
// Cache geometry and spin-wait hint shared by the ipc primitives.

#include <cstddef>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qf::ipc {

// Anything written by one core and read by another gets its own 128-byte block: the
// adjacent-line prefetcher pulls cache lines in pairs, so 64 bytes still false-shares.
inline constexpr std::size_t kCacheLinePair = 128;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

} // namespace qf::ipc
