// S6: certificates generated with chosen expiry dates, checked from files
// and from a loopback TLS server presenting them.

#include "health/checks/tls_cert.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/certs.h"
#include "health/checks/testing/http_server.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/run_check.h"
#include "health/testing/fake_clock.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::vigil::checks::testing::CertSpec;
using ::vigil::checks::testing::KeyAndCert;
using ::vigil::checks::testing::RunCheckOnce;
using ::vigil::checks::testing::TestCa;
using ::vigil::checks::testing::TestHttpServer;
using ::vigil::checks::testing::TestHttpServerOptions;
using ::vigil::testing::ScopedTempDir;

constexpr absl::Duration kDay = absl::Hours(24);

class TlsCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = TestCa::Create();
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    auto dir = ScopedTempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_ = *std::move(dir);
    ca_file_ = Path("ca.pem");
    ASSERT_TRUE(vigil::testing::WriteFile(ca_file_, ca_->cert_pem()).ok());
  }

  std::string Path(const std::string& name) {
    return dir_->path() + "/" + name;
  }

  // Issues a leaf expiring at `not_after` and writes it to `name`.
  std::string WriteLeaf(const std::string& name, absl::Time not_after,
                        const std::string& extra_chain = "") {
    CertSpec spec;
    spec.not_before = absl::Now() - 400 * kDay;
    spec.not_after = not_after;
    auto kc = ca_->Issue(spec);
    EXPECT_TRUE(kc.ok()) << kc.status();
    const std::string path = Path(name);
    EXPECT_TRUE(vigil::testing::WriteFile(
                    path, kc->cert_pem + extra_chain + kc->key_pem)
                    .ok());
    return path;
  }

  absl::StatusOr<Check> FileCheck(const std::string& path,
                                  Clock* clock = nullptr) {
    TlsCertCheckOptions o;
    o.pem_file = path;
    o.ca_file = ca_file_;
    o.clock = clock;
    return TlsCertCheck(o);
  }

  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<ScopedTempDir> dir_;
  std::string ca_file_;
};

TEST_F(TlsCertTest, ValidFileIsHealthyAndReportsSubjectIssuerDaysLeft) {
  const std::string path = WriteLeaf("site.pem", absl::Now() + 90 * kDay);
  absl::StatusOr<Check> c = FileCheck(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(absl::StartsWith(c->name, "tls:")) << c->name;
  EXPECT_TRUE(absl::EndsWith(c->name, "/site.pem")) << c->name;
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("certificate expires in 89 days"));
  EXPECT_THAT(r.details["subject"], HasSubstr("CN=localhost"));
  EXPECT_THAT(r.details["issuer"], HasSubstr("CN=vigil test CA"));
  EXPECT_EQ(r.details["days_left"], "89");
  EXPECT_EQ(r.details["chain_length"], "1");
  EXPECT_EQ(r.observed_unit, "days");
  EXPECT_NEAR(*r.observed_value, 90.0, 0.01);
  EXPECT_EQ(r.warn_threshold, 14.0);
  EXPECT_EQ(r.critical_threshold, 0.0);
}

