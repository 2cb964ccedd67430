#include "risk_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace qf::engine {

namespace {
constexpr std::uint64_t kMagic = 0x31534B5349524651ULL; // "QFRISKS1"
constexpr std::uint32_t kVersion = 3;                   // v2: checksum; v3: the limits in force
template <typename Snapshot>
struct FileImage {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t bytes;    // sizeof(Snapshot)
  std::uint64_t checksum; // FNV-1a 64 over `snapshot`'s bytes
  Snapshot snapshot;
};
// Version 2's snapshot (core::RiskSnapshot before the limits), still read: its account and kill
// switch are restored and the limits stay the config's.
struct SnapshotV2 {
  std::uint32_t count = 0;
  std::array<core::Position, ipc::kMaxInstruments> positions{};
  double cash = 0, peak = 0, day_start_equity = 0, fees = 0;
  std::uint64_t day = 0;
  std::uint64_t fills = 0;
  core::KillMode kill_mode = core::KillMode::none;
  core::KillCause kill_cause = core::KillCause::none;
  std::uint64_t kill_since_ns = 0;
};
static_assert(std::is_trivially_copyable_v<FileImage<core::RiskSnapshot>>);
static_assert(std::is_trivially_copyable_v<FileImage<SnapshotV2>>);

// Bounds of a sane paper account: any money amount (cash, equity, peak, fees, realized, cost)
// within +-1e12 quote units, quantities within +-1e12, every value finite. A file outside them
// was not written by an engine: refused, never clamped.
constexpr double kMaxMoney = 1e12;
constexpr double kMaxQty = 1e12;

std::uint64_t fnv1a(const void* data, std::size_t n) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h = (h ^ p[i]) * 0x100000001b3ULL;
  }
  return h;
}

bool g_discard = false;

// The exclusive lock a running engine holds on its risk state for its whole life: flock on
// `<path>.lock` (the state file itself is replaced by rename at each save, so it cannot carry
// the lock). Taken on the first load or save, released when the process exits.
std::mutex g_lock_mutex;
std::map<std::string, pid_t> g_locks; // path -> the process that locked it (a fork child has not)

void hold_lock(const std::string& path) {
  const std::lock_guard<std::mutex> guard(g_lock_mutex);
  if (const auto it = g_locks.find(path); it != g_locks.end() && it->second == ::getpid()) {
    return;
  }
  const std::string lock = path + ".lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error(lock + ": cannot open the risk state lock: " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {};
    (void)::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      throw std::runtime_error(path + ": risk state in use by another engine (pid " + std::string(holder) +
                               "); one state file per engine");
    }
    throw std::runtime_error(lock + ": cannot lock the risk state: " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) == 0) {
    (void)::pwrite(fd, pid.data(), pid.size(), 0);
  }
  g_locks[path] = ::getpid(); // `fd` stays open (and locked) until the process exits
}

[[noreturn]] void refuse(const std::string& path, const char* field, const std::string& why) {
  throw std::runtime_error(path + ": risk state field " + field + " " + why +
                           "; refusing to start (fix or remove the file, or start flat with --discard-risk-state)");
}

void check_value(const std::string& path, const char* field, double v, double lo, double hi) {
  if (!std::isfinite(v)) {
    refuse(path, field, "is not finite");
  }
  if (v < lo || v > hi) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "= %g lies outside [%g, %g]", v, lo, hi);
    refuse(path, field, buf);
  }
}

