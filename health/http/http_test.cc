// The endpoints over real loopback HTTP, served both ways: by a dedicated
// ProbeServer and mounted on an application's httplib::Server.

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/endpoints.h"
#include "health/http/mount.h"
#include "health/http/probe_server.h"
#include "health/http/testing/http_test_util.h"
#include "health/report.h"
#include "health/testing/fake_clock.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil {
namespace http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

enum class Transport { kDedicated, kMounted };

std::string Name(const ::testing::TestParamInfo<Transport>& info) {
  return info.param == Transport::kDedicated ? "Dedicated" : "Mounted";
}

class HttpTest : public ::testing::TestWithParam<Transport> {
 protected:
  HttpTest() : registry_(Options(&clock_)) {}

  ~HttpTest() override {
    release_.Notify();
    probe_.reset();
    if (app_thread_.joinable()) {
      app_.stop();
      app_thread_.join();
    }
  }

  static RegistryOptions Options(testing::FakeClock* clock) {
    RegistryOptions o;
    o.clock = clock;
    o.service.name = "http-test";
    return o;
  }

  void AddCheck(const std::string& name, std::vector<std::string> groups,
                CheckResult result, bool critical = true) {
    {
      MutexLock lock(&mu_);
      results_[name] = std::move(result);
    }
    Check c;
    c.name = name;
    c.options.groups = std::move(groups);
    c.options.critical = critical;
    c.options.failure_threshold = 1;
    c.options.interval = absl::Seconds(1);
    c.options.timeout = absl::Seconds(2);
    c.function = [this, name](const CheckContext&) {
      MutexLock lock(&mu_);
      return results_[name];
    };
    ASSERT_TRUE(registry_.Register(std::move(c)).ok());
  }

  void AddStandardChecks() {
    AddCheck("loop", {"liveness"}, CheckResult::Healthy("ticking"));
    AddCheck("warm", {"startup"}, CheckResult::Healthy());
    CheckResult up = CheckResult::Healthy("connected to 10.0.0.5:6379");
    up.observed_value = 0.25;
    up.observed_unit = "ratio";
    AddCheck("upstream", {"readiness", "db"}, up);
    AddCheck("disk:/data", {"readiness"}, CheckResult::Healthy("12% used"));
  }

  void SetResult(const std::string& name, CheckResult result) {
    {
      MutexLock lock(&mu_);
      results_[name] = std::move(result);
    }
    clock_.Advance(absl::Seconds(1));
    RunChecks();
  }

  void RunChecks() {
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  }

  // Creates the endpoints and serves them with the test's transport.
  void Serve(EndpointsOptions options = {}, std::string prefix = "") {
    auto e = HealthEndpoints::Create(&registry_, std::move(options));
    ASSERT_TRUE(e.ok()) << e.status();
    endpoints_ = *std::move(e);
    prefix_ = prefix;
    if (GetParam() == Transport::kDedicated) {
      ProbeServerOptions o;
      o.path_prefix = prefix;
      auto s = ProbeServer::Start(endpoints_.get(), o);
      ASSERT_TRUE(s.ok()) << s.status();
      probe_ = *std::move(s);
      port_ = probe_->port();
    } else {
      MountOptions m;
      m.path_prefix = prefix;
      ASSERT_TRUE(MountHealthEndpoints(endpoints_.get(), &app_, m).ok());
      app_.set_tcp_nodelay(true);
      port_ = app_.bind_to_any_port("127.0.0.1");
      ASSERT_GT(port_, 0);
      app_thread_ = std::thread([this] { app_.listen_after_bind(); });
      ASSERT_TRUE(testing::WaitFor([this] { return app_.is_running(); }));
    }
    ASSERT_GT(port_, 0);
  }

  std::unique_ptr<httplib::Client> Client() {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    // A probe's timeout.
    c->set_connection_timeout(1, 0);
    c->set_read_timeout(1, 0);
    c->set_write_timeout(1, 0);
    return c;
  }

