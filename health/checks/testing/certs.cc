#include "health/checks/testing/certs.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigil {
namespace checks {
namespace testing {
namespace {

absl::Status SslError(absl::string_view what) {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat(what, ": ", buf));
}

std::string ToPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

std::string KeyToPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

bool AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Builds and signs a certificate for `key`, issued by `issuer_cert` /
// `issuer_key` (or self-signed when they are null).
absl::StatusOr<X509*> Make(EVP_PKEY* key, const std::string& cn,
                           absl::Time not_before, absl::Time not_after,
                           bool is_ca, const std::vector<std::string>& dns,
                           const std::vector<std::string>& ips,
                           X509* issuer_cert, EVP_PKEY* issuer_key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after));
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("vigil"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer));
  bool ok = AddExt(cert, issuer, NID_subject_key_identifier, "hash");
  if (issuer_cert != nullptr) {
    ok = ok &&
         AddExt(cert, issuer, NID_authority_key_identifier, "keyid:always");
  }
  if (is_ca) {
    ok = ok && AddExt(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && AddExt(cert, issuer, NID_key_usage,
                      "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    ok = ok && AddExt(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && AddExt(cert, issuer, NID_ext_key_usage, "serverAuth");
    std::vector<std::string> san;
    for (const std::string& d : dns) san.push_back("DNS:" + d);
    for (const std::string& i : ips) san.push_back("IP:" + i);
    if (!san.empty()) {
      ok = ok &&
           AddExt(cert, issuer, NID_subject_alt_name, absl::StrJoin(san, ","));
    }
  }
  if (!ok) {
    X509_free(cert);
    return SslError("adding certificate extensions");
  }
  if (X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) ==
      0) {
    X509_free(cert);
    return SslError("signing certificate");
  }
  return cert;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestCa>> TestCa::Create(
    const std::string& common_name, absl::Duration validity) {
  std::unique_ptr<TestCa> ca(new TestCa());
  ca->key_ = EVP_EC_gen("P-256");
  if (ca->key_ == nullptr) return SslError("generating CA key");
  const absl::Time now = absl::Now();
  absl::StatusOr<X509*> cert =
      Make(ca->key_, common_name, now - absl::Hours(1), now + validity, true,
           {}, {}, nullptr, nullptr);
  if (!cert.ok()) return cert.status();
  ca->cert_ = *cert;
  ca->cert_pem_ = ToPem(ca->cert_);
  return ca;
}

TestCa::~TestCa() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

absl::StatusOr<KeyAndCert> TestCa::Issue(const CertSpec& spec) const {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return SslError("generating key");
  absl::StatusOr<X509*> cert =
      Make(key, spec.common_name, spec.not_before, spec.not_after, false,
           spec.dns_names, spec.ip_addresses, cert_, key_);
  if (!cert.ok()) {
    EVP_PKEY_free(key);
    return cert.status();
  }
  KeyAndCert out{ToPem(*cert), KeyToPem(key)};
  X509_free(*cert);
  EVP_PKEY_free(key);
  return out;
}

absl::StatusOr<std::unique_ptr<TestCa>> TestCa::CreateIntermediate(
    const std::string& common_name, absl::Time not_after) const {
  std::unique_ptr<TestCa> ca(new TestCa());
  ca->key_ = EVP_EC_gen("P-256");
  if (ca->key_ == nullptr) return SslError("generating key");
  absl::StatusOr<X509*> cert =
      Make(ca->key_, common_name, absl::Now() - absl::Hours(1), not_after, true,
           {}, {}, cert_, key_);
  if (!cert.ok()) return cert.status();
  ca->cert_ = *cert;
  ca->cert_pem_ = ToPem(ca->cert_);
  return ca;
}

absl::StatusOr<KeyAndCert> SelfSigned(const CertSpec& spec) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return SslError("generating key");
  absl::StatusOr<X509*> cert =
      Make(key, spec.common_name, spec.not_before, spec.not_after, false,
           spec.dns_names, spec.ip_addresses, nullptr, nullptr);
  if (!cert.ok()) {
    EVP_PKEY_free(key);
    return cert.status();
  }
  KeyAndCert out{ToPem(*cert), KeyToPem(key)};
  X509_free(*cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