TEST_F(TlsCertTest, WarnsWithinWarnBeforeAndFailsAfterExpiryExactly) {
  const absl::Time not_after =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + 30 * kDay));
  const std::string path = WriteLeaf("site.pem", not_after);
  vigil::testing::FakeClock clock(not_after - 14 * kDay - absl::Seconds(1));
  TlsCertCheckOptions o;
  o.pem_file = path;
  o.ca_file = ca_file_;
  o.clock = &clock;
  o.warn_before = 14 * kDay;
  absl::StatusOr<Check> c = TlsCertCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();

  CheckResult r = RunCheckOnce(*c, &clock);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("expires in 14 days"));

  clock.Advance(absl::Seconds(2));  // 1 s inside the warning window.
  r = RunCheckOnce(*c, &clock);
  EXPECT_EQ(r.status, Status::kDegraded) << r.message;
  EXPECT_THAT(r.message, HasSubstr("certificate expires in 13 days"));
  EXPECT_EQ(r.details["reason"], "expiring");

  clock.SetNow(not_after - absl::Hours(5));
  r = RunCheckOnce(*c, &clock);
  EXPECT_EQ(r.status, Status::kDegraded) << r.message;
  EXPECT_THAT(r.message, HasSubstr("expires in 5h"));
  EXPECT_EQ(r.details["days_left"], "0");

  clock.SetNow(not_after);  // Expired on the dot.
  r = RunCheckOnce(*c, &clock);
  EXPECT_EQ(r.status, Status::kUnhealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("certificate expired"));
  EXPECT_EQ(r.details["reason"], "expired");

  clock.SetNow(not_after + 3 * kDay);
  r = RunCheckOnce(*c, &clock);
  EXPECT_THAT(r.message,
              HasSubstr("certificate expired 3 days ago (not after "));
  EXPECT_EQ(r.details["days_left"], "-3");
}

TEST_F(TlsCertTest, ExpiredFileIsUnhealthy) {
  const std::string path = WriteLeaf("old.pem", absl::Now() - 2 * kDay);
  CheckResult r = RunCheckOnce(*FileCheck(path));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("certificate expired 2 days ago"));
  EXPECT_EQ(r.details["days_left"], "-2");
}

TEST_F(TlsCertTest, UntrustedChainIsUnhealthyUnlessVerificationIsOff) {
  CertSpec spec;
  auto kc = testing::SelfSigned(spec);
  ASSERT_TRUE(kc.ok());
  const std::string path = Path("self.pem");
  ASSERT_TRUE(vigil::testing::WriteFile(path, kc->cert_pem).ok());
  CheckResult r = RunCheckOnce(*FileCheck(path));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("chain does not verify: self-signed"));
  EXPECT_EQ(r.details["reason"], "verify");

  TlsCertCheckOptions o;
  o.pem_file = path;
  o.verify_chain = false;
  r = RunCheckOnce(*TlsCertCheck(o));
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
}

TEST_F(TlsCertTest, NameIsCheckedWhenGiven) {
  const std::string path = WriteLeaf("site.pem", absl::Now() + 90 * kDay);
  TlsCertCheckOptions o;
  o.pem_file = path;
  o.ca_file = ca_file_;
  o.server_name = "localhost";
  EXPECT_EQ(RunCheckOnce(*TlsCertCheck(o)).status, Status::kHealthy);
  o.server_name = "www.example.org";
  CheckResult r = RunCheckOnce(*TlsCertCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message,
              HasSubstr("hostname mismatch (expected www.example.org)"));
}

TEST_F(TlsCertTest, IntermediateExpiringFirstCounts) {
  auto inter =
      ca_->CreateIntermediate("vigil intermediate", absl::Now() + 5 * kDay);
  ASSERT_TRUE(inter.ok()) << inter.status();
  CertSpec spec;
  spec.not_after = absl::Now() + 60 * kDay;
  auto kc = (*inter)->Issue(spec);
  ASSERT_TRUE(kc.ok());
  const std::string path = Path("chain.pem");
  ASSERT_TRUE(
      vigil::testing::WriteFile(path, kc->cert_pem + (*inter)->cert_pem())
          .ok());
  CheckResult r = RunCheckOnce(*FileCheck(path));
  EXPECT_EQ(r.status, Status::kDegraded) << r.message;
  EXPECT_THAT(r.message,
              HasSubstr("chain certificate CN=vigil intermediate,O=vigil"));
  EXPECT_THAT(r.message, HasSubstr("expires in 4 days"));
  EXPECT_EQ(r.details["chain_length"], "2");
  EXPECT_THAT(r.details["subject"], HasSubstr("CN=localhost"));
  EXPECT_THAT(r.details["expiring"], HasSubstr("vigil intermediate"));
}