  httplib::Result Get(const std::string& path,
                      const httplib::Headers& headers = {}) {
    return Client()->Get((prefix_ + path).c_str(), headers);
  }

  testing::FakeClock clock_;
  HealthRegistry registry_;
  std::unique_ptr<HealthEndpoints> endpoints_;
  std::unique_ptr<ProbeServer> probe_;
  httplib::Server app_;
  std::thread app_thread_;
  int port_ = 0;
  std::string prefix_;
  Notification release_;
  Mutex mu_;
  std::map<std::string, CheckResult> results_ ABSL_GUARDED_BY(mu_);
};

TEST_P(HttpTest, EveryEndpointAndStatusCode) {
  AddStandardChecks();
  Serve();
  // Before any run: not ready, not live (UNKNOWN does not pass).
  for (const char* path : {"/livez", "/readyz", "/startupz", "/healthz"}) {
    httplib::Result r = Get(path);
    ASSERT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 503) << path;
  }
  RunChecks();
  for (const char* path :
       {"/livez", "/readyz", "/startupz", "/healthz", "/dbz",
        "/readyz/upstream", "/livez/loop", "/healthz/disk:/data",
        "/healthz/disk%3A%2Fdata", "/startupz/warm", "/dbz/upstream"}) {
    httplib::Result r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, "ok\n") << path;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store") << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  }
  httplib::Result m = Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(m->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(m->body, HasSubstr("vigil_check_passing{check=\"upstream\"} 1"));

  SetResult("upstream", CheckResult::Unhealthy("connection refused"));
  EXPECT_EQ(Get("/readyz")->status, 503);
  EXPECT_EQ(Get("/readyz")->body, "readyz check failed: upstream\n");
  EXPECT_EQ(Get("/readyz/upstream")->status, 503);
  EXPECT_EQ(Get("/dbz")->status, 503);
  EXPECT_EQ(Get("/healthz")->status, 503);
  EXPECT_EQ(Get("/livez")->status, 200);
  EXPECT_EQ(Get("/readyz/disk:/data")->status, 200);

  httplib::Result unknown = Get("/readyz/nosuch");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->body, "unknown check \"nosuch\" in readyz\n");
  EXPECT_EQ(unknown->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(Get("/nosuchz")->status, 404);
  EXPECT_EQ(Get("/livez/upstream")->status, 404);
  EXPECT_EQ(Get("/nothing/here")->status, 404);
}

TEST_P(HttpTest, JsonAndProtobufDecode) {
  AddStandardChecks();
  Serve();
  RunChecks();
  SetResult("upstream", CheckResult::Unhealthy("connection refused"));

  std::vector<httplib::Result> answers;
  answers.push_back(Get("/readyz", {{"Accept", "application/json"}}));
  answers.push_back(Get("/readyz?format=json"));
  for (httplib::Result& r : answers) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
    absl::StatusOr<v1::HealthReport> report = HealthReportFromJson(r->body);
    ASSERT_TRUE(report.ok()) << report.status() << "\n" << r->body;
    EXPECT_EQ(report->status(), v1::STATUS_UNHEALTHY);
    EXPECT_EQ(report->service().name(), "http-test");
    ASSERT_EQ(report->checks_size(), 2);
    EXPECT_EQ(report->checks(1).name(), "upstream");
    EXPECT_EQ(report->checks(1).message(), "connection refused");
    ASSERT_EQ(report->groups_size(), 1);
    EXPECT_EQ(report->groups(0).name(), "readiness");
  }

  httplib::Result pb = Get("/healthz", {{"Accept", "application/x-protobuf"}});
  ASSERT_TRUE(pb);
  EXPECT_EQ(pb->status, 503);
  EXPECT_EQ(pb->get_header_value("Content-Type"), "application/x-protobuf");
  v1::HealthReport report;
  ASSERT_TRUE(report.ParseFromString(pb->body));
  EXPECT_EQ(report.checks_size(), 4);
  EXPECT_EQ(report.status(), v1::STATUS_UNHEALTHY);
  EXPECT_GE(report.groups_size(), 5);

  httplib::Result bad = Get("/readyz?format=yaml");
  EXPECT_EQ(bad->status, 406);
  EXPECT_THAT(bad->body, HasSubstr("supported formats: text, json, protobuf"));
  httplib::Result malformed =
      Get("/livez", {{"Accept", "application/json;q=banana,,;"}});
  EXPECT_EQ(malformed->status, 200);
  EXPECT_EQ(malformed->body, "ok\n");
}

