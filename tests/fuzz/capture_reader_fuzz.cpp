// libFuzzer target: any bytes as a capture file (plain, or gzip when they start with 1f 8b)
// through CaptureReader. CaptureError is the expected outcome of a bad line; anything else
// escaping, a crash or a sanitizer report is a bug. The bytes go through a file in /dev/shm
// (the reader takes a path).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "qf/feeds/capture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/dev/shm/qf_capture_fuzz." + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return 0;
  }
  if (size > 0 && std::fwrite(data, 1, size, f) != size) {
    std::fclose(f);
    return 0;
  }
  std::fclose(f);
  try {
    qf::feeds::CaptureReader reader(path, 1 << 16);
    qf::feeds::CaptureRecord r;
    std::size_t bytes = 0;
    while (reader.next(r)) {
      bytes += r.text.size() + r.url.size();
    }
    (void)bytes;
  } catch (const qf::feeds::CaptureError&) {
    // a malformed capture, reported with path and line: the expected failure
  }
  return 0;
}
