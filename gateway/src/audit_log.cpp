#include "audit_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::gateway {

AuditLog::AuditLog(const std::string& path) {
  // The default path (run/qf-gateway-audit.jsonl) names a folder that may not exist yet: create it,
  // readable by its owner only, like the log itself.
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && std::filesystem::create_directories(parent, ec)) {
    std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  file_ = fd >= 0 ? ::fdopen(fd, "a") : nullptr;
  if (file_ == nullptr) {
    if (fd >= 0) {
      ::close(fd);
    }
    std::string msg = "cannot open audit_log ";
    msg += path;
    msg += ": ";
    msg += std::strerror(errno);
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
  ipc::JsonWriter o;
  o.begin_object();
  o.key("time").str(ipc::iso8601(now)).key("unix_ns").u64(now);
  o.key("remote").str(remote).key("action").str(action).key("result").str(result).key("status").i64(status);
  o.key("id");
  id != 0 ? o.u64(id) : o.null();
  o.key("detail").str(detail);
  o.end_object();
  const std::string_view line = o.view();
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

} // namespace qf::gateway
