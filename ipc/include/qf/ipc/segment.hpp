#pragma once
// Shared-memory segments (Boost.Interprocess over POSIX shm): `/qf.<instance>.<name>`.
// A segment starts with a versioned two-cache-line SegmentHeader followed by up to
// kMaxSections 128-byte-aligned sections whose contents a layout (e.g. the engine state)
// defines. One process owns a segment (SegmentOwner: creates it, writes the header);
// others attach: SegmentView maps it read-only (PROT_READ: a stray write faults) and its
// API hands out const memory only; SegmentPeer maps it read-write for the few layouts where
// a reader must write (the producer side of the control queue).
// Life cycle: the owner reclaims a stale segment left by a dead owner, bumps the generation,
// publishes `magic` last, heartbeats while running and marks the segment stopped at exit.
// Readers wait politely ("awaiting") until a valid segment exists, refuse a layout version
// they do not understand, and notice a restarted owner by its incarnation (generation,
// start time, pid). Construct and poll from one thread; the mapped memory is for any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "qf/ipc/tsc_clock.hpp"

namespace qf::ipc {

inline constexpr std::uint64_t kSegmentMagic = 0x31304d4745534651ULL; // "QFSEGM01" little-endian
inline constexpr std::size_t kMaxSections = 6;
inline constexpr std::size_t kSectionAlign = 128;

enum class SegmentState : std::uint32_t {
  creating = 0, // owner is building the sections: readers keep waiting
  running = 1,
  stopped = 2, // owner exited cleanly
};

struct SectionEntry {
  std::uint32_t offset; // from the start of the segment
  std::uint32_t size;
};

struct alignas(64) SegmentHeader {
  // Cache line 0: identity, written once before `magic` is published.
  std::atomic<std::uint64_t> magic;
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint64_t total_bytes;
  std::uint64_t generation; // previous owner's + 1: readers detect restarts with it
  std::uint64_t start_unix_ns;
  std::int32_t owner_pid;
  std::uint32_t section_count;
  double tsc_ticks_per_ns; // the owner's clock, so readers convert its ticks
  ClockSource clock_source;
  std::uint32_t mode; // layout-defined (the state layout: LIVE / SIM / REPLAY)

  // Cache line 1: the owner's liveness; sections table (static after creation).
  std::atomic<SegmentState> state;
  std::uint32_t reserved;
  std::atomic<std::uint64_t> heartbeat_ns; // CLOCK_MONOTONIC, system-wide
  SectionEntry sections[kMaxSections];
};
static_assert(sizeof(SegmentHeader) == 128, "the header is exactly two cache lines");
static_assert(std::atomic<SegmentState>::is_always_lock_free);
static_assert(std::is_standard_layout_v<SegmentHeader>);

class SegmentError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// "/qf.<instance>.<name>"; throws SegmentError unless both parts are [A-Za-z0-9_-]{1,64}.
[[nodiscard]] std::string segment_path(std::string_view instance, std::string_view name);

struct SegmentOptions {
  std::string instance = "default";
  std::string name;
  std::uint32_t layout_version = 1;
  std::vector<std::size_t> section_bytes; // at most kMaxSections
  std::uint32_t mode = 0;
  ClockCalibration clock{};
  bool prefault = true;    // touch every page now, not on the hot path
  bool huge_pages = false; // madvise(MADV_HUGEPAGE); a refusal is reported, not fatal
};

// Creates and owns a segment. Throws SegmentError at construction (start-up only).
class SegmentOwner {
public:
  explicit SegmentOwner(const SegmentOptions& options);
  ~SegmentOwner(); // marks the segment stopped; the name stays so readers can see that
  SegmentOwner(const SegmentOwner&) = delete;
  SegmentOwner& operator=(const SegmentOwner&) = delete;

  [[nodiscard]] SegmentHeader& header() noexcept { return *header_; }
  [[nodiscard]] std::byte* section(std::size_t index) noexcept;
  [[nodiscard]] std::size_t section_size(std::size_t index) const noexcept;
  template <typename T>
  [[nodiscard]] T* section_as(std::size_t index) noexcept {
    return reinterpret_cast<T*>(section(index));
  }

