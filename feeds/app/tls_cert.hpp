#pragma once
// A self-signed certificate for qf-venue --tls, made with the OpenSSL C API: an EC P-256 key and a
// certificate (CN qf-venue, subjectAltName IP:127.0.0.1 and DNS:localhost, CA:TRUE so clients can
// trust it directly as their CA file), valid from an hour ago for 30 days. Start-up code only.

#include <string>

namespace qf::feeds::venue {

struct CertFiles {
  std::string cert_path; // PEM certificate: give it to clients as ca_file
  std::string key_path;  // PEM private key (mode 0600)
};

// Writes cert.pem and key.pem into `dir` (created when missing). Throws std::runtime_error.
[[nodiscard]] CertFiles make_self_signed(const std::string& dir);

} // namespace qf::feeds::venue
