#include "health/checks/http.h"

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/certs.h"
#include "health/checks/testing/http_server.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/run_check.h"
#include "health/sync.h"
#include "health/testing/require.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::checks::testing::CertSpec;
using ::vigil::checks::testing::KeyAndCert;
using ::vigil::checks::testing::RunCheckOnce;
using ::vigil::checks::testing::TestCa;
using ::vigil::checks::testing::TestHttpServer;
using ::vigil::checks::testing::TestHttpServerOptions;
using ::vigil::testing::ScopedTempDir;

// A plain HTTP server with a few routes used by most tests.
class HttpCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestHttpServer::Start([this](httplib::Server& s) {
      s.Get("/ok", [](const httplib::Request&, httplib::Response& r) {
        r.set_header("X-Ready", "yes; shard=3");
        r.set_content("status: all good", "text/plain");
      });
      s.Get("/down", [](const httplib::Request&, httplib::Response& r) {
        r.status = 503;
        r.set_content("maintenance", "text/plain");
      });
      s.Get("/redirect", [](const httplib::Request&, httplib::Response& r) {
        r.set_redirect("/ok");
      });
      s.Get("/method",
            [this](const httplib::Request& req, httplib::Response& r) {
              MutexLock lock(&mu_);
              last_method_ = req.method;
              r.set_content("x", "text/plain");
            });
      s.Get("/auth", [](const httplib::Request& req, httplib::Response& r) {
        if (req.get_header_value("Authorization") != "Bearer tok-12345678") {
          r.status = 401;
          return;
        }
        r.set_header("X-Echo", req.get_header_value("Authorization"));
        r.set_content("welcome", "text/plain");
      });
      s.Get("/chunked", [](const httplib::Request&, httplib::Response& r) {
        r.set_chunked_content_provider(
            "text/plain", [](size_t offset, httplib::DataSink& sink) {
              if (offset == 0) {
                sink.write("part one, ", 10);
                sink.write("part two: needle", 16);
              } else {
                sink.done();
              }
              return true;
            });
      });
      s.Get("/big", [](const httplib::Request&, httplib::Response& r) {
        r.set_content(std::string(100000, 'a') + "needle", "text/plain");
      });
      s.Get("/slow", [this](const httplib::Request&, httplib::Response& r) {
        release_.WaitForNotificationWithTimeout(absl::Seconds(20));
        r.set_content("late", "text/plain");
      });
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    release_.Notify();
    server_.reset();
  }

  absl::StatusOr<Check> Make(HttpCheckOptions o) { return HttpCheck(o); }
  HttpCheckOptions Options(const std::string& path) {
    HttpCheckOptions o;
    o.url = server_->Url(path);
    return o;
  }
  std::string last_method() {
    MutexLock lock(&mu_);
    return last_method_;
  }

  std::unique_ptr<TestHttpServer> server_;
  Notification release_;
  Mutex mu_;
  std::string last_method_ ABSL_GUARDED_BY(mu_);
};

TEST_F(HttpCheckTest, HealthyOn200WithStatusCodeAndLatency) {
  absl::StatusOr<Check> c = Make(Options("/ok"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, absl::StrCat("http://127.0.0.1:", server_->port(), "/ok"));
  EXPECT_EQ(c->options.kind, CheckKind::kDependency);
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("HTTP 200 in "));
  EXPECT_EQ(r.details["status_code"], "200");
  EXPECT_EQ(r.details["body_bytes"], "16");
  EXPECT_EQ(r.details["address"], server_->address());
  EXPECT_EQ(r.observed_unit, "seconds");
  EXPECT_TRUE(r.observed_value.has_value());
}

TEST_F(HttpCheckTest, StatusOutsideTheRangeIsUnhealthy) {
  CheckResult r = RunCheckOnce(*Make(Options("/down")));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "HTTP 503 (expected 200-399)");
  EXPECT_EQ(r.details["reason"], "status");
  EXPECT_EQ(r.details["status_code"], "503");

  HttpCheckOptions o = Options("/down");
  o.max_status = 599;
  r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;

  r = RunCheckOnce(*Make(Options("/missing")));
  EXPECT_EQ(r.message, "HTTP 404 (expected 200-399)");
}

