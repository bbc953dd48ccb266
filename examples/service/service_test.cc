// Integration tests: the example service binary as a real process, probed
// over loopback HTTP.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "examples/service/testing/service_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/testing/http_test_util.h"
#include "health/testing/upstream.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil_example {
namespace {

using ::testing::HasSubstr;
using testing::ServiceProcess;
using vigil::testing::Upstream;
using vigil::testing::WaitFor;

// GET with a probe's one-second timeouts. Status 0 when there is no answer.
struct Answer {
  int status = 0;
  std::string body;
};

Answer Probe(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(1, 0);
  c.set_write_timeout(1, 0);
  httplib::Result r = c.Get(path.c_str());
  if (!r) return {};
  return {r->status, r->body};
}

class ServiceTest : public ::testing::Test {
 protected:
  void StartService(std::vector<std::string> args) {
    auto s = ServiceProcess::Start(args);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = *std::move(s);
  }

  bool WaitForProbe(const std::string& path, int status,
                    absl::Duration timeout = absl::Seconds(30)) {
    return WaitFor(
        [&] { return Probe(service_->probe_port(), path).status == status; },
        timeout);
  }

  Upstream upstream_;
  std::unique_ptr<ServiceProcess> service_;
};

// --help lists the service's own flags (absl's default lists only flags
// of files named after the binary: "No flags matched").
TEST(ServiceHelpTest, HelpListsTheServicesOwnFlags) {
  const std::string command = ServiceProcess::BinaryPath() + " --help 2>&1";
  FILE* out = popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string help;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), out)) > 0;)
    help.append(buf, n);
  pclose(out);
  EXPECT_THAT(help, HasSubstr("--upstream"));
  EXPECT_THAT(help, HasSubstr("--handler_deadline"));
  EXPECT_THAT(help, HasSubstr("--supervise"));
  EXPECT_THAT(help, ::testing::Not(HasSubstr("No flags matched")));
}

TEST_F(ServiceTest, PrintsTheUrlsAndACurlLinePerFormat) {
  StartService({"--warmup=0s", "--upstream=" + upstream_.address()});
  const std::string probe =
      absl::StrCat("http://127.0.0.1:", service_->probe_port());
  const std::string out = service_->Output();
  EXPECT_THAT(out, HasSubstr("curl -i " + probe + "/livez"));
  EXPECT_THAT(out, HasSubstr("curl -i " + probe + "/readyz"));
  EXPECT_THAT(out, HasSubstr("curl -i " + probe + "/startupz"));
  EXPECT_THAT(out, HasSubstr("curl '" + probe + "/healthz?verbose'"));
  EXPECT_THAT(out, HasSubstr("-H 'Accept: application/json' " + probe));
  EXPECT_THAT(out, HasSubstr("-H 'Accept: application/x-protobuf' " + probe));
  EXPECT_THAT(out, HasSubstr("curl " + probe + "/metrics"));
  EXPECT_THAT(out, HasSubstr("Status page: " + probe + "/statusz"));
  EXPECT_THAT(out, HasSubstr(absl::StrCat(
                       "http://127.0.0.1:", service_->app_port(), "/work")));
  // And they answer. /healthz covers liveness's checks too, whose first
  // runs may complete after readiness's: wait for each.
  ASSERT_TRUE(WaitForProbe("/readyz", 200));
  EXPECT_TRUE(WaitForProbe("/healthz?format=json", 200));
  EXPECT_EQ(Probe(service_->app_port(), "/health/readyz").status, 200);
}

TEST_F(ServiceTest, ProbesAnsweredWhileTheApplicationThreadsAreAllBusy) {
  StartService(
      {"--warmup=0s", "--app_threads=2", "--upstream=" + upstream_.address()});
  ASSERT_TRUE(WaitForProbe("/readyz", 200));
  // Occupy both application threads with CPU work, plus two more requests
  // queued behind them.
  std::vector<std::thread> clients;
  std::atomic<int> done{0};
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([this, &done] {
      httplib::Client c("127.0.0.1", service_->app_port());
      c.set_read_timeout(60, 0);
      c.Get("/work?ms=4000");
      done.fetch_add(1);
    });
  }
  const bool saturated = WaitFor(
      [this] {
        return absl::StrContains(Probe(service_->probe_port(), "/metrics").body,
                                 "example_app_busy_threads 2\n");
      },
      absl::Seconds(20));
  EXPECT_TRUE(saturated) << "application threads never all busy";
  // Every probe answers within its 1 s timeout meanwhile.
  int answered = 0;
  for (int i = 0; i < 200 && done.load() == 0; ++i) {
    const Answer ready = Probe(service_->probe_port(), "/readyz");
    const Answer live = Probe(service_->probe_port(), "/livez");
    EXPECT_EQ(ready.status, 200) << "probe " << i;
    EXPECT_EQ(live.status, 200) << "probe " << i;
    answered += ready.status == 200 && live.status == 200;
  }
  EXPECT_GT(answered, 0);
  for (std::thread& t : clients) t.join();
}

