#pragma once
// guarded_read: runs a copy out of a shared mapping that another process can truncate. A reader
// fstats the file before it reads (SegmentAttachment::verify), but a truncation landing between
// that fstat and the copy makes the next access to a vanished page raise SIGBUS, which would kill
// the reader. Inside guarded_read a SIGBUS on this thread jumps back out (sigsetjmp/siglongjmp)
// and guarded_read returns false: the caller reports the segment damaged and re-attaches later.
// A SIGBUS anywhere else goes to the disposition that was there before (the default: a core).
//
// The jump skips the frames between the fault and guarded_read without running destructors, so
// `read` must only copy out of the mapping into objects that are already allocated (no locks, no
// allocation while a mapping load can fault); StateReader::read allocates only between reads.
// Not for a hot path: it installs nothing per call but is one thread-local store and a setjmp.

#include <csetjmp>
#include <utility>

namespace qf::ipc {

namespace detail {
struct BusGuard {
  sigjmp_buf env;
};
// This thread's innermost guard, or null. Initial-exec TLS: read from the signal handler.
[[nodiscard]] BusGuard*& current_bus_guard() noexcept;
// Installs the SIGBUS handler once per process (chaining to the previous disposition).
void install_bus_handler() noexcept;
} // namespace detail

template <typename Read>
[[nodiscard]] bool guarded_read(Read&& read) noexcept {
  detail::install_bus_handler();
  detail::BusGuard guard;
  detail::BusGuard* const outer = detail::current_bus_guard();
  // savemask 0: the handler runs with SA_NODEFER, so no signal mask needs restoring (no syscall).
  if (sigsetjmp(guard.env, 0) != 0) {
    detail::current_bus_guard() = outer;
    return false;
  }
  detail::current_bus_guard() = &guard;
  std::forward<Read>(read)();
  detail::current_bus_guard() = outer;
  return true;
}

} // namespace qf::ipc