TEST_F(TlsCertTest, FileIsReReadOnEveryRun) {
  const std::string path = WriteLeaf("site.pem", absl::Now() - kDay);
  absl::StatusOr<Check> c = FileCheck(path);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kUnhealthy);
  WriteLeaf("site.pem", absl::Now() + 90 * kDay);  // Renewed.
  EXPECT_EQ(RunCheckOnce(*c).status, Status::kHealthy);
  ASSERT_TRUE(vigil::testing::WriteFile(path, "garbage").ok());
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "malformed");
  EXPECT_THAT(r.message, HasSubstr("no PEM certificate found"));
  remove(path.c_str());
  r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "unreadable");
  EXPECT_THAT(r.message, HasSubstr("No such file"));
}

TEST_F(TlsCertTest, RejectsBadInputNamingTheField) {
  TlsCertCheckOptions o;
  EXPECT_THAT(TlsCertCheck(o).status().message(),
              HasSubstr("pem_file/address"));
  o.pem_file = Path("x.pem");
  o.address = "127.0.0.1:443";
  EXPECT_THAT(TlsCertCheck(o).status().message(),
              HasSubstr("pem_file/address"));

  auto expect_invalid = [](const TlsCertCheckOptions& o, const char* field) {
    absl::StatusOr<Check> c = TlsCertCheck(o);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(c.status().message(), HasSubstr(field));
  };
  o = TlsCertCheckOptions();
  o.pem_file = Path("missing.pem");
  expect_invalid(o, "pem_file");
  ASSERT_TRUE(
      vigil::testing::WriteFile(Path("junk.pem"), "not a certificate\n").ok());
  o.pem_file = Path("junk.pem");
  expect_invalid(o, "pem_file");
  ASSERT_TRUE(
      vigil::testing::WriteFile(Path("bad.pem"),
                                "-----BEGIN CERTIFICATE-----\nAAAA!!!!\n"
                                "-----END CERTIFICATE-----\n")
          .ok());
  o.pem_file = Path("bad.pem");
  expect_invalid(o, "pem_file");
  auto kc = ca_->Issue(CertSpec());
  ASSERT_TRUE(
      vigil::testing::WriteFile(Path("key-only.pem"), kc->key_pem).ok());
  o.pem_file = Path("key-only.pem");
  expect_invalid(o, "pem_file");

  o = TlsCertCheckOptions();
  o.address = "127.0.0.1";
  expect_invalid(o, "address");
  o.address = "127.0.0.1:443";
  o.ca_file = Path("junk.pem");
  expect_invalid(o, "ca_file");
  o.ca_file = "";
  o.server_name = "bad name";
  expect_invalid(o, "server_name");
  o.server_name = "";
  o.warn_before = -kDay;
  expect_invalid(o, "warn_before");
}

// --- Remote chains, from a loopback TLS server
// ---------------------------------

class RemoteTlsCertTest : public TlsCertTest {
 protected:
  std::unique_ptr<TestHttpServer> Serve(const KeyAndCert& kc,
                                        TestHttpServerOptions so = {}) {
    so.cert_chain_pem = kc.cert_pem;
    so.key_pem = kc.key_pem;
    auto server = TestHttpServer::Start([](httplib::Server&) {}, so);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }
  CheckResult Probe(const TestHttpServer& server,
                    const std::string& server_name = "") {
    TlsCertCheckOptions o;
    o.address = server.address();
    o.ca_file = ca_file_;
    o.server_name = server_name;
    absl::StatusOr<Check> c = TlsCertCheck(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return RunCheckOnce(*c);
  }
  KeyAndCert Leaf(absl::Time not_after, const std::string& cn = "localhost") {
    CertSpec spec;
    spec.common_name = cn;
    spec.dns_names = {cn};
    if (cn != "localhost") spec.ip_addresses = {};
    spec.not_before = absl::Now() - 400 * kDay;
    spec.not_after = not_after;
    auto kc = ca_->Issue(spec);
    EXPECT_TRUE(kc.ok());
    return *kc;
  }
};

TEST_F(RemoteTlsCertTest, ValidExpiringAndExpiredServers) {
  auto valid = Serve(Leaf(absl::Now() + 90 * kDay));
  ASSERT_NE(valid, nullptr);
  CheckResult r = Probe(*valid);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("expires in 89 days"));
  EXPECT_EQ(r.details["target"], valid->address());

