#include "health/check.h"

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/snapshot.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;

Check Valid() {
  Check c;
  c.name = "db";
  c.function = [](const CheckContext&) { return CheckResult::Healthy(); };
  return c;
}

TEST(ValidateCheckTest, AcceptsDefaults) {
  EXPECT_TRUE(ValidateCheck(Valid()).ok());
}

TEST(ValidateCheckTest, RejectsEmptyName) {
  Check c = Valid();
  c.name = "";
  absl::Status s = ValidateCheck(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("check name"));
}

TEST(ValidateCheckTest, RejectsMalformedName) {
  Check c = Valid();
  c.name = "has space";
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("only letters"));
  c.name = std::string(200, 'a');
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("longer than"));
}

TEST(ValidateCheckTest, RejectsMissingFunction) {
  Check c = Valid();
  c.function = nullptr;
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("function"));
}

TEST(ValidateCheckTest, RejectsNonPositiveIntervalAndTimeout) {
  Check c = Valid();
  c.options.interval = absl::ZeroDuration();
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("interval"));
  c = Valid();
  c.options.timeout = -absl::Seconds(1);
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("timeout"));
  c = Valid();
  c.options.initial_delay = -absl::Seconds(1);
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("initial_delay"));
}

TEST(ValidateCheckTest, RejectsThresholdsBelowOne) {
  Check c = Valid();
  c.options.failure_threshold = 0;
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("failure_threshold"));
  c = Valid();
  c.options.success_threshold = -3;
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("success_threshold"));
}

TEST(ValidateCheckTest, RejectsBadGroups) {
  Check c = Valid();
  c.options.groups = {};
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("groups"));
  c.options.groups = {"Readiness"};
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("lowercase"));
  c.options.groups = {"all"};
  EXPECT_THAT(ValidateCheck(c).message(), HasSubstr("reserved"));
}

TEST(ValidateCheckTest, DependencyInLivenessNeedsOverride) {
  Check c = Valid();
  c.options.kind = CheckKind::kDependency;
  c.options.groups = {"liveness"};
  absl::Status s = ValidateCheck(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("dependency check may not be part of "
                                     "liveness"));
  c.options.allow_dependency_in_liveness = true;
  EXPECT_TRUE(ValidateCheck(c).ok());
  // A self check in liveness is fine, and a dependency in readiness too.
  c = Valid();
  c.options.groups = {"liveness"};
  EXPECT_TRUE(ValidateCheck(c).ok());
  c.options.kind = CheckKind::kDependency;
  c.options.groups = {"readiness"};
  EXPECT_TRUE(ValidateCheck(c).ok());
}

TEST(CheckResultTest, Factories) {
  EXPECT_EQ(CheckResult::Healthy().status, Status::kHealthy);
  EXPECT_EQ(CheckResult::Degraded("d").status, Status::kDegraded);
  CheckResult u = CheckResult::FromStatus(absl::UnavailableError("down"));
  EXPECT_EQ(u.status, Status::kUnhealthy);
  EXPECT_EQ(u.message, "down");
  EXPECT_EQ(CheckResult::FromStatus(absl::OkStatus()).status, Status::kHealthy);
}

TEST(StatusTest, OrderAndNames) {
  EXPECT_EQ(Worse(Status::kHealthy, Status::kDegraded), Status::kDegraded);
  EXPECT_EQ(Worse(Status::kUnknown, Status::kDegraded), Status::kUnknown);
  EXPECT_EQ(Worse(Status::kUnknown, Status::kUnhealthy), Status::kUnhealthy);
  EXPECT_TRUE(IsPassing(Status::kDegraded));
  EXPECT_FALSE(IsPassing(Status::kUnknown));
  EXPECT_EQ(StatusName(Status::kUnhealthy), "unhealthy");
}

CheckSnapshot Snap(Status s, bool critical) {
  CheckSnapshot c;
  c.result.status = s;
  c.critical = critical;
  return c;
}

TEST(AggregateTest, WorstOfCriticalNonCriticalOnlyDegrades) {
  CheckSnapshot ok = Snap(Status::kHealthy, true);
  CheckSnapshot bad = Snap(Status::kUnhealthy, true);
  CheckSnapshot optional_bad = Snap(Status::kUnhealthy, false);
  CheckSnapshot unknown = Snap(Status::kUnknown, true);
  CheckSnapshot optional_unknown = Snap(Status::kUnknown, false);
  EXPECT_EQ(Aggregate({}), Status::kHealthy);
  EXPECT_EQ(Aggregate({&ok}), Status::kHealthy);
  EXPECT_EQ(Aggregate({&ok, &optional_bad}), Status::kDegraded);
  EXPECT_EQ(Aggregate({&ok, &bad, &optional_bad}), Status::kUnhealthy);
  EXPECT_EQ(Aggregate({&ok, &unknown}), Status::kUnknown);
  EXPECT_EQ(Aggregate({&ok, &optional_unknown}), Status::kHealthy);
}

}  // namespace
}  // namespace vigil
