// Test certificates generated with OpenSSL: a CA, intermediates, leaves with
// chosen names and validity (valid, expiring soon, expired, wrong host), and
// self-signed ones. EC P-256 keys; SHA-256 signatures.
//
//   auto ca = TestCa::Create();
//   auto leaf = (*ca)->Issue({.dns_names = {"localhost"},
//                             .not_after = absl::Now() + absl::Hours(24)});
//   // leaf->cert_pem, leaf->key_pem; (*ca)->cert_pem() is the trust anchor.

#ifndef VIGIL_HEALTH_CHECKS_TESTING_CERTS_H_
#define VIGIL_HEALTH_CHECKS_TESTING_CERTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace vigil {
namespace checks {
namespace testing {

struct CertSpec {
  std::string common_name = "localhost";
  // subjectAltName entries.
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1", "::1"};
  absl::Time not_before = absl::Now() - absl::Hours(1);
  absl::Time not_after = absl::Now() + absl::Hours(24 * 90);
};

struct KeyAndCert {
  std::string cert_pem;  // The certificate alone.
  std::string key_pem;   // Its private key (PKCS#8 PEM).
};

// A certificate authority that signs leaves and intermediates.
class TestCa {
 public:
  // A self-signed root valid from an hour ago for `validity`.
  static absl::StatusOr<std::unique_ptr<TestCa>> Create(
      const std::string& common_name = "vigil test CA",
      absl::Duration validity = absl::Hours(24 * 3650));
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // A leaf certificate (CA:FALSE, serverAuth) signed by this CA.
  absl::StatusOr<KeyAndCert> Issue(const CertSpec& spec) const;
  // An intermediate CA signed by this CA, valid until `not_after`.
  absl::StatusOr<std::unique_ptr<TestCa>> CreateIntermediate(
      const std::string& common_name, absl::Time not_after) const;

  // This CA's certificate (PEM).
  const std::string& cert_pem() const { return cert_pem_; }

 private:
  TestCa() = default;
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string cert_pem_;
};

// A self-signed leaf (its own issuer; not a CA).
absl::StatusOr<KeyAndCert> SelfSigned(const CertSpec& spec);

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_CERTS_H_
