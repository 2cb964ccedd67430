#include "admin_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace qf::gateway {

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
    struct stat st {};
    if (::stat(token_file.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      warning_ = "admin_token_file " + token_file + " has mode " + mode +
                 ": readable by group or others; chmod 600 it";
    }
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

} // namespace qf::gateway
