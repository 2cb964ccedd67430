#pragma once
// The admin token that guards the control endpoints: QF_ADMIN_TOKEN wins over the config's
// token file. Compared in constant time (SHA-256 of both sides, then CRYPTO_memcmp: neither
// content nor length leaks through timing). Event-loop thread only.

#include <cstdint>
#include <optional>
#include <string>

namespace qf::gateway {

class AdminAuth {
public:
  enum class Verdict : std::uint8_t { ok, not_configured, missing, wrong };
  // Throws std::runtime_error when the token file is named but unreadable.
  AdminAuth(const char* env_token, const std::string& token_file);
  [[nodiscard]] bool configured() const noexcept { return configured_; }
  [[nodiscard]] Verdict check(const std::optional<std::string>& presented) const noexcept;
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  // Non-empty when the token file can be read by group or others (the token still loads, as
  // ssh-agent-style tools warn rather than refuse: the operator may share a group on purpose).
  [[nodiscard]] const std::string& warning() const noexcept { return warning_; }

private:
  bool configured_ = false;
  unsigned char digest_[32]{};
  std::string source_;
  std::string warning_;
};

} // namespace qf::gateway