TEST_F(HttpCheckTest, RedirectsAreNotFollowedAndCountByStatus) {
  CheckResult r = RunCheckOnce(*Make(Options("/redirect")));
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["status_code"], "302");
  HttpCheckOptions o = Options("/redirect");
  o.max_status = 299;
  r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
}

TEST_F(HttpCheckTest, ExpectedBodySubstring) {
  HttpCheckOptions o = Options("/ok");
  o.expected_body = "all good";
  EXPECT_EQ(RunCheckOnce(*Make(o)).status, Status::kHealthy);
  o.expected_body = "all bad";
  CheckResult r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "HTTP 200 but the body does not contain \"all bad\"");
  EXPECT_EQ(r.details["reason"], "body");
}

TEST_F(HttpCheckTest, ChunkedBodiesAreDecoded) {
  HttpCheckOptions o = Options("/chunked");
  o.expected_body = "part two: needle";
  CheckResult r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["body_bytes"], "26");
}

TEST_F(HttpCheckTest, BodyIsSearchedUpToTheCap) {
  HttpCheckOptions o = Options("/big");
  o.expected_body = "needle";
  EXPECT_EQ(RunCheckOnce(*Make(o)).status, Status::kHealthy);
  o.max_body_bytes = 1000;
  CheckResult r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("searched the first 1000 bytes"));
}

TEST_F(HttpCheckTest, HeadSendsHead) {
  HttpCheckOptions o = Options("/method");
  o.method = HttpMethod::kHead;
  CheckResult r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(last_method(), "HEAD");
  EXPECT_EQ(r.details["body_bytes"], "0");
  o.method = HttpMethod::kGet;
  RunCheckOnce(*Make(o));
  EXPECT_EQ(last_method(), "GET");
}

TEST_F(HttpCheckTest, ExpectedResponseHeader) {
  HttpCheckOptions o = Options("/ok");
  o.expected_header = "x-ready";
  EXPECT_EQ(RunCheckOnce(*Make(o)).status, Status::kHealthy);
  o.expected_header_value = "shard=3";
  EXPECT_EQ(RunCheckOnce(*Make(o)).status, Status::kHealthy);
  o.expected_header_value = "shard=4";
  CheckResult r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message,
            "HTTP 200 but header x-ready: \"yes; shard=3\" does not contain "
            "\"shard=4\"");
  o.expected_header = "X-Missing";
  o.expected_header_value = "";
  r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.message, "HTTP 200 but no response header X-Missing");
  EXPECT_EQ(r.details["reason"], "header");
}

TEST_F(HttpCheckTest, RequestHeadersAreSentAndTheirValuesNeverReported) {
  HttpCheckOptions o = Options("/auth");
  EXPECT_EQ(RunCheckOnce(*Make(o)).details["status_code"], "401");
  o.request_headers = {{"Authorization", "Bearer tok-12345678"}};
  o.expected_header = "X-Echo";
  o.expected_header_value = "something else";
  CheckResult r = RunCheckOnce(*Make(o));
  // The server echoed the token; the report must not carry it.
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, Not(HasSubstr("tok-12345678")));
  EXPECT_THAT(r.message, HasSubstr("****"));
  for (const auto& [k, v] : r.details) {
    EXPECT_THAT(v, Not(HasSubstr("tok-12345678"))) << k;
  }
  o.expected_header_value = "";
  EXPECT_EQ(RunCheckOnce(*Make(o)).status, Status::kHealthy);
}

TEST_F(HttpCheckTest, QueryStringsStayOutOfNamesAndDetails) {
  HttpCheckOptions o = Options("/ok?token=qs-secret-value");
  absl::StatusOr<Check> c = Make(o);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->name, Not(HasSubstr("qs-secret-value")));
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["url"],
            absl::StrCat("http://127.0.0.1:", server_->port(), "/ok"));
}