TEST_F(ServiceTest, CriticalDependencyDownFailsReadinessOnly) {
  Upstream closed;
  closed.Close();  // Refused from now on.
  StartService({"--warmup=0s", "--upstream=" + closed.address()});
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(
            Probe(service_->probe_port(), "/readyz?verbose").body,
            "connection refused");
      },
      absl::Seconds(30)));
  const Answer ready = Probe(service_->probe_port(), "/readyz?verbose");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("[-]upstream failed: connection refused (" +
                                    closed.address() + ")\n"));
  EXPECT_EQ(Probe(service_->probe_port(), "/readyz/upstream").status, 503);
  EXPECT_TRUE(WaitForProbe("/livez", 200));
  EXPECT_TRUE(WaitForProbe("/startupz", 200));
}

TEST_F(ServiceTest, SigtermDrainsThenExits) {
  StartService(
      {"--warmup=0s", "--drain_delay=5s", "--upstream=" + upstream_.address()});
  ASSERT_TRUE(WaitForProbe("/readyz", 200));
  service_->Signal(SIGTERM);
  ASSERT_TRUE(WaitForProbe("/readyz", 503, absl::Seconds(10)));
  // Draining: not ready, but alive and still serving the application.
  EXPECT_EQ(Probe(service_->probe_port(), "/readyz").body,
            "readyz check failed: shutting down\n");
  EXPECT_EQ(Probe(service_->probe_port(), "/livez").status, 200);
  EXPECT_EQ(Probe(service_->app_port(), "/").status, 200);
  EXPECT_EQ(Probe(service_->app_port(), "/health/readyz").status, 503);
  EXPECT_EQ(service_->WaitForExit(absl::Seconds(30)), 0) << service_->Output();
  EXPECT_THAT(service_->Output(), HasSubstr("draining"));
}

// A main loop that stops beating fails liveness within its deadline, with
// the loop's stack in the log, while readiness is left to its own checks;
// when the loop beats again liveness recovers without a restart.
TEST_F(ServiceTest, HungMainLoopFailsLivenessWithItsStackThenRecovers) {
  StartService({"--warmup=0s", "--upstream=" + upstream_.address(),
                // Unsupervised: the supervisor would replace the hung
                // process (deployment_test); here it recovers in place.
                "--supervise=false", "--main_loop_deadline=1s",
                "--simulate_hang_after=1s", "--simulate_hang_for=6s"});
  ASSERT_TRUE(WaitForProbe("/livez", 200));
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(service_->Output(),
                                 "simulating a hang of the main loop");
      },
      absl::Seconds(10)));
  // Deadline 1 s + the watchdog's tick + the liveness check's 1 s interval.
  ASSERT_TRUE(WaitForProbe("/livez", 503, absl::Seconds(5)))
      << service_->Output();
  const Answer live = Probe(service_->probe_port(), "/livez?verbose");
  EXPECT_EQ(live.status, 503);
  EXPECT_THAT(live.body,
              HasSubstr("[-]watchdog failed: heartbeat \"main-loop\""));
  const std::string log = service_->Output();
  EXPECT_THAT(log, HasSubstr("LONG MISS heartbeat \"main-loop\""));
  EXPECT_THAT(log, HasSubstr("stack of thread"));
  EXPECT_THAT(Probe(service_->probe_port(), "/metrics").body,
              HasSubstr("vigil_watchdog_events_total{event=\"kill\"} 1\n"));
  // The application's threads are not the main loop: still serving.
  EXPECT_EQ(Probe(service_->app_port(), "/").status, 200);
  // The hang ends; liveness recovers in the same process.
  ASSERT_TRUE(WaitForProbe("/livez", 200, absl::Seconds(15)))
      << service_->Output();
  EXPECT_THAT(service_->Output(),
              HasSubstr("RECOVERED heartbeat \"main-loop\""));
  EXPECT_FALSE(service_->WaitForExit(absl::ZeroDuration()).has_value());
}

}  // namespace
}  // namespace vigil_example