TEST_P(HttpTest, VerboseAndExclude) {
  AddStandardChecks();
  Serve();
  RunChecks();
  SetResult("upstream", CheckResult::Unhealthy("connection refused"));
  httplib::Result r = Get("/readyz?verbose");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body,
            "[+]disk:/data ok\n"
            "[-]upstream failed: connection refused\n"
            "readyz check failed\n");
  r = Get("/readyz?verbose&exclude=upstream&exclude=nosuch");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "[+]disk:/data ok\n"
            "[+]upstream excluded: ok\n"
            "warn: some health checks cannot be excluded: no matches for "
            "\"nosuch\"\n"
            "readyz check passed\n");
  EXPECT_THAT(r->get_header_value("Vigil-Warning"), HasSubstr("\"nosuch\""));
}

TEST_P(HttpTest, HeadAnswersHeadersOnly) {
  AddStandardChecks();
  Serve();
  RunChecks();
  httplib::Result get = Get("/healthz?format=json");
  httplib::Result head = Client()->Head("/healthz?format=json");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(head->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(head->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(head->get_header_value("Content-Length"),
            std::to_string(get->body.size()));
  SetResult("upstream", CheckResult::Unhealthy("down"));
  EXPECT_EQ(Client()->Head("/readyz")->status, 503);
}

TEST_P(HttpTest, OtherMethodsGet405WithAllow) {
  AddStandardChecks();
  Serve();
  RunChecks();
  auto c = Client();
  std::vector<httplib::Result> answers;
  answers.push_back(c->Post("/readyz"));
  answers.push_back(c->Put("/readyz"));
  answers.push_back(c->Delete("/livez"));
  answers.push_back(c->Patch("/metrics"));
  answers.push_back(c->Post("/readyz/upstream"));
  for (httplib::Result& r : answers) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD, OPTIONS");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  }
  httplib::Result options = c->Options("/readyz");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 204);
  EXPECT_EQ(options->get_header_value("Allow"), "GET, HEAD, OPTIONS");
}

TEST_P(HttpTest, DetailsOnlyForLocalClientsOrTheToken) {
  AddStandardChecks();
  EndpointsOptions o;
  o.bearer_token = "let-me-see";
  // Every client counts as remote, as if it came from another host.
  o.is_local_address = [](absl::string_view addr) {
    return addr == "never-local";
  };
  Serve(o);
  RunChecks();
  CheckResult bad = CheckResult::Unhealthy("auth failed for user=app");
  bad.observed_value = 3;
  bad.observed_unit = "attempts";
  SetResult("upstream", bad);

  httplib::Result anon = Get("/readyz?verbose");
  EXPECT_EQ(anon->status, 503);
  EXPECT_THAT(anon->body, HasSubstr("[-]upstream failed: reason withheld"));
  EXPECT_THAT(anon->body, Not(HasSubstr("user=app")));
  auto json = HealthReportFromJson(Get("/readyz?format=json")->body);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->checks(1).message(), "");
  EXPECT_FALSE(json->checks(1).has_observed_value());
  EXPECT_EQ(json->checks(1).status(), v1::STATUS_UNHEALTHY);
  EXPECT_THAT(Get("/metrics")->body,
              Not(HasSubstr("vigil_check_observed_value")));

  const httplib::Headers token = {{"Authorization", "Bearer let-me-see"}};
  EXPECT_THAT(Get("/readyz?verbose", token)->body,
              HasSubstr("[-]upstream failed: auth failed for user=app"));
  EXPECT_THAT(Get("/metrics", token)->body,
              HasSubstr("vigil_check_observed_value{check=\"upstream\""));
  EXPECT_THAT(Get("/readyz?verbose", {{"Authorization", "Bearer wrong"}})->body,
              Not(HasSubstr("user=app")));
}