TEST_F(HttpCheckTest, TimedOutWhenTheServerIsSlow) {
  HttpCheckOptions o = Options("/slow");
  o.check.timeout = absl::Milliseconds(500);
  CheckResult r = RunCheckOnce(*Make(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message,
              ::testing::ContainsRegex(
                  "timed out after 4[0-9][0-9]ms waiting for a reply"));
  EXPECT_EQ(r.details["reason"], "timed_out");
}

TEST(HttpCheckNetTest, RefusedWhenNothingListens) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok());
  HttpCheckOptions o;
  o.url = absl::StrCat("http://127.0.0.1:", *port, "/");
  CheckResult r = RunCheckOnce(*HttpCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("connection refused"));
  EXPECT_EQ(r.details["reason"], "refused");
}

TEST(HttpCheckNetTest, WorksOverIpv6) {
  TestHttpServerOptions so;
  so.host = "::1";
  auto server = TestHttpServer::Start(
      [](httplib::Server& s) {
        s.Get("/", [](const httplib::Request&, httplib::Response& r) {
          r.set_content("v6", "text/plain");
        });
      },
      so);
  VIGIL_REQUIRE_OR_SKIP(server.ok(), "no IPv6 loopback: " << server.status());
  HttpCheckOptions o;
  o.url = (*server)->Url("/");
  o.expected_body = "v6";
  CheckResult r = RunCheckOnce(*HttpCheck(o));
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["address"], (*server)->address());
}

TEST(HttpCheckConfigTest, RejectsBadInputNamingTheField) {
  struct Case {
    HttpCheckOptions options;
    const char* field;
  };
  std::vector<Case> cases;
  auto add = [&](std::function<void(HttpCheckOptions&)> f, const char* field) {
    HttpCheckOptions o;
    o.url = "http://127.0.0.1:8080/";
    f(o);
    cases.push_back({o, field});
  };
  add([](HttpCheckOptions& o) { o.url = ""; }, "url");
  add([](HttpCheckOptions& o) { o.url = "127.0.0.1:8080/"; }, "url");
  add([](HttpCheckOptions& o) { o.url = "http://bad host/"; }, "url");
  add([](HttpCheckOptions& o) { o.url = "http://host:70000/"; }, "url");
  add([](HttpCheckOptions& o) { o.min_status = 500, o.max_status = 400; },
      "min_status");
  add([](HttpCheckOptions& o) { o.max_status = 1000; }, "max_status");
  add(
      [](HttpCheckOptions& o) {
        o.method = HttpMethod::kHead;
        o.expected_body = "x";
      },
      "expected_body");
  add([](HttpCheckOptions& o) { o.expected_header = "Bad Header"; },
      "expected_header");
  add([](HttpCheckOptions& o) { o.expected_header_value = "x"; },
      "expected_header_value");
  add(
      [](HttpCheckOptions& o) {
        o.request_headers = {{"X:y", "v"}};
      },
      "request_headers");
  add([](HttpCheckOptions& o) { o.max_body_bytes = 0; }, "max_body_bytes");
  add(
      [](HttpCheckOptions& o) {
        o.url = "https://127.0.0.1/";
        o.ca_file = "/nonexistent/ca.pem";
      },
      "ca_file");
  add([](HttpCheckOptions& o) { o.ca_file = "/etc/hostname"; }, "ca_file");
  for (const Case& c : cases) {
    absl::StatusOr<Check> check = HttpCheck(c.options);
    EXPECT_EQ(check.status().code(), absl::StatusCode::kInvalidArgument)
        << c.field;
    EXPECT_THAT(check.status().message(), HasSubstr(c.field));
  }
  // A header value with CR/LF is rejected without echoing the (secret) value.
  HttpCheckOptions o;
  o.url = "http://127.0.0.1:8080/";
  o.request_headers = {{"Authorization", "Bearer abc\r\nX-Evil: 1"}};
  absl::StatusOr<Check> check = HttpCheck(o);
  EXPECT_EQ(check.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(check.status().message(), HasSubstr("request_headers"));
  EXPECT_THAT(check.status().message(), Not(HasSubstr("Bearer abc")));
}

// --- HTTPS -------------------------------------------------------------------

class HttpsCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = TestCa::Create();
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    auto dir = ScopedTempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_ = *std::move(dir);
    ca_file_ = dir_->path() + "/ca.pem";
    ASSERT_TRUE(vigil::testing::WriteFile(ca_file_, ca_->cert_pem()).ok());
  }

  std::unique_ptr<TestHttpServer> Serve(const KeyAndCert& kc) {
    TestHttpServerOptions so;
    so.cert_chain_pem = kc.cert_pem;
    so.key_pem = kc.key_pem;
    auto server = TestHttpServer::Start(
        [](httplib::Server& s) {
          s.Get("/healthz", [](const httplib::Request&, httplib::Response& r) {
            r.set_content("ok", "text/plain");
          });
        },
        so);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  CheckResult Probe(TestHttpServer& server, bool verify = true,
                    bool with_ca = true) {
    HttpCheckOptions o;
    o.url = server.Url("/healthz");
    o.verify_tls = verify;
    if (with_ca) o.ca_file = ca_file_;
    o.expected_body = "ok";
    absl::StatusOr<Check> c = HttpCheck(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return RunCheckOnce(*c);
  }

  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<ScopedTempDir> dir_;
  std::string ca_file_;
};

TEST_F(HttpsCheckTest, HealthyWithAValidCertificateAndCaFile) {
  auto kc = ca_->Issue(CertSpec());
  ASSERT_TRUE(kc.ok()) << kc.status();
  auto server = Serve(*kc);
  ASSERT_NE(server, nullptr);
  CheckResult r = Probe(*server);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["status_code"], "200");
}

