#pragma once
// The control audit log: one JSON line per accepted or refused control request, appended and
// flushed. It never contains the admin token. Event-loop thread only.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace qf::gateway {

class AuditLog {
public:
  explicit AuditLog(const std::string& path); // throws std::runtime_error when it cannot open
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  void write(std::string_view remote, std::string_view action, std::string_view result, int status,
             std::uint64_t id, std::string_view detail);

private:
  std::FILE* file_ = nullptr;
};

} // namespace qf::gateway