  void set_state(SegmentState state) noexcept;
  void heartbeat() noexcept { header_->heartbeat_ns.store(monotonic_ns(), std::memory_order_release); }
  // Removes the name (tests, tools); mapped memory stays valid until this object dies.
  void unlink() noexcept;

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::uint64_t generation() const noexcept { return header_->generation; }
  // The mapping [base, base + mapped_bytes) (a SIGBUS handler tells a fault in it from others).
  [[nodiscard]] const void* base() const noexcept { return header_; }
  [[nodiscard]] std::uint64_t mapped_bytes() const noexcept { return mapped_bytes_; }
  // The file's size now (fstat; -1 when fstat fails): differs from mapped_bytes() once someone
  // truncated or extended the file. One system call: for a timer, not a message path.
  [[nodiscard]] std::int64_t file_bytes() const noexcept;
  // Non-empty when an optional request (huge pages) was refused.
  [[nodiscard]] const std::string& warning() const noexcept { return warning_; }

private:
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  SegmentHeader* header_ = nullptr;
  std::uint64_t mapped_bytes_ = 0;
  std::string path_;
  std::string warning_;
};

enum class AttachStatus : std::uint8_t {
  attached,
  awaiting,         // no segment yet, or its owner is still creating it
  version_mismatch, // a segment with a layout this build does not understand
  damaged,          // its header or size is inconsistent (message says why); kept retrying
};

enum class OwnerStatus : std::uint8_t {
  running,
  stalled, // alive (pid exists) but the heartbeat is older than the threshold
  stopped, // marked stopped, or its pid is gone
};

// The identity of one owner run; a change means the owner restarted.
struct Incarnation {
  std::uint64_t generation = 0;
  std::uint64_t start_unix_ns = 0;
  std::int32_t owner_pid = 0;
  friend bool operator==(const Incarnation&, const Incarnation&) = default;
};

enum class Access : std::uint8_t { read_only, read_write };

namespace detail {
struct AttachedMapping;
}

template <Access A>
class SegmentAttachment {
  using Byte = std::conditional_t<A == Access::read_only, const std::byte, std::byte>;

public:
  SegmentAttachment(std::string instance, std::string name, std::uint32_t expected_layout_version);
  ~SegmentAttachment();
  SegmentAttachment(const SegmentAttachment&) = delete;
  SegmentAttachment& operator=(const SegmentAttachment&) = delete;

  // Maps the segment if it is there and valid; never throws. When already attached, re-checks
  // the name and remaps if a new owner incarnation is there.
  AttachStatus try_attach() noexcept;
  [[nodiscard]] bool attached() const noexcept { return header_ != nullptr; }
  // Whether the name now holds a different owner incarnation than the one mapped.
  [[nodiscard]] bool owner_restarted() const noexcept;
  void detach() noexcept;
  // While attached: fstat the file against the mapped size, then check the header's section
  // table against it (every offset + size inside the mapping). On failure detaches, sets
  // message() ("segment damaged: ...") and returns false; a reader calls it before each read.
  [[nodiscard]] bool verify() noexcept;

  // Only while attached.
  [[nodiscard]] const SegmentHeader& header() const noexcept { return *header_; }
  [[nodiscard]] Byte* section(std::size_t index) const noexcept;
  [[nodiscard]] std::size_t section_size(std::size_t index) const noexcept;
  template <typename T>
  [[nodiscard]] auto* section_as(std::size_t index) const noexcept {
    using Out = std::conditional_t<A == Access::read_only, const T, T>;
    return section_size(index) >= sizeof(T) ? reinterpret_cast<Out*>(section(index)) : nullptr;
  }
  [[nodiscard]] Incarnation incarnation() const noexcept;
  [[nodiscard]] OwnerStatus owner_status(std::uint64_t stall_after_ns) const noexcept;
  [[nodiscard]] std::uint64_t heartbeat_age_ns() const noexcept;

  // Why the last try_attach did not attach (for "awaiting engine: ..." style messages).
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
  std::uint32_t expected_version_;
  std::unique_ptr<detail::AttachedMapping> mapping_;
  const SegmentHeader* header_ = nullptr;
  std::string message_;
};

// Read-only view: everything it hands out is const, and the mapping is PROT_READ.
using SegmentView = SegmentAttachment<Access::read_only>;
// Read-write attachment, for the writer side of a queue that another process owns.
using SegmentPeer = SegmentAttachment<Access::read_write>;

extern template class SegmentAttachment<Access::read_only>;
extern template class SegmentAttachment<Access::read_write>;

} // namespace qf::ipc
