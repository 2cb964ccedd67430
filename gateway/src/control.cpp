#include "control.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "json_out.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::gateway {

ControlClient::ControlClient(std::string instance)
    : peer_(std::move(instance), ipc::kControlSegmentName, ipc::kControlLayoutVersion) {}

ControlClient::~ControlClient() { release(); }

void ControlClient::release() noexcept {
  if (queue_ != nullptr && peer_.attached() && !peer_.owner_restarted()) {
    std::int32_t me = static_cast<std::int32_t>(getpid());
    queue_->producer_pid.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
  }
  queue_ = nullptr;
}

bool ControlClient::ensure(std::string& why) {
  if (queue_ != nullptr && peer_.attached() && !peer_.owner_restarted()) {
    return true;
  }
  queue_ = nullptr;
  if (peer_.try_attach() != ipc::AttachStatus::attached) {
    why = "engine control queue not available: ";
    why += peer_.message();
    return false;
  }
  auto* q = peer_.section_as<ipc::ControlQueue>(0);
  if (q == nullptr) {
    why = "control segment smaller than this gateway's layout";
    return false;
  }
  const auto me = static_cast<std::int32_t>(getpid());
  std::int32_t holder = q->producer_pid.load(std::memory_order_acquire);
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (holder == me) {
      queue_ = q;
      return true;
    }
    // Free, or held by a process that no longer exists: take it over.
    const bool free = holder == 0 || (kill(holder, 0) != 0 && errno == ESRCH);
    if (!free) {
      why = "control queue producer slot held by live pid ";
      why += std::to_string(holder);
      return false;
    }
    if (q->producer_pid.compare_exchange_strong(holder, me, std::memory_order_acq_rel)) {
      queue_ = q;
      return true;
    }
  }
  why = "control queue producer slot contended";
  return false;
}

std::optional<std::uint64_t> ControlClient::push(ipc::ControlAction action, std::uint16_t instrument,
                                                 std::string_view actor, std::string& why) {
  if (!ensure(why)) {
    return std::nullopt;
  }
  ipc::ControlCommand c{};
  // Ids increase across gateway restarts too (wall clock ns), so an old ack never matches.
  const std::uint64_t now = ipc::realtime_ns();
  c.id = now > last_id_ ? now : last_id_ + 1;
  c.sent_unix_ns = now;
  c.action = action;
  c.instrument = instrument;
  ipc::set_actor(c, actor);
  if (!queue_->ring.try_push(c)) {
    why = "control queue full (the engine is not draining it)";
    return std::nullopt;
  }
  last_id_ = c.id;
  return c.id;
}

std::optional<ipc::ControlAck> find_ack(const ipc::SegmentView& state, std::uint64_t id) noexcept {
  if (!state.attached()) {
    return std::nullopt;
  }
  const auto* log = state.section_as<ipc::ControlLog>(ipc::kSectionControl);
  if (log == nullptr) {
    return std::nullopt;
  }
  const std::uint64_t written = log->written.load(std::memory_order_acquire);
  const std::uint64_t first = written > ipc::kControlLogSize ? written - ipc::kControlLogSize : 0;
  for (std::uint64_t i = written; i-- > first;) {
    ipc::ControlAck a{};
    if (log->entries[i % ipc::kControlLogSize].try_load(a) == ipc::ReadStatus::ok && a.id == id) {
      return a;
    }
  }
  return std::nullopt;
}

namespace {
void sha256(std::string_view text, unsigned char* out) {
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out);
}
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}
} // namespace

AdminAuth::AdminAuth(const char* env_token, const std::string& token_file) {
  std::string token;
  if (env_token != nullptr && *env_token != '\0') {
    token = env_token;
    source_ = "QF_ADMIN_TOKEN";
  } else if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) {
      std::string msg = "cannot read admin_token_file ";
      msg += token_file;
      throw std::runtime_error(msg);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    token = trim(ss.str());
    source_ = token_file;
  }
  configured_ = !token.empty();
  if (configured_) {
    sha256(token, digest_);
  }
}

AdminAuth::Verdict AdminAuth::check(const std::optional<std::string>& presented) const noexcept {
  if (!configured_) {
    return Verdict::not_configured;
  }
  if (!presented || presented->empty()) {
    return Verdict::missing;
  }
  unsigned char d[32];
  sha256(*presented, d);
  return CRYPTO_memcmp(d, digest_, sizeof d) == 0 ? Verdict::ok : Verdict::wrong;
}

AuditLog::AuditLog(const std::string& path) {
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) {
    std::string msg = "cannot open audit_log ";
    msg += path;
    throw std::runtime_error(msg);
  }
}

AuditLog::~AuditLog() {
  if (file_ != nullptr) {
    std::fclose(file_);
  }
}

void AuditLog::write(std::string_view remote, std::string_view action, std::string_view result, int status,
                     std::uint64_t id, std::string_view detail) {
  const std::uint64_t now = ipc::realtime_ns();
  JsonOut o;
  o.begin_object();
  o.key("time").str(iso8601(now)).key("unix_ns").u64(now);
  o.key("remote").str(remote).key("action").str(action).key("result").str(result).key("status").i64(status);
  o.key("id");
  id != 0 ? o.u64(id) : o.null();
  o.key("detail").str(detail);
  o.end_object();
  o.text() += '\n';
  std::fwrite(o.text().data(), 1, o.text().size(), file_);
  std::fflush(file_);
}

} // namespace qf::gateway
