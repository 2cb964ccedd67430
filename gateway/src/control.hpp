#pragma once
// The gateway's side of the control path:
//  - ControlClient: attaches /qf.<instance>.control read-write (SegmentPeer), claims the
//    producer slot by CAS (taking it over from a dead process), pushes ControlCommand values,
//    and re-attaches when the engine restarts. find_ack looks a command's acknowledgement up
//    in the state segment's ControlLog through the read-only view.
//  - AdminAuth: the admin token (QF_ADMIN_TOKEN wins over the config's token file), compared
//    in constant time (SHA-256 of both sides, then CRYPTO_memcmp: neither content nor length
//    leaks through timing).
//  - AuditLog: one JSON line per accepted or refused control request, appended and flushed.
// Event-loop thread only.

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/segment.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::gateway {

class ControlClient {
public:
  explicit ControlClient(std::string instance);
  ~ControlClient(); // frees the producer slot
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Pushes one command; returns its id, or nullopt with `why` filled (no engine, the slot is
  // held by another live process, the ring is full).
  std::optional<std::uint64_t> push(ipc::ControlAction action, std::uint16_t instrument, std::string_view actor,
                                    std::string& why);

private:
  bool ensure(std::string& why);
  void release() noexcept;
  ipc::SegmentPeer peer_;
  ipc::ControlQueue* queue_ = nullptr;
  std::uint64_t last_id_ = 0;
};

// The acknowledgement of command `id` in the state segment, if the engine wrote it.
[[nodiscard]] std::optional<ipc::ControlAck> find_ack(const ipc::SegmentView& state, std::uint64_t id) noexcept;

class AdminAuth {
public:
  enum class Verdict : std::uint8_t { ok, not_configured, missing, wrong };
  // Throws std::runtime_error when the token file is named but unreadable.
  AdminAuth(const char* env_token, const std::string& token_file);
  [[nodiscard]] bool configured() const noexcept { return configured_; }
  [[nodiscard]] Verdict check(const std::optional<std::string>& presented) const noexcept;
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

private:
  bool configured_ = false;
  unsigned char digest_[32]{};
  std::string source_;
};

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
