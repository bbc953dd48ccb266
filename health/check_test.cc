#include "health/check.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
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

// A list of `n` elements 0..n-1, built with both push_backs.
internal::SharedList<int> IntList(size_t n) {
  internal::SharedList<int> list;
  list.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      list.push_back(static_cast<int>(i));
    } else {
      list.push_back(std::make_shared<const int>(static_cast<int>(i)));
    }
  }
  return list;
}

TEST(SharedListTest, ChunkBoundaries) {
  constexpr size_t kChunk = internal::SharedList<int>::kChunkSize;
  for (size_t n : {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1,
                   2 * kChunk, 3 * kChunk + 5}) {
    SCOPED_TRACE(n);
    const internal::SharedList<int> list = IntList(n);
    ASSERT_EQ(list.size(), n);
    EXPECT_EQ(list.empty(), n == 0);
    EXPECT_EQ(static_cast<size_t>(list.end() - list.begin()), n);
    size_t i = 0;
    for (int v : list) EXPECT_EQ(v, static_cast<int>(i++));
    EXPECT_EQ(i, n);
    for (size_t j = 0; j < n; ++j) {
      EXPECT_EQ(list[j], static_cast<int>(j));
      EXPECT_EQ(*list.shared(j), static_cast<int>(j));
      EXPECT_EQ(list.begin()[j], static_cast<int>(j));
    }
    if (n == 0) continue;
    EXPECT_EQ(list.front(), 0);
    EXPECT_EQ(list.back(), static_cast<int>(n - 1));
    auto last = list.end();
    --last;
    EXPECT_EQ(*last, static_cast<int>(n - 1));
    EXPECT_EQ(*(list.begin() + (n - 1)), static_cast<int>(n - 1));
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    EXPECT_EQ(
        *std::lower_bound(list.begin(), list.end(), static_cast<int>(n / 2)),
        static_cast<int>(n / 2));
  }
}

TEST(SharedListTest, SetCopiesOnlyItsChunkAndLeavesCopiesAlone) {
  constexpr size_t kChunk = internal::SharedList<int>::kChunkSize;
  const size_t n = 3 * kChunk + 1;
  for (size_t changed : {size_t{0}, kChunk - 1, kChunk, n / 2, n - 1}) {
    SCOPED_TRACE(changed);
    const internal::SharedList<int> before = IntList(n);
    internal::SharedList<int> after = before;
    after.Set(changed, std::make_shared<const int>(-1));
    EXPECT_EQ(after[changed], -1);
    EXPECT_EQ(before[changed], static_cast<int>(changed));
    for (size_t i = 0; i < n; ++i) {
      if (i == changed) continue;
      // Every other element is the very same object in both lists.
      EXPECT_EQ(after.shared(i), before.shared(i)) << i;
    }
    // A second change in the same chunk, and growing the copy, still leave
    // the original alone.
    const size_t neighbour =
        changed % kChunk == 0 && changed + 1 < n ? changed + 1 : changed - 1;
    after.Set(neighbour, std::make_shared<const int>(-2));
    after.push_back(7);
    EXPECT_EQ(after[neighbour], -2);
    EXPECT_EQ(before[neighbour], static_cast<int>(neighbour));
    EXPECT_EQ(after.size(), n + 1);
    EXPECT_EQ(after.back(), 7);
    EXPECT_EQ(before.size(), n);
    EXPECT_EQ(before.back(), static_cast<int>(n - 1));
  }
}

TEST(SharedListTest, PushBackOnCopyDoesNotTouchOriginalsLastChunk) {
  internal::SharedList<int> original = IntList(5);
  internal::SharedList<int> copy = original;
  copy.push_back(100);
  original.push_back(200);
  EXPECT_EQ(copy.size(), 6u);
  EXPECT_EQ(original.size(), 6u);
  EXPECT_EQ(copy[5], 100);
  EXPECT_EQ(original[5], 200);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(copy.shared(i), original.shared(i));
}

TEST(SnapshotTest, FindCheckAcrossChunks) {
  Snapshot s;
  const size_t n = 2 * internal::SharedList<CheckSnapshot>::kChunkSize + 3;
  for (size_t i = 0; i < n; ++i) {
    CheckSnapshot c;
    c.name = absl::StrCat("c", absl::Dec(i, absl::kZeroPad4));
    s.checks.push_back(std::move(c));
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string name = absl::StrCat("c", absl::Dec(i, absl::kZeroPad4));
    const CheckSnapshot* c = s.FindCheck(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c, &s.checks[i]);
  }
  EXPECT_EQ(s.FindCheck("c"), nullptr);
  EXPECT_EQ(s.FindCheck("c9999"), nullptr);
  EXPECT_EQ(s.FindCheck("d"), nullptr);
}

}  // namespace
}  // namespace vigil
