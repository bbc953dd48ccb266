// A real /metrics answer passes `promtool check metrics` (Prometheus' own
// parser and linter). Skips when promtool is absent, except under CI.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/endpoints.h"
#include "health/http/probe_server.h"
#include "health/testing/fake_clock.h"
#include "health/testing/require.h"
#include "httplib.h"

namespace vigil {
namespace http {
namespace {

using ::testing::HasSubstr;

struct ToolResult {
  int exit_code = -1;
  std::string output;
};

// Runs `promtool check metrics` on `exposition`.
ToolResult Promtool(const std::string& exposition) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/metrics.txt");
  std::ofstream(path) << exposition;
  ToolResult r;
  FILE* p = popen(
      absl::StrCat("promtool check metrics < ", path, " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool HavePromtool() {
  return std::system("command -v promtool >/dev/null") == 0;
}

class PromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(HavePromtool(),
                          "promtool not installed (Debian package "
                          "prometheus; scripts/setup.sh installs it)");
  }
};

TEST_F(PromtoolTest, ControlPromtoolRejectsABadExposition) {
  ToolResult bad = Promtool(
      "# HELP bad_requests Requests.\n# TYPE bad_requests counter\n"
      "bad_requests{path=\"a} 1\n");
  EXPECT_NE(bad.exit_code, 0) << bad.output;
}

TEST_F(PromtoolTest, RealMetricsAnswerPasses) {
  testing::FakeClock clock;
  RegistryOptions ro;
  ro.clock = &clock;
  ro.service.name = "svc \"quoted\"";
  ro.service.version = "1.0\\beta";
  HealthRegistry registry(ro);
  auto add = [&](const std::string& name, std::vector<std::string> groups,
                 CheckResult result, bool critical) {
    Check c;
    c.name = name;
    c.options.groups = std::move(groups);
    c.options.critical = critical;
    c.function = [result](const CheckContext&) { return result; };
    ASSERT_TRUE(registry.Register(std::move(c)).ok());
  };
  CheckResult disk = CheckResult::Degraded("91% full");
  disk.observed_value = 0.91;
  disk.observed_unit = "ratio \"of\" capacity\\n";
  disk.warn_threshold = 0.9;
  disk.critical_threshold = 0.97;
  disk.time_to_exhaustion = absl::Minutes(40);
  add("disk:/var/lib/app", {"readiness", "storage"}, disk, true);
  add("loop", {"liveness"}, CheckResult::Healthy(), true);
  add("cache", {"readiness"}, CheckResult::Unhealthy("down"), false);
  add("never-run", {"startup"}, CheckResult::Healthy(), true);
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  ASSERT_TRUE(registry.Unregister("never-run").ok());
  add("never-run", {"startup"}, CheckResult::Healthy(), true);  // UNKNOWN
  clock.Advance(absl::Seconds(3));

  auto endpoints = *HealthEndpoints::Create(&registry);
  endpoints->AddMetricsCollector([](PrometheusWriter& w, bool) {
    w.BeginFamily("app_requests_total", MetricType::kCounter,
                  "Requests by path.\nSecond line \\ backslash.");
    w.Add({{"path", "/a\"b\\c\nd"}, {"method", "GET"}}, 10);
    w.Add({{"path", "/\xC3\xA9t\xC3\xA9"}, {"method", "POST"}}, 2);
    w.Gauge("app_temperature_celsius", "Room temperature.", 21.5);
    w.BeginFamily("app_odd_values", MetricType::kGauge, "Special values.");
    w.Add({{"kind", "nan"}}, std::nan(""));
    w.Add({{"kind", "inf"}}, 1.0 / 0.0);
    w.Add({{"kind", "tiny"}}, 1e-300);
    w.Gauge("app_bad-name", "rejected by the writer", 1);
  });
  auto server = *ProbeServer::Start(endpoints.get());
  httplib::Client c("127.0.0.1", server->port());
  c.set_read_timeout(5, 0);
  httplib::Result r = c.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  // Everything worth linting is in it.
  EXPECT_THAT(r->body, HasSubstr("vigil_check_time_to_exhaustion_seconds"));
  EXPECT_THAT(r->body, HasSubstr("vigil_check_observed_value{"));
  EXPECT_THAT(r->body, HasSubstr("vigil_probe_server_responses_total"));
  EXPECT_THAT(r->body, HasSubstr("state=\"unknown\"} 1"));
  EXPECT_THAT(r->body, HasSubstr("app_odd_values{kind=\"nan\"} NaN"));
  EXPECT_THAT(r->body, HasSubstr("# vigil: invalid metric name"));

  ToolResult lint = Promtool(r->body);
  EXPECT_EQ(lint.exit_code, 0) << lint.output << "\n---\n" << r->body;
  EXPECT_EQ(lint.output, "") << r->body;
}

}  // namespace
}  // namespace http
}  // namespace vigil
