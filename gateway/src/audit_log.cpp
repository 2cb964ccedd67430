#include "audit_log.hpp"

#include <stdexcept>

#include "json_out.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::gateway {

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
