// qf-engine's global operator new: jemalloc's malloc plus a per-thread count, so replay can
// report the allocations made inside the core loop (expected: 0 after warm-up).
#include <cstdint>
#include <cstdlib>
#include <new>

namespace qf::engine::detail {
extern thread_local std::uint64_t t_allocations;
}

void* operator new(std::size_t n) {
  ++qf::engine::detail::t_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++qf::engine::detail::t_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return operator new(n, std::nothrow); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