void check_snapshot(const std::string& path, const core::RiskSnapshot& s) {
  check_value(path, "cash", s.cash, -kMaxMoney, kMaxMoney);
  check_value(path, "peak", s.peak, 0, kMaxMoney);
  check_value(path, "day_start_equity", s.day_start_equity, -kMaxMoney, kMaxMoney);
  check_value(path, "fees", s.fees, 0, kMaxMoney);
  double equity = s.cash;
  for (std::uint32_t i = 0; i < s.count; ++i) {
    const core::Position& p = s.positions[i];
    const std::string at = "positions[" + std::to_string(i) + "].";
    check_value(path, (at + "qty").c_str(), p.qty, -kMaxQty, kMaxQty);
    check_value(path, (at + "avg_cost").c_str(), p.avg_cost, 0, kMaxMoney);
    check_value(path, (at + "realized").c_str(), p.realized, -kMaxMoney, kMaxMoney);
    check_value(path, (at + "fees").c_str(), p.fees, 0, kMaxMoney);
    check_value(path, (at + "mark").c_str(), p.mark, 0, kMaxMoney);
    equity += p.qty * (p.mark > 0 ? p.mark : p.avg_cost);
  }
  check_value(path, "equity (cash + positions at mark)", equity, -kMaxMoney, kMaxMoney);
  if (static_cast<std::uint8_t>(s.kill_mode) > static_cast<std::uint8_t>(core::KillMode::flatten)) {
    refuse(path, "kill_mode", "= " + std::to_string(static_cast<unsigned>(s.kill_mode)) + " is not a kill mode");
  }
  if (static_cast<std::uint8_t>(s.kill_cause) > static_cast<std::uint8_t>(core::KillCause::command)) {
    refuse(path, "kill_cause", "= " + std::to_string(static_cast<unsigned>(s.kill_cause)) + " is not a kill cause");
  }
  if (s.has_limits > 1) {
    refuse(path, "has_limits", "= " + std::to_string(static_cast<unsigned>(s.has_limits)) + " is not 0 or 1");
  }
  if (s.has_limits == 0) {
    return;
  }
  // The limits: the ranges the config loader allows (money and bps positive, the drawdown a
  // fraction, order rates whole counts), which set_limit keeps within.
  for (std::size_t id = 1; id < ipc::kRiskLimitIds; ++id) {
    const auto limit = static_cast<ipc::RiskLimitId>(id);
    const std::string field = std::string("limits.") + ipc::to_string(limit);
    const double v = core::limit_value(s.limits, limit);
    switch (limit) {
    case ipc::RiskLimitId::max_drawdown: check_value(path, field.c_str(), v, 1e-6, 1.0); break;
    case ipc::RiskLimitId::orders_per_s_instrument:
    case ipc::RiskLimitId::orders_per_s_total: check_value(path, field.c_str(), v, 1, 100'000); break;
    case ipc::RiskLimitId::orders_per_min_instrument:
    case ipc::RiskLimitId::orders_per_min_total: check_value(path, field.c_str(), v, 1, 1'000'000); break;
    default:
      check_value(path, field.c_str(), v, 0, std::numeric_limits<double>::max());
      if (!(v > 0)) {
        refuse(path, field.c_str(), "is not positive");
      }
      break;
    }
  }
}

// The snapshot of a file image of `version`, nullopt when `bytes` is not one; the checksum refuses.
template <typename Snapshot>
std::optional<Snapshot> read_image(const std::string& path, const std::vector<unsigned char>& bytes,
                                   std::uint32_t version) {
  FileImage<Snapshot> img{};
  if (bytes.size() != sizeof img) {
    return std::nullopt;
  }
  std::memcpy(&img, bytes.data(), sizeof img);
  if (img.magic != kMagic || img.version != version || img.bytes != sizeof(Snapshot)) {
    return std::nullopt;
  }
  if (img.checksum != fnv1a(&img.snapshot, sizeof img.snapshot)) {
    refuse(path, "checksum", "does not match the contents (the file was changed or damaged)");
  }
  return img.snapshot;
}

core::RiskSnapshot from_v2(const SnapshotV2& v2) noexcept {
  core::RiskSnapshot s;
  s.count = v2.count;
  s.positions = v2.positions;
  s.cash = v2.cash;
  s.peak = v2.peak;
  s.day_start_equity = v2.day_start_equity;
  s.fees = v2.fees;
  s.day = v2.day;
  s.fills = v2.fills;
  s.kill_mode = v2.kill_mode;
  s.kill_cause = v2.kill_cause;
  s.kill_since_ns = v2.kill_since_ns;
  s.has_limits = 0;
  return s;
}
} // namespace

void discard_risk_state(bool discard) noexcept { g_discard = discard; }

void save_risk_state(const std::string& path, const core::RiskSnapshot& s) {
  hold_lock(path);
  FileImage<core::RiskSnapshot> img{};
  img.magic = kMagic;
  img.version = kVersion;
  img.bytes = sizeof(core::RiskSnapshot);
  img.snapshot = s;
  img.checksum = fnv1a(&img.snapshot, sizeof img.snapshot);
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
  hold_lock(path); // before the file is read: a second engine on it stops here
  if (g_discard) {
    if (std::rename(path.c_str(), (path + ".discarded").c_str()) == 0) {
      std::fprintf(stderr, "qf-engine: %s: risk state discarded (kept as %s.discarded); starting flat\n", path.c_str(),
                   path.c_str());
    }
    return std::nullopt;
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return std::nullopt;
  }
  // One byte more than the largest image: a longer file is no image.
  std::vector<unsigned char> bytes(sizeof(FileImage<core::RiskSnapshot>) + 1);
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), f));
  std::fclose(f);
  std::optional<core::RiskSnapshot> snapshot = read_image<core::RiskSnapshot>(path, bytes, kVersion);
  if (!snapshot) {
    if (const auto v2 = read_image<SnapshotV2>(path, bytes, 2)) {
      snapshot = from_v2(*v2);
    }
  }
  if (!snapshot) {
    throw std::runtime_error(
        path + ": not a risk state of version 2 or 3 (remove it or start flat with --discard-risk-state)");
  }
  if (snapshot->count != instruments) {
    throw std::runtime_error(path + ": written for " + std::to_string(snapshot->count) +
                             " instruments, the config has " + std::to_string(instruments));
  }
  check_snapshot(path, *snapshot);
  return snapshot;
}

} // namespace qf::engine
