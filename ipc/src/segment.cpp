#include "qf/ipc/segment.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>
#include <optional>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bip = boost::interprocess;

namespace qf::ipc {
namespace {

bool valid_part(std::string_view part) {
  if (part.empty() || part.size() > 64) {
    return false;
  }
  return std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool pid_alive(std::int32_t pid) {
  if (pid <= 0) {
    return false;
  }
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::size_t align_up(std::size_t value, std::size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// What a read-only peek at a named segment's header found.
struct Peek {
  bool exists = false;
  bool valid = false; // magic published and size sane
  std::uint32_t layout_version = 0;
  SegmentState state = SegmentState::creating;
  Incarnation incarnation;
  std::uint64_t total_bytes = 0;
  std::uint64_t file_bytes = 0;
  bool foreign = false; // owned by a user that is neither this one nor root
  std::uint32_t file_uid = 0;
};

// Readers trust a segment created by their own user or by root, nobody else's.
bool trusted_owner(std::uint32_t uid) noexcept { return uid == 0 || uid == ::geteuid(); }

// Why a mapping of `mapped` bytes whose header is `h` cannot be read safely, or empty. Every
// offset and size is checked in 64-bit arithmetic (the table holds 32-bit values: no overflow).
std::string layout_error(const SegmentHeader& h, std::uint64_t mapped) {
  if (h.total_bytes != mapped) {
    return "header says " + std::to_string(h.total_bytes) + " bytes, " + std::to_string(mapped) + " are mapped";
  }
  if (h.header_bytes != sizeof(SegmentHeader) || h.section_count > kMaxSections) {
    return "header size " + std::to_string(h.header_bytes) + " or section count " + std::to_string(h.section_count) +
           " out of range";
  }
  for (std::uint32_t i = 0; i < h.section_count; ++i) {
    const std::uint64_t off = h.sections[i].offset;
    const std::uint64_t end = off + h.sections[i].size;
    if (off < sizeof(SegmentHeader) || off % kSectionAlign != 0 || end > mapped) {
      return "section " + std::to_string(i) + " [" + std::to_string(off) + ", " + std::to_string(end) +
             ") lies outside the " + std::to_string(mapped) + "-byte mapping";
    }
  }
  return {};
}

// fstat of an open segment: its size and owner.
bool file_stat(const bip::shared_memory_object& shm, std::uint64_t& bytes, std::uint32_t& uid) noexcept {
  struct stat st {};
  if (::fstat(shm.get_mapping_handle().handle, &st) != 0) {
    return false;
  }
  bytes = static_cast<std::uint64_t>(st.st_size);
  uid = static_cast<std::uint32_t>(st.st_uid);
  return true;
}

Peek peek(const std::string& path) noexcept {
  Peek p;
  try {
    bip::shared_memory_object shm(bip::open_only, path.c_str(), bip::read_only);
    p.exists = true;
    std::uint64_t size = 0;
    if (!file_stat(shm, size, p.file_uid)) {
      return p;
    }
    p.file_bytes = size;
    p.foreign = !trusted_owner(p.file_uid);
    if (p.foreign || size < sizeof(SegmentHeader)) {
      return p;
    }
    bip::mapped_region region(shm, bip::read_only, 0, sizeof(SegmentHeader));
    const auto* h = static_cast<const SegmentHeader*>(region.get_address());
    if (h->magic.load(std::memory_order_acquire) != kSegmentMagic) {
      return p;
    }
    p.valid = true;
    p.layout_version = h->layout_version;
    p.state = h->state.load(std::memory_order_acquire);
    p.incarnation = Incarnation{h->generation, h->start_unix_ns, h->owner_pid};
    p.total_bytes = h->total_bytes;
  } catch (const bip::interprocess_exception&) {
  }
  return p;
}

} // namespace

std::string segment_path(std::string_view instance, std::string_view name) {
  if (!valid_part(instance) || !valid_part(name)) {
    throw SegmentError("invalid segment name '" + std::string(instance) + "." + std::string(name) +
                       "': instance and name must be 1-64 characters of [A-Za-z0-9_-]");
  }
  return "/qf." + std::string(instance) + "." + std::string(name);
}

// ---------------------------------------------------------------------------------------------
// Owner

struct SegmentOwner::Mapping {
  bip::shared_memory_object shm;
  bip::mapped_region region;
};

SegmentOwner::SegmentOwner(const SegmentOptions& options) : path_(segment_path(options.instance, options.name)) {
  if (options.section_bytes.size() > kMaxSections) {
    throw SegmentError(path_ + ": at most " + std::to_string(kMaxSections) + " sections");
  }

  // Reclaim a segment left by a dead owner; refuse to steal one from a live owner.
  std::uint64_t previous_generation = 0;
  if (const Peek old = peek(path_); old.exists) {
    if (old.valid) {
      const bool live = old.state != SegmentState::stopped && old.incarnation.owner_pid != ::getpid() &&
                        pid_alive(old.incarnation.owner_pid);
      if (live) {
        throw SegmentError(path_ + " is owned by a running process (pid " +
                           std::to_string(old.incarnation.owner_pid) +
                           "); stop it or choose another instance name");
      }
      previous_generation = old.incarnation.generation;
    }
    bip::shared_memory_object::remove(path_.c_str());
  }

  std::size_t offset = align_up(sizeof(SegmentHeader), kSectionAlign);
  SectionEntry entries[kMaxSections]{};
  for (std::size_t i = 0; i < options.section_bytes.size(); ++i) {
    entries[i].offset = static_cast<std::uint32_t>(offset);
    entries[i].size = static_cast<std::uint32_t>(options.section_bytes[i]);
    offset = align_up(offset + options.section_bytes[i], kSectionAlign);
  }
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t total = align_up(offset, page);
  if (total > 0xFFFF'FFFFULL) {
    throw SegmentError(path_ + ": sections exceed the 4 GiB a segment may hold");
  }

  try {
    mapping_ = std::make_unique<Mapping>();
    // Exclusive (O_EXCL) and 0600: only this user (and root) may read or replace the state.
    mapping_->shm = bip::shared_memory_object(bip::create_only, path_.c_str(), bip::read_write, bip::permissions(0600));
    mapping_->shm.truncate(static_cast<bip::offset_t>(total));
    mapping_->region = bip::mapped_region(mapping_->shm, bip::read_write, 0, total);
  } catch (const bip::interprocess_exception& e) {
    throw SegmentError(path_ + ": cannot create shared memory: " + e.what());
  }

  auto* base = static_cast<std::byte*>(mapping_->region.get_address());
  if (options.huge_pages) {
    if (::madvise(base, total, MADV_HUGEPAGE) != 0) {
      warning_ = path_ + ": huge pages refused (" + std::strerror(errno) + "); using normal pages";
    }
  }
  if (options.prefault) {
    // Page faults now rather than on the hot path; the memory is already zero.
    for (std::size_t i = 0; i < total; i += page) {
      base[i] = std::byte{0};
    }
  }

  mapped_bytes_ = total;
  header_ = new (base) SegmentHeader{};
  header_->layout_version = options.layout_version;
  header_->header_bytes = sizeof(SegmentHeader);
  header_->total_bytes = total;
  header_->generation = previous_generation + 1;
  header_->start_unix_ns = realtime_ns();
  header_->owner_pid = ::getpid();
  header_->section_count = static_cast<std::uint32_t>(options.section_bytes.size());
  header_->tsc_ticks_per_ns = options.clock.ticks_per_ns;
  header_->clock_source = options.clock.source;
  header_->mode = options.mode;
  std::copy(std::begin(entries), std::end(entries), std::begin(header_->sections));
  header_->state.store(SegmentState::creating, std::memory_order_relaxed);
  header_->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  // Published last: a reader that sees the magic sees every field above.
  header_->magic.store(kSegmentMagic, std::memory_order_release);
}

SegmentOwner::~SegmentOwner() {
  if (header_ != nullptr) {
    set_state(SegmentState::stopped);
  }
}

std::byte* SegmentOwner::section(std::size_t index) noexcept {
  if (index >= header_->section_count) {
    return nullptr;
  }
  return reinterpret_cast<std::byte*>(header_) + header_->sections[index].offset;
}

std::size_t SegmentOwner::section_size(std::size_t index) const noexcept {
  return index < header_->section_count ? header_->sections[index].size : 0;
}

void SegmentOwner::set_state(SegmentState state) noexcept {
  header_->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  header_->state.store(state, std::memory_order_release);
}

std::int64_t SegmentOwner::file_bytes() const noexcept {
  struct stat st {};
  if (::fstat(mapping_->shm.get_mapping_handle().handle, &st) != 0) {
    return -1;
  }
  return static_cast<std::int64_t>(st.st_size);
}

void SegmentOwner::unlink() noexcept { bip::shared_memory_object::remove(path_.c_str()); }

// ---------------------------------------------------------------------------------------------
// Attachments

namespace detail {
struct AttachedMapping {
  bip::shared_memory_object shm;
  bip::mapped_region region;
  std::uint64_t bytes = 0; // mapped size
};
} // namespace detail

template <Access A>
SegmentAttachment<A>::SegmentAttachment(std::string instance, std::string name, std::uint32_t expected_layout_version)
    : path_(segment_path(instance, name)), expected_version_(expected_layout_version),
      message_("not attached yet") {}

template <Access A>
SegmentAttachment<A>::~SegmentAttachment() = default;

template <Access A>
void SegmentAttachment<A>::detach() noexcept {
  header_ = nullptr;
  mapping_.reset();
}

template <Access A>
AttachStatus SegmentAttachment<A>::try_attach() noexcept {
  const Peek p = peek(path_);
  if (attached() && p.valid && p.incarnation == incarnation()) {
    return AttachStatus::attached;
  }
  detach();
  if (!p.exists) {
    message_ = "awaiting " + path_ + ": no such segment yet";
    return AttachStatus::awaiting;
  }
  if (p.foreign) {
    message_ = "segment damaged: " + path_ + " belongs to uid " + std::to_string(p.file_uid) +
               ", neither this user nor root: refused";
    return AttachStatus::damaged;
  }
  if (!p.valid) {
    message_ = "awaiting " + path_ + ": its owner has not finished creating it";
    return AttachStatus::awaiting;
  }
  if (p.layout_version != expected_version_) {
    message_ = path_ + " has layout version " + std::to_string(p.layout_version) + " but this program reads version " +
               std::to_string(expected_version_) + ": rebuild both from the same source tree";
    return AttachStatus::version_mismatch;
  }
  if (p.state == SegmentState::creating) {
    message_ = "awaiting " + path_ + ": its owner is still starting";
    return AttachStatus::awaiting;
  }
  if (p.total_bytes != p.file_bytes) {
    // The owner sizes the file before it publishes the magic: a valid header over a file of
    // another size means the file was truncated or grown since.
    message_ = "segment damaged: " + path_ + " is " + std::to_string(p.file_bytes) + " bytes but its header says " +
               std::to_string(p.total_bytes);
    return AttachStatus::damaged;
  }
  try {
    constexpr auto mode = A == Access::read_only ? bip::read_only : bip::read_write;
    auto m = std::make_unique<detail::AttachedMapping>();
    m->shm = bip::shared_memory_object(bip::open_only, path_.c_str(), mode);
    m->region = bip::mapped_region(m->shm, mode, 0, static_cast<std::size_t>(p.total_bytes));
    const auto* h = static_cast<const SegmentHeader*>(m->region.get_address());
    // The name may have been replaced between the peek and this open: check what we mapped.
    if (h->magic.load(std::memory_order_acquire) != kSegmentMagic || h->layout_version != expected_version_ ||
        h->total_bytes != p.total_bytes) {
      message_ = "awaiting " + path_ + ": it changed while attaching";
      return AttachStatus::awaiting;
    }
    m->bytes = p.total_bytes;
    if (const std::string e = layout_error(*h, m->bytes); !e.empty()) {
      message_ = "segment damaged: " + path_ + ": " + e;
      return AttachStatus::damaged;
    }
    mapping_ = std::move(m);
    header_ = h;
  } catch (const bip::interprocess_exception& e) {
    message_ = "awaiting " + path_ + ": " + e.what();
    return AttachStatus::awaiting;
  }
  message_.clear();
  return AttachStatus::attached;
}

template <Access A>
bool SegmentAttachment<A>::verify() noexcept {
  if (!attached()) {
    return false;
  }
  std::string e;
  std::uint64_t bytes = 0;
  std::uint32_t uid = 0;
  // The size first: touching the header of a truncated file would raise SIGBUS.
  if (!file_stat(mapping_->shm, bytes, uid)) {
    e = "fstat failed: " + std::string(std::strerror(errno));
  } else if (!trusted_owner(uid)) {
    e = "now belongs to uid " + std::to_string(uid) + ", neither this user nor root: refused";
  } else if (bytes != mapping_->bytes) {
    e = "the file is now " + std::to_string(bytes) + " bytes, " + std::to_string(mapping_->bytes) + " are mapped";
  } else {
    e = layout_error(*header_, mapping_->bytes);
  }
  if (e.empty()) {
    return true;
  }
  detach();
  message_ = "segment damaged: " + path_ + ": " + e;
  return false;
}

template <Access A>
bool SegmentAttachment<A>::owner_restarted() const noexcept {
  if (!attached()) {
    return false;
  }
  const Peek p = peek(path_);
  return p.valid && p.incarnation != incarnation();
}

template <Access A>
typename SegmentAttachment<A>::Byte* SegmentAttachment<A>::section(std::size_t index) const noexcept {
  if (header_ == nullptr || index >= header_->section_count) {
    return nullptr;
  }
  auto* base = static_cast<Byte*>(mapping_->region.get_address());
  return base + header_->sections[index].offset;
}

template <Access A>
std::size_t SegmentAttachment<A>::section_size(std::size_t index) const noexcept {
  return (header_ != nullptr && index < header_->section_count) ? header_->sections[index].size : 0;
}

template <Access A>
Incarnation SegmentAttachment<A>::incarnation() const noexcept {
  if (header_ == nullptr) {
    return {};
  }
  return Incarnation{header_->generation, header_->start_unix_ns, header_->owner_pid};
}

template <Access A>
std::uint64_t SegmentAttachment<A>::heartbeat_age_ns() const noexcept {
  if (header_ == nullptr) {
    return 0;
  }
  const std::uint64_t beat = header_->heartbeat_ns.load(std::memory_order_acquire);
  const std::uint64_t now = monotonic_ns();
  return now > beat ? now - beat : 0;
}

template <Access A>
OwnerStatus SegmentAttachment<A>::owner_status(std::uint64_t stall_after_ns) const noexcept {
  if (header_ == nullptr) {
    return OwnerStatus::stopped;
  }
  if (header_->state.load(std::memory_order_acquire) == SegmentState::stopped || !pid_alive(header_->owner_pid)) {
    return OwnerStatus::stopped;
  }
  return heartbeat_age_ns() > stall_after_ns ? OwnerStatus::stalled : OwnerStatus::running;
}

template class SegmentAttachment<Access::read_only>;
template class SegmentAttachment<Access::read_write>;

} // namespace qf::ipc
