// libFuzzer target: StateReader over a random segment image. The input becomes the file
// /dev/shm/qf.fuzz<pid>.state: its bytes are tiled over an image (the exact state layout
// size, or a size the input picks), then the first byte's flags decide which header fields are
// made plausible (magic, layout version, total_bytes, header_bytes, a live owner, the
// canonical section table), so the fuzzer reaches the section reads as well as the checks.
// Bit 5 truncates the file after a first read (verify() must catch it, never SIGBUS).
// Whatever the image, read() must neither crash nor read outside the mapping.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"
#include "qf/ipc/state_reader.hpp"

namespace ipc = qf::ipc;

namespace {

std::size_t layout_bytes(ipc::SectionEntry* table) {
  std::size_t off = sizeof(ipc::SegmentHeader);
  std::size_t i = 0;
  for (const std::size_t bytes : ipc::state_section_bytes()) {
    off = (off + ipc::kSectionAlign - 1) / ipc::kSectionAlign * ipc::kSectionAlign;
    if (table != nullptr) {
      table[i] = ipc::SectionEntry{static_cast<std::uint32_t>(off), static_cast<std::uint32_t>(bytes)};
    }
    off += bytes;
    ++i;
  }
  return off;
}

bool write_file(const std::string& path, const std::vector<unsigned char>& image) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return false;
  }
  std::size_t done = 0;
  while (done < image.size()) {
    const ssize_t n = ::write(fd, image.data() + done, image.size() - done);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string instance = "fuzz" + std::to_string(::getpid());
  static const std::string path = "/dev/shm/qf." + instance + ".state";
  if (size < 5) {
    return 0;
  }
  const unsigned flags = data[0];
  std::uint32_t picked = 0;
  std::memcpy(&picked, data + 1, sizeof picked);
  data += 5;
  size -= 5;
  const std::size_t exact = layout_bytes(nullptr);
  const std::size_t bytes = (flags & 0x80U) != 0 ? picked % (exact + 4096) : exact;
  std::vector<unsigned char> image(bytes);
  if (size > 0) {
    for (std::size_t off = 0; off < bytes; off += size) {
      std::memcpy(image.data() + off, data, std::min(size, bytes - off));
    }
  }
  if (bytes >= sizeof(ipc::SegmentHeader)) {
    auto* h = reinterpret_cast<ipc::SegmentHeader*>(image.data());
    if ((flags & 0x01U) != 0) {
      h->magic.store(ipc::kSegmentMagic, std::memory_order_relaxed);
      h->layout_version = ipc::kStateLayoutVersion;
    }
    if ((flags & 0x02U) != 0) {
      h->total_bytes = bytes;
      h->header_bytes = sizeof(ipc::SegmentHeader);
    }
    if ((flags & 0x04U) != 0) {
      h->owner_pid = ::getpid();
      h->state.store(ipc::SegmentState::running, std::memory_order_relaxed);
    }
    if ((flags & 0x08U) != 0) {
      h->section_count = static_cast<std::uint32_t>(ipc::kMaxSections);
      (void)layout_bytes(h->sections);
      if ((flags & 0x10U) != 0) { // one section shrunk or moved by the input
        const std::size_t i = picked % ipc::kMaxSections;
        h->sections[i].size = (picked >> 8U) % (h->sections[i].size + 1U);
      }
    }
  }
  if (!write_file(path, image)) {
    return 0;
  }
  {
    ipc::StateReader reader(instance);
    ipc::StateSnapshot s;
    reader.read(s);
    if ((flags & 0x20U) != 0 && ::truncate(path.c_str(), static_cast<off_t>(bytes / 2)) == 0) {
      reader.read(s); // verify() sees the shorter file: damaged, no SIGBUS
    }
    reader.read(s);
  }
  ::unlink(path.c_str());
  return 0;
}
