#include "health/checks/self_probe.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/http_server.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/run_check.h"
#include "health/sync.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::vigil::checks::testing::RunCheckOnce;
using ::vigil::checks::testing::TestHttpServer;

TEST(SelfProbeTest, DefaultsToLivenessAndKindSelf) {
  SelfProbeCheckOptions o;
  o.port = 8080;
  absl::StatusOr<Check> c = SelfProbeCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "self-probe");
  EXPECT_EQ(c->options.kind, CheckKind::kSelf);
  EXPECT_THAT(c->options.groups, ::testing::ElementsAre("liveness"));
}

TEST(SelfProbeTest, HttpPathOnTheServicesOwnServer) {
  Notification release;
  auto server = TestHttpServer::Start([&](httplib::Server& s) {
    s.Get("/ping", [](const httplib::Request&, httplib::Response& r) {
      r.set_content("pong", "text/plain");
    });
    s.Get("/stuck", [&](const httplib::Request&, httplib::Response& r) {
      release.WaitForNotificationWithTimeout(absl::Seconds(20));
      r.set_content("late", "text/plain");
    });
  });
  ASSERT_TRUE(server.ok());
  SelfProbeCheckOptions o;
  o.port = (*server)->port();
  o.path = "/ping";
  CheckResult r = RunCheckOnce(*SelfProbeCheck(o));
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["status_code"], "200");

  o.path = "/nope";
  r = RunCheckOnce(*SelfProbeCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "HTTP 404 (expected 200-399)");

  // A serving thread that hangs: the probe times out.
  o.path = "/stuck";
  o.check.timeout = absl::Milliseconds(400);
  r = RunCheckOnce(*SelfProbeCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "timed_out");
  release.Notify();
}

TEST(SelfProbeTest, DeadPortIsRefusedAndADeafOneTimesOut) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok());
  SelfProbeCheckOptions o;
  o.port = *port;
  CheckResult r = RunCheckOnce(*SelfProbeCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "refused");

  // The listener exists but its accept queue is full: "online" yet deaf.
  auto deaf = testing::FullBacklogListener::Start();
  ASSERT_TRUE(deaf.ok()) << deaf.status();
  o.port = (*deaf)->port();
  o.check.timeout = absl::Milliseconds(400);
  r = RunCheckOnce(*SelfProbeCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "timed_out");
}

TEST(SelfProbeTest, PortFnIsReadOnEveryRun) {
  std::atomic<int> port{0};
  SelfProbeCheckOptions o;
  o.port_fn = [&] { return port.load(); };
  absl::StatusOr<Check> c = SelfProbeCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "not listening yet (port 0)");

  auto listener = testing::SilentListener::Start();
  ASSERT_TRUE(listener.ok());
  port = (*listener)->port();
  r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["address"], absl::StrCat("127.0.0.1:", port.load()));
}

TEST(SelfProbeTest, RejectsBadInputNamingTheField) {
  auto expect = [](const SelfProbeCheckOptions& o, const char* field) {
    absl::StatusOr<Check> c = SelfProbeCheck(o);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(c.status().message(), HasSubstr(field));
  };
  SelfProbeCheckOptions o;
  expect(o, "port");
  o.port = 70000;
  expect(o, "port");
  o.port = 80;
  o.host = "not a host";
  expect(o, "host");
  o.host = "127.0.0.1";
  o.path = "ping";
  expect(o, "path");
  o.path = "/ping";
  o.min_status = 600;
  o.max_status = 500;
  expect(o, "min_status");
}

}  // namespace
}  // namespace checks
}  // namespace vigil
