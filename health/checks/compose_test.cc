#include "health/checks/compose.h"

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/run_check.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::vigil::checks::testing::RunCheckOnce;

// A child whose result the test sets, recording the deadline it was given.
struct Fake {
  Status status = Status::kHealthy;
  std::string message = "fine";
  int runs = 0;
  absl::Time deadline;
  Check Make(const std::string& name, bool critical = true,
             absl::Duration timeout = absl::Seconds(5)) {
    Check c;
    c.name = name;
    c.options.critical = critical;
    c.options.timeout = timeout;
    c.function = [this](const CheckContext& ctx) {
      ++runs;
      deadline = ctx.deadline;
      CheckResult r;
      r.status = status;
      r.message = message;
      return r;
    };
    return c;
  }
};

TEST(AllOfTest, WorstOfCriticalChildrenNonCriticalOnlyDegrades) {
  Fake a, b, c;
  absl::StatusOr<Check> all =
      AllOf("storage", {a.Make("a"), b.Make("b"), c.Make("c", false)});
  ASSERT_TRUE(all.ok()) << all.status();
  CheckResult r = RunCheckOnce(*all);
  EXPECT_EQ(r.status, Status::kHealthy);
  EXPECT_EQ(r.message, "3 of 3 passing");

  c.status = Status::kUnhealthy;
  c.message = "down";
  r = RunCheckOnce(*all);
  EXPECT_EQ(r.status, Status::kDegraded);
  EXPECT_EQ(r.message, "1 of 3 failing: c: down");
  EXPECT_EQ(r.details["c.status"], "unhealthy");
  EXPECT_EQ(r.details["a.status"], "healthy");

  b.status = Status::kDegraded;
  b.message = "slow";
  a.status = Status::kUnhealthy;
  a.message = "connection refused";
  r = RunCheckOnce(*all);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message,
            "3 of 3 failing: a: connection refused; b: slow; c: down");
  EXPECT_EQ(a.runs, 3);
  EXPECT_EQ(c.runs, 3);
}

TEST(AllOfTest, ThrowingAndUnknownChildrenCountAsUnhealthy) {
  Check thrower;
  thrower.name = "t";
  thrower.function = [](const CheckContext&) -> CheckResult {
    throw std::runtime_error("kaput");
  };
  Check silent;
  silent.name = "s";
  silent.function = [](const CheckContext&) { return CheckResult(); };
  absl::StatusOr<Check> all = AllOf("x", {thrower, silent});
  ASSERT_TRUE(all.ok());
  CheckResult r = RunCheckOnce(*all);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(
      r.message,
      "2 of 2 failing: t: check threw: kaput; s: check returned no status");
}

TEST(AllOfTest, ChildrenGetTheEarlierOfTheirTimeoutAndTheDeadline) {
  Fake a, b;
  CheckOptions o = DependencyCheckOptions();
  o.timeout = absl::Seconds(3);
  absl::StatusOr<Check> all = AllOf("x",
                                    {a.Make("a", true, absl::Seconds(1)),
                                     b.Make("b", true, absl::Seconds(10))},
                                    o);
  ASSERT_TRUE(all.ok());
  vigil::testing::FakeClock clock;
  RunCheckOnce(*all, &clock);
  EXPECT_EQ(a.deadline, clock.Now() + absl::Seconds(1));
  EXPECT_EQ(b.deadline, clock.Now() + absl::Seconds(3));
}

TEST(AnyOfTest, FirstHealthyWinsAndLaterChildrenAreSkipped) {
  Fake a, b, c;
  absl::StatusOr<Check> any =
      AnyOf("search", {a.Make("a"), b.Make("b"), c.Make("c")});
  ASSERT_TRUE(any.ok());
  a.status = Status::kUnhealthy;
  a.message = "refused";
  CheckResult r = RunCheckOnce(*any);
  EXPECT_EQ(r.status, Status::kHealthy);
  EXPECT_EQ(r.message, "b: fine");
  EXPECT_EQ(c.runs, 0);

  b.status = Status::kDegraded;
  b.message = "slow";
  c.status = Status::kUnhealthy;
  c.message = "timed out";
  r = RunCheckOnce(*any);
  EXPECT_EQ(r.status, Status::kDegraded);
  EXPECT_EQ(r.message, "b: slow");

  b.status = Status::kUnhealthy;
  b.message = "refused too";
  r = RunCheckOnce(*any);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message,
            "all 3 failing: a: refused; b: refused too; c: timed out");
}

TEST(ComposeTest, RejectsBadInput) {
  Fake a;
  EXPECT_THAT(AllOf("x", {}).status().message(), HasSubstr("checks"));
  EXPECT_THAT(AnyOf("x", {a.Make("a"), a.Make("a")}).status().message(),
              HasSubstr("duplicate"));
  Check nameless = a.Make("");
  EXPECT_EQ(AllOf("x", {nameless}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(AllOf("bad name", {a.Make("a")}).status().message(),
              HasSubstr("check name"));
}

TEST(ComposeTest, KindIsRaisedToDependencyForLivenessRules) {
  Fake a;
  Check dep = a.Make("db");
  dep.options.kind = CheckKind::kDependency;
  CheckOptions o;  // kSelf
  o.groups = {"liveness"};
  // A composite containing a dependency may not sneak into liveness.
  EXPECT_EQ(AllOf("x", {dep}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.groups = {"readiness"};
  absl::StatusOr<Check> all = AllOf("x", {dep}, o);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->options.kind, CheckKind::kDependency);
}

TEST(NonCriticalTest, FailingNonCriticalCheckDegradesTheGroup) {
  vigil::testing::FakeClock clock;
  RegistryOptions ro;
  ro.clock = &clock;
  HealthRegistry registry(ro);
  Fake a;
  a.status = Status::kUnhealthy;
  a.message = "down";
  Check soft = NonCritical(a.Make("recommendations"));
  EXPECT_FALSE(soft.options.critical);
  ASSERT_TRUE(registry.Register(soft).ok());
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  EXPECT_EQ(registry.GroupStatus(kReadiness), Status::kDegraded);
}

}  // namespace
}  // namespace checks
}  // namespace vigil
