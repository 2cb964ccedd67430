#include "tls_cert.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace qf::feeds::venue {
namespace {

struct Deleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(X509* p) const noexcept { X509_free(p); }
  void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

[[noreturn]] void fail(const char* what) {
  std::string msg = "tls: ";
  msg += what;
  throw std::runtime_error(msg);
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Deleter> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    fail("cannot add a certificate extension");
  }
}

} // namespace

CertFiles make_self_signed(const std::string& dir) {
  std::filesystem::create_directories(dir);
  CertFiles files{(std::filesystem::path(dir) / "cert.pem").string(), (std::filesystem::path(dir) / "key.pem").string()};

  std::unique_ptr<EVP_PKEY, Deleter> key(EVP_EC_gen("P-256"));
  if (!key) {
    fail("EC P-256 key generation failed");
  }
  std::unique_ptr<X509, Deleter> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) {
    fail("X509_new failed");
  }
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) {
    fail("RAND_bytes failed");
  }
  serial[0] &= 0x7FU; // a positive serial
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    fail("serial number");
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("qf-venue"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("QuantFlow local venue"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_authority_key_identifier, "keyid:always");
  add_extension(cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    fail("X509_sign failed");
  }

  {
    std::unique_ptr<std::FILE, Deleter> f(std::fopen(files.key_path.c_str(), "wb"));
    if (!f || ::chmod(files.key_path.c_str(), 0600) != 0 ||
        PEM_write_PrivateKey(f.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      fail("cannot write key.pem");
    }
  }
  {
    std::unique_ptr<std::FILE, Deleter> f(std::fopen(files.cert_path.c_str(), "wb"));
    if (!f || PEM_write_X509(f.get(), cert.get()) != 1) {
      fail("cannot write cert.pem");
    }
  }
  return files;
}

} // namespace qf::feeds::venue