TEST_P(HttpTest, LoopbackClientsSeeDetailsByDefault) {
  AddStandardChecks();
  Serve();
  RunChecks();
  EXPECT_THAT(Get("/readyz?verbose")->body, HasSubstr("[+]upstream ok\n"));
  auto json = HealthReportFromJson(Get("/readyz?format=json")->body);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->checks(1).message(), "connected to 10.0.0.5:6379");
  EXPECT_DOUBLE_EQ(json->checks(1).observed_value(), 0.25);
}

TEST_P(HttpTest, DrainFlipsReadinessOnly) {
  AddStandardChecks();
  Serve();
  RunChecks();
  ASSERT_EQ(Get("/readyz")->status, 200);
  registry_.BeginShutdown();
  httplib::Result r = Get("/readyz");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "readyz check failed: shutting down\n");
  EXPECT_EQ(Get("/livez")->status, 200);
  EXPECT_EQ(Get("/healthz")->status, 200);
  EXPECT_THAT(Get("/metrics")->body, HasSubstr("vigil_shutting_down 1\n"));
}

TEST_P(HttpTest, ProbeAnsweredWithinTimeoutWhileACheckHangs) {
  AddStandardChecks();
  Check hung;
  hung.name = "hung";
  hung.options.groups = {"readiness"};
  hung.options.timeout = absl::Seconds(2);
  hung.function = [this](const CheckContext&) {
    release_.WaitForNotificationWithTimeout(absl::Seconds(30));
    return CheckResult::Healthy();
  };
  ASSERT_TRUE(registry_.Register(std::move(hung)).ok());
  Serve();
  registry_.RunOnceForTest();  // "hung" now blocks a registry worker.
  // The other checks' results are recorded on the workers: wait for them
  // (WaitUntilIdleForTest would wait for "hung" too).
  ASSERT_TRUE(testing::WaitFor([this] {
    return registry_.snapshot()->FindCheck("loop")->result.status ==
           Status::kHealthy;
  }));

  // Clients time out after 1 s: an answer at all is the assertion.
  httplib::Result r = Get("/readyz?verbose");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 503);
  EXPECT_THAT(r->body, HasSubstr("[-]hung failed: not evaluated yet"));
  ASSERT_TRUE(Get("/livez"));
  EXPECT_EQ(Get("/livez")->status, 200);

  clock_.Advance(absl::Seconds(3));
  registry_.RunOnceForTest();  // declares the timeout
  r = Get("/readyz?verbose");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_THAT(r->body, HasSubstr("[-]hung failed: timed out after 2s"));
  EXPECT_THAT(Get("/metrics")->body,
              HasSubstr("vigil_check_timed_out{check=\"hung\"} 1\n"));

  release_.Notify();
  // The late result is applied when the stuck run finally returns.
  ASSERT_TRUE(testing::WaitFor([this] {
    return registry_.snapshot()->FindCheck("hung")->result.status ==
           Status::kHealthy;
  }));
  r = Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(HttpTest, PathPrefix) {
  AddStandardChecks();
  Serve({}, "/internal/health");
  RunChecks();
  EXPECT_EQ(Get("/readyz")->status, 200);  // Get() adds the prefix
  EXPECT_EQ(Get("/metrics")->status, 200);
  EXPECT_EQ(Get("/dbz/upstream")->status, 200);
  EXPECT_EQ(Client()->Get("/readyz")->status, 404);
  EXPECT_EQ(Client()->Get("/internal/readyz")->status, 404);
}

INSTANTIATE_TEST_SUITE_P(Transports, HttpTest,
                         ::testing::Values(Transport::kDedicated,
                                           Transport::kMounted),
                         Name);

}  // namespace
}  // namespace http
}  // namespace vigil
