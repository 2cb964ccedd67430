#include "risk_store.hpp"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace qf::engine {

namespace {
constexpr std::uint64_t kMagic = 0x31534B5349524651ULL; // "QFRISKS1"
constexpr std::uint32_t kVersion = 1;
struct FileImage {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t bytes; // sizeof(RiskSnapshot)
  core::RiskSnapshot snapshot;
};
static_assert(std::is_trivially_copyable_v<FileImage>);
} // namespace

void save_risk_state(const std::string& path, const core::RiskSnapshot& s) {
  FileImage img{};
  img.magic = kMagic;
  img.version = kVersion;
  img.bytes = sizeof(core::RiskSnapshot);
  img.snapshot = s;
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    throw std::runtime_error(tmp + ": cannot write the risk state");
  }
  const bool ok = std::fwrite(&img, sizeof img, 1, f) == 1;
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error(path + ": cannot write the risk state");
  }
}

std::optional<core::RiskSnapshot> load_risk_state(const std::string& path, std::uint32_t instruments) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return std::nullopt;
  }
  FileImage img{};
  const bool ok = std::fread(&img, sizeof img, 1, f) == 1;
  std::fclose(f);
  if (!ok || img.magic != kMagic || img.version != kVersion || img.bytes != sizeof(core::RiskSnapshot)) {
    throw std::runtime_error(path + ": not a risk state of this version (remove it to start flat)");
  }
  if (img.snapshot.count != instruments) {
    throw std::runtime_error(path + ": written for " + std::to_string(img.snapshot.count) +
                             " instruments, the config has " + std::to_string(instruments));
  }
  return img.snapshot;
}

} // namespace qf::engine
