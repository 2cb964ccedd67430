#pragma once
// The counters of the counting global operator new (alloc_count.cpp, target qf_alloc_count):
// every operator new and new[] of a binary that links it (plain, aligned, nothrow) is counted
// once for the calling thread and once for the process, then served by malloc (jemalloc in
// qf-engine, whose malloc replaces glibc's). qf-engine reports the core loop's allocations from
// the thread count; the zero-allocation tests compare process counts around a hot path. In a
// binary without qf_alloc_count both stay 0.
#include <atomic>
#include <cstdint>

namespace qf::alloc {

namespace detail {
inline constinit thread_local std::uint64_t t_allocations = 0;
} // namespace detail

// Every counted allocation of the process, by any thread. Relaxed adds: a count, not a fence;
// the hot paths under test allocate nothing, so nothing contends for it there.
inline constinit std::atomic<std::uint64_t> g_allocations{0};

// Counted allocations made by the calling thread so far.
[[nodiscard]] inline std::uint64_t thread_allocations() noexcept { return detail::t_allocations; }

} // namespace qf::alloc