  auto soon = Serve(Leaf(absl::Now() + 3 * kDay));
  ASSERT_NE(soon, nullptr);
  r = Probe(*soon);
  EXPECT_EQ(r.status, Status::kDegraded) << r.message;
  EXPECT_THAT(r.message, HasSubstr("expires in 2 days"));

  auto expired = Serve(Leaf(absl::Now() - 10 * kDay));
  ASSERT_NE(expired, nullptr);
  r = Probe(*expired);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("certificate expired 10 days ago"));
}

TEST_F(RemoteTlsCertTest, WrongHostAndUnknownIssuerDoNotVerify) {
  auto wrong = Serve(Leaf(absl::Now() + 90 * kDay, "other.example"));
  ASSERT_NE(wrong, nullptr);
  CheckResult r = Probe(*wrong);  // Matched against 127.0.0.1.
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message,
              HasSubstr("chain does not verify: IP address mismatch"));

  auto self = testing::SelfSigned(CertSpec());
  ASSERT_TRUE(self.ok());
  auto untrusted = Serve(*self);
  ASSERT_NE(untrusted, nullptr);
  r = Probe(*untrusted);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("self-signed"));
}

TEST_F(RemoteTlsCertTest, SendsSniAndChecksTheCertificateForThatName) {
  TestHttpServerOptions so;
  KeyAndCert named = Leaf(absl::Now() + 7 * kDay, "vigil.test");
  so.sni["vigil.test"] = {named.cert_pem, named.key_pem};
  auto server = Serve(Leaf(absl::Now() + 90 * kDay, "default.test"), so);
  ASSERT_NE(server, nullptr);

  CheckResult r = Probe(*server, "vigil.test");
  EXPECT_EQ(r.status, Status::kDegraded) << r.message;  // 7 days < 14.
  EXPECT_THAT(r.details["subject"], HasSubstr("CN=vigil.test"));

  r = Probe(*server, "default.test");  // Unknown to the SNI map: default.
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.details["subject"], HasSubstr("CN=default.test"));
}

TEST_F(RemoteTlsCertTest, PresentedChainIncludesIntermediates) {
  auto inter =
      ca_->CreateIntermediate("vigil intermediate", absl::Now() + 400 * kDay);
  ASSERT_TRUE(inter.ok());
  CertSpec spec;
  auto kc = (*inter)->Issue(spec);
  ASSERT_TRUE(kc.ok());
  KeyAndCert chain{kc->cert_pem + (*inter)->cert_pem(), kc->key_pem};
  auto server = Serve(chain);
  ASSERT_NE(server, nullptr);
  CheckResult r = Probe(*server);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["chain_length"], "2");
}

TEST_F(RemoteTlsCertTest, NetworkFailuresAreTold) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok());
  TlsCertCheckOptions o;
  o.address = absl::StrCat("127.0.0.1:", *port);
  CheckResult r = RunCheckOnce(*TlsCertCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "refused");

  auto silent = testing::SilentListener::Start();
  ASSERT_TRUE(silent.ok());
  o.address = absl::StrCat("127.0.0.1:", (*silent)->port());
  o.check.timeout = absl::Milliseconds(400);
  r = RunCheckOnce(*TlsCertCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "timed_out");
  EXPECT_THAT(
      r.message,
      ContainsRegex("timed out after [0-9]+ms during the TLS handshake"));
}

}  // namespace
}  // namespace checks
}  // namespace vigil