TEST_F(HttpsCheckTest, UntrustedIssuerFailsVerificationByDefault) {
  auto kc = ca_->Issue(CertSpec());
  ASSERT_TRUE(kc.ok());
  auto server = Serve(*kc);
  ASSERT_NE(server, nullptr);
  // System trust store only: the test CA is unknown.
  CheckResult r = Probe(*server, /*verify=*/true, /*with_ca=*/false);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("TLS certificate verification failed"));
  EXPECT_THAT(r.message, HasSubstr("local issuer"));
  EXPECT_EQ(r.details["reason"], "tls_verify");
}

TEST_F(HttpsCheckTest, SelfSignedCertificateFailsVerification) {
  auto kc = testing::SelfSigned(CertSpec());
  ASSERT_TRUE(kc.ok());
  auto server = Serve(*kc);
  ASSERT_NE(server, nullptr);
  CheckResult r = Probe(*server);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("self-signed certificate"));
  EXPECT_EQ(r.details["reason"], "tls_verify");
  // Verification off: accepted.
  EXPECT_EQ(Probe(*server, /*verify=*/false).status, Status::kHealthy);
}

TEST_F(HttpsCheckTest, ExpiredCertificateFailsVerification) {
  CertSpec spec;
  spec.not_before = absl::Now() - absl::Hours(48);
  spec.not_after = absl::Now() - absl::Hours(24);
  auto kc = ca_->Issue(spec);
  ASSERT_TRUE(kc.ok());
  auto server = Serve(*kc);
  ASSERT_NE(server, nullptr);
  CheckResult r = Probe(*server);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("certificate has expired"));
  EXPECT_EQ(Probe(*server, /*verify=*/false).status, Status::kHealthy);
}

TEST_F(HttpsCheckTest, WrongHostFailsVerification) {
  CertSpec spec;
  spec.common_name = "other.example";
  spec.dns_names = {"other.example"};
  spec.ip_addresses = {"10.9.9.9"};
  auto kc = ca_->Issue(spec);
  ASSERT_TRUE(kc.ok());
  auto server = Serve(*kc);
  ASSERT_NE(server, nullptr);
  CheckResult r = Probe(*server);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("mismatch"));
  EXPECT_EQ(r.details["reason"], "tls_verify");
}

TEST_F(HttpsCheckTest, HttpsAgainstAPlainServerIsAHandshakeError) {
  auto server = TestHttpServer::Start([](httplib::Server& s) {
    s.Get("/healthz", [](const httplib::Request&, httplib::Response& r) {
      r.set_content("ok", "text/plain");
    });
  });
  ASSERT_TRUE(server.ok());
  HttpCheckOptions o;
  o.url = absl::StrCat("https://127.0.0.1:", (*server)->port(), "/healthz");
  o.ca_file = ca_file_;
  CheckResult r = RunCheckOnce(*HttpCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "tls_handshake") << r.message;
}

}  // namespace
}  // namespace checks
}  // namespace vigil
