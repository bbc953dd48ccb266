#include "health/checks/tcp.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/run_check.h"
#include "health/testing/require.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::vigil::checks::testing::RunCheckOnce;

absl::StatusOr<Check> Tcp(const std::string& address,
                          absl::Duration timeout = absl::Seconds(5)) {
  TcpCheckOptions o;
  o.address = address;
  o.check.timeout = timeout;
  return TcpCheck(o);
}

TEST(TcpCheckTest, HasDependencyDefaults) {
  absl::StatusOr<Check> c = Tcp("127.0.0.1:6379");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "tcp:127.0.0.1:6379");
  EXPECT_EQ(c->options.kind, CheckKind::kDependency);
  EXPECT_THAT(c->options.groups, ::testing::ElementsAre("readiness"));
  EXPECT_TRUE(c->options.critical);
  EXPECT_TRUE(ValidateCheck(*c).ok());
}

TEST(TcpCheckTest, RejectsBadInputNamingTheField) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:0", "bad host:1",
                          "::1:80", "127.0.0.1:99999"}) {
    absl::StatusOr<Check> c = Tcp(bad);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(c.status().message(), HasSubstr("address")) << bad;
  }
  TcpCheckOptions o;
  o.address = "127.0.0.1:1";
  o.check.groups = {"liveness"};  // A dependency may not join liveness.
  EXPECT_EQ(TcpCheck(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TcpCheckTest, HealthyWhenSomethingListens) {
  auto listener = testing::SilentListener::Start();
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<Check> c =
      Tcp(absl::StrCat("127.0.0.1:", (*listener)->port()));
  ASSERT_TRUE(c.ok());
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("connected to 127.0.0.1:"));
  EXPECT_EQ(r.observed_unit, "seconds");
  ASSERT_TRUE(r.observed_value.has_value());
  EXPECT_GE(*r.observed_value, 0.0);
  EXPECT_EQ(r.details["address"],
            absl::StrCat("127.0.0.1:", (*listener)->port()));
  EXPECT_TRUE(r.details.count("latency_ms"));
}

TEST(TcpCheckTest, HealthyOverIpv6) {
  auto listener = testing::SilentListener::Start("::1");
  VIGIL_REQUIRE_OR_SKIP(listener.ok(),
                        "no IPv6 loopback: " << listener.status());
  absl::StatusOr<Check> c = Tcp(absl::StrCat("[::1]:", (*listener)->port()));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, absl::StrCat("tcp:::1:", (*listener)->port()));
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["address"], absl::StrCat("[::1]:", (*listener)->port()));
}

TEST(TcpCheckTest, ResolvesNames) {
  auto listener = testing::SilentListener::Start();
  ASSERT_TRUE(listener.ok());
  TcpCheckOptions o;
  o.address = absl::StrCat("localhost:", (*listener)->port());
  o.family = AddressFamily::kIpv4;
  absl::StatusOr<Check> c = TcpCheck(o);
  ASSERT_TRUE(c.ok());
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["address"],
            absl::StrCat("127.0.0.1:", (*listener)->port()));
}

TEST(TcpCheckTest, RefusedWhenNothingListens) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok());
  absl::StatusOr<Check> c = Tcp(absl::StrCat("127.0.0.1:", *port));
  ASSERT_TRUE(c.ok());
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("connection refused"));
  EXPECT_EQ(r.details["reason"], "refused");
  EXPECT_EQ(r.details["target"], absl::StrCat("127.0.0.1:", *port));
}

TEST(TcpCheckTest, TimedOutWhenTheServerDoesNotAnswer) {
  auto listener = testing::FullBacklogListener::Start();
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<Check> c = Tcp(absl::StrCat("127.0.0.1:", (*listener)->port()),
                                absl::Milliseconds(500));
  ASSERT_TRUE(c.ok());
  const absl::Time start = absl::Now();
  CheckResult r = RunCheckOnce(*c);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, ::testing::ContainsRegex(
                             "timed out after 4[0-9][0-9]ms connecting to"));
  EXPECT_EQ(r.details["reason"], "timed_out");
  // Bounded by the check's deadline (generous upper bound: not a timing
  // assertion, a "did not hang" one).
  EXPECT_LT(took, absl::Seconds(5));
}

TEST(TcpCheckTest, UnreachableWhenThereIsNoRoute) {
  // TCP to the broadcast address fails with ENETUNREACH before any packet
  // leaves the host.
  absl::StatusOr<Check> c = Tcp("255.255.255.255:80");
  ASSERT_TRUE(c.ok());
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("unreachable"));
  EXPECT_EQ(r.details["reason"], "unreachable");
}

}  // namespace
}  // namespace checks
}  // namespace vigil
