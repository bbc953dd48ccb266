#include "health/registry.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/internal/worker_pool.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A check whose next results the test scripts, counting its runs.
class Scripted {
 public:
  explicit Scripted(Status initial = Status::kHealthy) : next_(initial) {}

  void Set(Status s, std::string message = "") {
    MutexLock lock(&mu_);
    next_ = s;
    message_ = std::move(message);
  }
  int runs() const { return runs_.load(); }

  // Waits (bounded, real time) until the function has been entered `n`
  // times. Entered, not recorded: the registry may not have applied the
  // result yet (NotifyOnFirstResult, WaitUntilIdleForTest wait for that).
  bool WaitForStarts(int n) {
    MutexLock lock(&mu_);
    auto enough = [this, n] { return runs_.load() >= n; };
    return mu_.AwaitWithTimeout(enough, absl::Seconds(10));
  }

  CheckFunction Function() {
    return [this](const CheckContext&) {
      MutexLock lock(&mu_);
      runs_.fetch_add(1);
      CheckResult r;
      r.status = next_;
      r.message = message_;
      return r;
    };
  }

 private:
  Mutex mu_;
  Status next_ ABSL_GUARDED_BY(mu_);
  std::string message_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> runs_{0};
};

// Returns a notification that `registry` notifies once it has applied the
// first result of check `name` (its transition out of UNKNOWN). A check's
// function having returned does not mean that: the worker has yet to record
// the result, and a run still unrecorded when the fake clock passes its
// deadline is declared timed out. Wait on this before advancing the clock.
std::shared_ptr<Notification> NotifyOnFirstResult(HealthRegistry& registry,
                                                  std::string name) {
  auto applied = std::make_shared<Notification>();
  registry.AddListener([applied, name = std::move(name)](const Transition& t) {
    if (t.subject == Transition::Subject::kCheck && t.name == name &&
        t.from == Status::kUnknown) {
      applied->Notify();
    }
  });
  return applied;
}

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : registry_(Options()) {}

  RegistryOptions Options() {
    RegistryOptions o;
    o.clock = &clock_;
    o.worker_threads = 2;
    return o;
  }

  Check Make(std::string name, CheckFunction fn,
             std::vector<std::string> groups = {"readiness"}) {
    Check c;
    c.name = std::move(name);
    c.function = std::move(fn);
    c.options.groups = std::move(groups);
    c.options.interval = absl::Seconds(10);
    c.options.timeout = absl::Seconds(2);
    c.options.failure_threshold = 1;
    return c;
  }

  // One scheduler step at the current fake time, then wait for the runs it
  // started to finish (condition wait on the registry, not a sleep).
  void Step() {
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  }

  Status CheckStatus(absl::string_view name) {
    const CheckSnapshot* c = registry_.snapshot()->FindCheck(name);
    return c == nullptr ? Status::kUnknown : c->result.status;
  }

  // Registers "db" (readiness) on `s`, runs it healthy, then once more 10 s
  // later failing with "refused".
  void RunDbHealthyThenRefused(Scripted& s) {
    ASSERT_TRUE(registry_.Register(Make("db", s.Function())).ok());
    Step();
    s.Set(Status::kUnhealthy, "refused");
    clock_.Advance(absl::Seconds(10));
    Step();
  }

  // Steps 1 ms shy of `d` from now (expects `s` still at `runs_before`),
  // then exactly to `d` (expects one run more).
  void StepAcross(const Scripted& s, absl::Duration d, int runs_before) {
    clock_.Advance(d - absl::Milliseconds(1));
    Step();
    EXPECT_EQ(s.runs(), runs_before) << "1 ms shy of " << d;
    clock_.Advance(absl::Milliseconds(1));
    Step();
    EXPECT_EQ(s.runs(), runs_before + 1) << "at " << d;
  }

  testing::FakeClock clock_;
  HealthRegistry registry_;
};

TEST_F(RegistryTest, RunsOnIntervalExactlyAtBoundary) {
  Scripted s;
  Check c = Make("a", s.Function());
  c.options.initial_delay = absl::Seconds(5);
  ASSERT_TRUE(registry_.Register(c).ok());
  EXPECT_EQ(CheckStatus("a"), Status::kUnknown);

  StepAcross(s, absl::Seconds(5), /*runs_before=*/0);
  EXPECT_EQ(CheckStatus("a"), Status::kHealthy);

  StepAcross(s, absl::Seconds(10), /*runs_before=*/1);
  // Ticking again at the same instant runs nothing more.
  Step();
  EXPECT_EQ(s.runs(), 2);
}

TEST_F(RegistryTest, RunOnceReturnsNextDueTime) {
  Scripted s;
  ASSERT_TRUE(registry_.Register(Make("a", s.Function())).ok());
  const absl::Time t0 = clock_.Now();
  registry_.RunOnceForTest();  // Queues the run: next wake is its timeout.
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  EXPECT_EQ(registry_.RunOnceForTest(), t0 + absl::Seconds(10));
}

TEST_F(RegistryTest, RunNowRunsAtOnceAndRestartsTheInterval) {
  Scripted s;
  ASSERT_TRUE(registry_.Register(Make("a", s.Function())).ok());
  Step();
  EXPECT_EQ(s.runs(), 1);
  clock_.Advance(absl::Seconds(3));
  Step();
  EXPECT_EQ(s.runs(), 1);
  s.Set(Status::kUnhealthy, "spike");
  ASSERT_TRUE(registry_.RunNow("a").ok());
  // Three calls before the step coalesce into one run.
  ASSERT_TRUE(registry_.RunNow("a").ok());
  ASSERT_TRUE(registry_.RunNow("a").ok());
  Step();
  EXPECT_EQ(s.runs(), 2);
  EXPECT_EQ(CheckStatus("a"), Status::kUnhealthy);
  // The interval now counts from the RunNow() run: 1 ms shy, then due.
  StepAcross(s, absl::Seconds(10), /*runs_before=*/2);
}

TEST_F(RegistryTest, RunNowDuringARunRunsOnceMoreAfterIt) {
  Notification release;
  std::atomic<int> runs{0};
  ASSERT_TRUE(registry_
                  .Register(Make("slow",
                                 [&](const CheckContext&) {
                                   if (runs.fetch_add(1) == 0) {
                                     release.WaitForNotificationWithTimeout(
                                         absl::Seconds(10));
                                   }
                                   return CheckResult::Healthy();
                                 }))
                  .ok());
  registry_.RunOnceForTest();  // First run starts and blocks.
  ASSERT_TRUE(registry_.RunNow("slow").ok());
  ASSERT_TRUE(registry_.RunNow("slow").ok());
  release.Notify();
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  EXPECT_EQ(runs.load(), 1);
  Step();  // The requested rerun is due at the first run's end.
  EXPECT_EQ(runs.load(), 2);
  Step();  // Exactly one: nothing more is due.
  EXPECT_EQ(runs.load(), 2);
}

TEST_F(RegistryTest, RunNowOfUnknownCheckIsNotFound) {
  EXPECT_EQ(registry_.RunNow("nope").code(), absl::StatusCode::kNotFound);
}

TEST_F(RegistryTest, HungCheckTimesOutWithoutPileUpOrBlockingReaders) {
  Notification entered, release, recovered;
  std::atomic<int> runs{0};
  Check c = Make("hung", [&](const CheckContext&) {
    if (runs.fetch_add(1) == 0) entered.Notify();
    release.WaitForNotification();
    return CheckResult::Healthy("finally");
  });
  registry_.AddListener([&](const Transition& t) {
    if (t.name == "hung" && t.to == Status::kHealthy) recovered.Notify();
  });
  ASSERT_TRUE(registry_.Register(c).ok());
  Scripted other;
  std::shared_ptr<Notification> other_applied =
      NotifyOnFirstResult(registry_, "other");
  ASSERT_TRUE(registry_.Register(Make("other", other.Function())).ok());

  registry_.RunOnceForTest();
  entered.WaitForNotification();
  // Before time moves, the registry has recorded other's run (not only
  // started it): otherwise the 2 s step below would rightly time it out.
  ASSERT_TRUE(other_applied->WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(CheckStatus("other"), Status::kHealthy);

  // Readers are never blocked by the hung run.
  EXPECT_EQ(CheckStatus("hung"), Status::kUnknown);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kUnknown);

  clock_.Advance(absl::Seconds(2) - absl::Milliseconds(1));
  registry_.RunOnceForTest();
  EXPECT_EQ(CheckStatus("hung"), Status::kUnknown);
  clock_.Advance(absl::Milliseconds(1));
  registry_.RunOnceForTest();
  const CheckSnapshot* snap = registry_.snapshot()->FindCheck("hung");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->result.status, Status::kUnhealthy);
  EXPECT_TRUE(snap->timed_out);
  EXPECT_THAT(snap->result.message, HasSubstr("timed out after 2s"));

  // Past its interval it is not started again while still in flight, and
  // the message says how long it has been stuck.
  clock_.Advance(absl::Seconds(30));
  registry_.RunOnceForTest();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_THAT(registry_.snapshot()->FindCheck("hung")->result.message,
              HasSubstr("running for 32s"));
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kUnhealthy);
  // The other check kept running on the remaining worker: its run due at
  // 10 s was queued in this step and completed.
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  EXPECT_EQ(other.runs(), 2);
  const CheckSnapshot* other_snap = registry_.snapshot()->FindCheck("other");
  ASSERT_NE(other_snap, nullptr);
  EXPECT_EQ(other_snap->run_count, 2u);
  EXPECT_EQ(other_snap->result.status, Status::kHealthy);
  EXPECT_FALSE(other_snap->timed_out);

  release.Notify();
  // The late result is applied once it arrives.
  ASSERT_TRUE(recovered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  EXPECT_EQ(CheckStatus("hung"), Status::kHealthy);
  EXPECT_FALSE(registry_.snapshot()->FindCheck("hung")->timed_out);
  // And the next tick starts it again.
  Step();
  EXPECT_EQ(runs.load(), 2);
}

// A run that times out counts one failure at its deadline (and is reported
// UNHEALTHY at once); when it finally returns a failure, that is the same
// failure, not a second one.
TEST_F(RegistryTest, TimedOutRunThatFailsLateCountsOnce) {
  Notification entered, release;
  std::atomic<int> runs{0};
  Check c = Make("slow", [&](const CheckContext&) {
    const int n = runs.fetch_add(1);
    if (n == 0) return CheckResult::Healthy("first");
    if (n == 1) {
      entered.Notify();
      release.WaitForNotification();
    }
    return CheckResult::Unhealthy("failed");
  });
  c.options.failure_threshold = 3;
  ASSERT_TRUE(registry_.Register(c).ok());
  Step();
  ASSERT_EQ(CheckStatus("slow"), Status::kHealthy);

  clock_.Advance(absl::Seconds(10));
  registry_.RunOnceForTest();
  entered.WaitForNotification();
  clock_.Advance(absl::Seconds(2) - absl::Milliseconds(1));
  registry_.RunOnceForTest();
  EXPECT_EQ(registry_.snapshot()->FindCheck("slow")->consecutive_failures, 0);
  clock_.Advance(absl::Milliseconds(1));
  registry_.RunOnceForTest();  // Declared timed out: failure 1.
  EXPECT_EQ(registry_.snapshot()->FindCheck("slow")->consecutive_failures, 1);
  EXPECT_EQ(CheckStatus("slow"), Status::kUnhealthy);
  release.Notify();
  // WaitUntilIdleForTest() does not wait for runs already timed out: wait
  // (bounded, real time) for the late result to be applied.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (registry_.snapshot()->FindCheck("slow")->run_count < 2 &&
         absl::Now() < give_up) {
    std::this_thread::yield();
  }
  // The late failure is that same run: still 1.
  std::shared_ptr<const Snapshot> after = registry_.snapshot();
  const CheckSnapshot* snap = after->FindCheck("slow");
  EXPECT_EQ(snap->consecutive_failures, 1);
  EXPECT_EQ(snap->run_count, 2);
  EXPECT_EQ(snap->result.message, "failed");

  // The next run (due an interval after the late one was queued) is
  // failure 2, the one after it failure 3.
  clock_.Advance(absl::Seconds(8) - absl::Milliseconds(1));
  Step();
  EXPECT_EQ(registry_.snapshot()->FindCheck("slow")->consecutive_failures, 1);
  clock_.Advance(absl::Milliseconds(1));
  Step();
  EXPECT_EQ(registry_.snapshot()->FindCheck("slow")->consecutive_failures, 2);
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(registry_.snapshot()->FindCheck("slow")->consecutive_failures, 3);
}

TEST_F(RegistryTest, ThrowingCheckIsUnhealthyWithMessage) {
  ASSERT_TRUE(registry_
                  .Register(Make("throws",
                                 [](const CheckContext&) -> CheckResult {
                                   throw std::runtime_error("pool exhausted");
                                 }))
                  .ok());
  ASSERT_TRUE(
      registry_
          .Register(Make("throws-int",
                         [](const CheckContext&) -> CheckResult { throw 42; }))
          .ok());
  Step();
  const auto snap = registry_.snapshot();
  EXPECT_EQ(snap->FindCheck("throws")->result.status, Status::kUnhealthy);
  EXPECT_EQ(snap->FindCheck("throws")->result.message,
            "check threw: pool exhausted");
  EXPECT_THAT(snap->FindCheck("throws-int")->result.message,
              HasSubstr("non-standard exception"));
}

TEST_F(RegistryTest, CheckReturningNoStatusIsUnhealthy) {
  ASSERT_TRUE(
      registry_
          .Register(
              Make("empty", [](const CheckContext&) { return CheckResult(); }))
          .ok());
  Step();
  EXPECT_EQ(CheckStatus("empty"), Status::kUnhealthy);
  EXPECT_EQ(registry_.snapshot()->FindCheck("empty")->result.message,
            "check returned no status");
}

TEST_F(RegistryTest, FailureAndSuccessThresholdsDampBothEdges) {
  Scripted s;
  Check c = Make("flappy", s.Function());
  c.options.failure_threshold = 3;
  c.options.success_threshold = 2;
  ASSERT_TRUE(registry_.Register(c).ok());
  Step();
  EXPECT_EQ(CheckStatus("flappy"), Status::kHealthy);

  s.Set(Status::kUnhealthy, "down");
  for (int i = 1; i <= 2; ++i) {
    clock_.Advance(absl::Seconds(10));
    Step();
    EXPECT_EQ(CheckStatus("flappy"), Status::kHealthy) << "failure " << i;
    EXPECT_EQ(registry_.snapshot()->FindCheck("flappy")->consecutive_failures,
              i);
  }
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(CheckStatus("flappy"), Status::kUnhealthy);
  EXPECT_EQ(registry_.snapshot()->FindCheck("flappy")->result.message, "down");

  s.Set(Status::kHealthy);
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(CheckStatus("flappy"), Status::kUnhealthy);
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(CheckStatus("flappy"), Status::kHealthy);

  // A single failure between successes never shows.
  s.Set(Status::kUnhealthy);
  clock_.Advance(absl::Seconds(10));
  Step();
  s.Set(Status::kHealthy);
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(CheckStatus("flappy"), Status::kHealthy);
  EXPECT_EQ(registry_.snapshot()->FindCheck("flappy")->consecutive_failures, 0);
}

TEST_F(RegistryTest, DegradedIsNotDampedAndPasses) {
  Scripted s;
  Check c = Make("d", s.Function());
  c.options.failure_threshold = 3;
  ASSERT_TRUE(registry_.Register(c).ok());
  Step();
  s.Set(Status::kDegraded, "slow");
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(CheckStatus("d"), Status::kDegraded);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kDegraded);
  EXPECT_TRUE(IsPassing(registry_.GroupStatus(kReadiness)));
}

TEST_F(RegistryTest, CriticalityAndAggregation) {
  Scripted critical, optional, live;
  Check o = Make("optional", optional.Function());
  o.options.critical = false;
  ASSERT_TRUE(registry_.Register(Make("critical", critical.Function())).ok());
  ASSERT_TRUE(registry_.Register(o).ok());
  ASSERT_TRUE(
      registry_.Register(Make("live", live.Function(), {"liveness"})).ok());
  Step();
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kHealthy);

  optional.Set(Status::kUnhealthy, "cache down");
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(CheckStatus("optional"), Status::kUnhealthy);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kDegraded);
  EXPECT_EQ(registry_.GroupStatus(kAllGroup), Status::kDegraded);
  EXPECT_EQ(registry_.GroupStatus(kLiveness), Status::kHealthy);

  critical.Set(Status::kUnhealthy, "db down");
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kUnhealthy);
  EXPECT_EQ(registry_.GroupStatus(kAllGroup), Status::kUnhealthy);
  // Liveness does not follow readiness checks.
  EXPECT_EQ(registry_.GroupStatus(kLiveness), Status::kHealthy);
}

TEST_F(RegistryTest, CustomGroupsAreAggregated) {
  Scripted s(Status::kUnhealthy);
  ASSERT_TRUE(registry_.Register(Make("x", s.Function(), {"batch"})).ok());
  Step();
  EXPECT_EQ(registry_.GroupStatus("batch"), Status::kUnhealthy);
  EXPECT_EQ(registry_.GroupStatus("nonexistent"), Status::kHealthy);
  const GroupSnapshot* g = registry_.snapshot()->FindGroup("batch");
  ASSERT_NE(g, nullptr);
  EXPECT_THAT(g->checks, ElementsAre("x"));
}

// GroupStatus() finds the well-known groups by length, then one compare:
// custom groups whose names have the same lengths are still custom groups.
TEST_F(RegistryTest, CustomGroupsNamedLikeWellKnownOnesAreNotConfused) {
  Scripted bad(Status::kUnhealthy);
  Scripted good(Status::kHealthy);
  ASSERT_TRUE(
      registry_
          .Register(Make("x", bad.Function(),
                         {"livenesz", "readinesz", "startuz", "alm", "a"}))
          .ok());
  ASSERT_TRUE(
      registry_.Register(Make("y", good.Function(), {"liveness"})).ok());
  Step();
  for (absl::string_view g : {"livenesz", "readinesz", "startuz", "alm", "a"}) {
    EXPECT_EQ(registry_.GroupStatus(g), Status::kUnhealthy) << g;
  }
  EXPECT_EQ(registry_.GroupStatus(kLiveness), Status::kHealthy);
  EXPECT_EQ(registry_.GroupStatus(kStartup), Status::kHealthy);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kHealthy);
  EXPECT_EQ(registry_.GroupStatus(kAllGroup), Status::kUnhealthy);
  EXPECT_EQ(registry_.GroupStatus(""), Status::kHealthy);
}

TEST_F(RegistryTest, ReadinessWaitsForEveryStartupCheckOnce) {
  Scripted warmup(Status::kUnhealthy), cache(Status::kHealthy),
      ready(Status::kHealthy);
  ASSERT_TRUE(
      registry_.Register(Make("warmup", warmup.Function(), {"startup"})).ok());
  ASSERT_TRUE(
      registry_.Register(Make("cache", cache.Function(), {"startup"})).ok());
  ASSERT_TRUE(registry_.Register(Make("ready", ready.Function())).ok());
  Step();
  auto snap = registry_.snapshot();
  EXPECT_FALSE(snap->startup_complete);
  EXPECT_EQ(snap->FindGroup(kReadiness)->status, Status::kUnhealthy);
  EXPECT_EQ(snap->FindGroup(kReadiness)->reason, "startup not complete");
  EXPECT_EQ(registry_.GroupStatus(kStartup), Status::kUnhealthy);

  warmup.Set(Status::kHealthy);
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_TRUE(registry_.snapshot()->startup_complete);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kHealthy);

  // Latched: a startup check failing later does not un-start the service.
  warmup.Set(Status::kUnhealthy);
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_TRUE(registry_.snapshot()->startup_complete);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kHealthy);
}

TEST_F(RegistryTest, ReadinessFailsBeforeFirstTickEvenWithoutStartupChecks) {
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kUnhealthy);
  registry_.RunOnceForTest();
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kHealthy);
}

TEST_F(RegistryTest, BeginShutdownFailsReadinessAtOnceKeepsLiveness) {
  Scripted live, ready;
  ASSERT_TRUE(
      registry_.Register(Make("live", live.Function(), {"liveness"})).ok());
  ASSERT_TRUE(registry_.Register(Make("ready", ready.Function())).ok());
  Step();
  ASSERT_EQ(registry_.GroupStatus(kReadiness), Status::kHealthy);
  EXPECT_FALSE(registry_.shutting_down());

  registry_.BeginShutdown();  // No tick needed.
  EXPECT_TRUE(registry_.shutting_down());
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kUnhealthy);
  EXPECT_EQ(registry_.snapshot()->FindGroup(kReadiness)->reason,
            "shutting down");
  EXPECT_EQ(registry_.GroupStatus(kLiveness), Status::kHealthy);
  // Checks keep running during drain.
  clock_.Advance(absl::Seconds(10));
  Step();
  EXPECT_EQ(ready.runs(), 2);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kUnhealthy);
}

TEST_F(RegistryTest, ListenersSeeCheckAndGroupTransitionsInOrder) {
  std::vector<std::string> seen;
  Mutex mu;
  registry_.AddListener([&](const Transition& t) {
    MutexLock lock(&mu);
    seen.push_back(absl::StrCat(
        t.subject == Transition::Subject::kCheck ? "check " : "group ", t.name,
        " ", StatusName(t.from), "->", StatusName(t.to),
        t.message.empty() ? "" : " ", t.message));
  });
  Scripted s;
  ASSERT_NO_FATAL_FAILURE(RunDbHealthyThenRefused(s));
  MutexLock lock(&mu);
  EXPECT_THAT(seen,
              ::testing::IsSupersetOf({"check db unknown->healthy",
                                       "group readiness unknown->healthy",
                                       "check db healthy->unhealthy refused",
                                       "group readiness healthy->unhealthy"}));
  // Order: the healthy transition precedes the unhealthy one.
  auto pos = [&](const std::string& s) {
    return std::find(seen.begin(), seen.end(), s) - seen.begin();
  };
  EXPECT_LT(pos("check db unknown->healthy"),
            pos("check db healthy->unhealthy refused"));
}

TEST_F(RegistryTest, TransitionsCarryTheCheckConsecutiveCounts) {
  std::vector<Transition> seen;
  Mutex mu;
  registry_.AddListener([&](const Transition& t) {
    MutexLock lock(&mu);
    if (t.subject == Transition::Subject::kCheck) seen.push_back(t);
  });
  Scripted s;
  Check c = Make("db", s.Function());
  c.options.failure_threshold = 2;
  ASSERT_TRUE(registry_.Register(c).ok());
  Step();
  s.Set(Status::kUnhealthy, "refused");
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(absl::Seconds(10));
    Step();
  }
  MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].consecutive_successes, 1);
  EXPECT_EQ(seen[1].to, Status::kUnhealthy);
  EXPECT_EQ(seen[1].consecutive_failures, 2);
  EXPECT_EQ(seen[1].consecutive_successes, 0);
}

TEST_F(RegistryTest, ResultListenersSeeEveryCompletedRunBeforeIdle) {
  std::vector<std::string> seen;
  Mutex mu;
  registry_.AddResultListener([&](const CheckSnapshot& c) {
    MutexLock lock(&mu);
    seen.push_back(absl::StrCat(c.name, " ", c.run_count, " ",
                                StatusName(c.result.status), " ",
                                c.result.message));
  });
  Scripted s;
  ASSERT_NO_FATAL_FAILURE(RunDbHealthyThenRefused(s));
  // Step() waits until idle, which includes the result listeners.
  MutexLock lock(&mu);
  EXPECT_THAT(seen, ElementsAre("db 1 healthy ", "db 2 unhealthy refused"));
}

TEST_F(RegistryTest, ResultListenerFactoryMakesOneListenerPerCheck) {
  Mutex mu;
  std::vector<std::string> made;
  std::vector<std::string> seen;
  Scripted a, b, c;
  ASSERT_TRUE(registry_.Register(Make("a", a.Function())).ok());
  ASSERT_TRUE(registry_.Register(Make("b", b.Function())).ok());
  registry_.AddResultListener([&](const CheckSnapshot& s) {
    MutexLock lock(&mu);
    seen.push_back(absl::StrCat("any ", s.name, " ", s.run_count));
  });
  registry_.AddResultListenerFactory(
      [&](absl::string_view name) -> ResultListener {
        MutexLock lock(&mu);
        made.emplace_back(name);
        if (name == "b") return nullptr;  // No listener for "b".
        // Per-check state, found once: here, the check's own counter.
        auto runs = std::make_shared<int>(0);
        return [&, runs, name = std::string(name)](const CheckSnapshot& s) {
          MutexLock lock(&mu);
          seen.push_back(absl::StrCat(name, " ", s.name, " ", ++*runs));
        };
      });
  {
    MutexLock lock(&mu);
    EXPECT_THAT(made, ElementsAre("a", "b"));  // The checks registered then.
  }
  ASSERT_TRUE(registry_.Register(Make("c", c.Function())).ok());
  {
    MutexLock lock(&mu);
    EXPECT_THAT(made, ElementsAre("a", "b", "c"));  // Before "c" ran.
    EXPECT_TRUE(seen.empty());
  }
  Step();
  {
    MutexLock lock(&mu);
    // After the plain listener, each check's own; none for "b".
    std::sort(seen.begin(), seen.end());
    EXPECT_THAT(seen,
                ElementsAre("a a 1", "any a 1", "any b 1", "any c 1", "c c 1"));
    seen.clear();
  }
  ASSERT_TRUE(registry_.Unregister("a").ok());
  clock_.Advance(absl::Seconds(10));
  Step();
  MutexLock lock(&mu);
  std::sort(seen.begin(), seen.end());
  EXPECT_THAT(seen, ElementsAre("any b 2", "any c 2", "c c 2"));
  EXPECT_THAT(made, ElementsAre("a", "b", "c"));
}

TEST_F(RegistryTest, ResultListenersRunInOrderPlainThenPerCheck) {
  std::vector<std::string> seen;
  Mutex mu;
  auto note = [&](std::string what) {
    return [&, what](const CheckSnapshot&) {
      MutexLock lock(&mu);
      seen.push_back(what);
    };
  };
  registry_.AddResultListenerFactory(
      [&](absl::string_view) -> ResultListener { return note("own 1"); });
  registry_.AddResultListener(note("plain 1"));
  registry_.AddResultListenerFactory(
      [&](absl::string_view) -> ResultListener { return note("own 2"); });
  registry_.AddResultListener(note("plain 2"));
  Scripted s;
  ASSERT_TRUE(registry_.Register(Make("db", s.Function())).ok());
  Step();  // Idle includes every result listener of the run.
  MutexLock lock(&mu);
  EXPECT_THAT(seen, ElementsAre("plain 1", "plain 2", "own 1", "own 2"));
}

TEST_F(RegistryTest, ListenerMayCallBackIntoRegistry) {
  registry_.AddListener([&](const Transition& t) {
    if (t.name == "db" && t.to == Status::kUnhealthy) {
      registry_.BeginShutdown();
    }
  });
  Scripted s(Status::kUnhealthy);
  ASSERT_TRUE(registry_.Register(Make("db", s.Function())).ok());
  Step();
  EXPECT_TRUE(registry_.shutting_down());
}

TEST_F(RegistryTest, RejectsDependencyInLivenessAndRegistersNothing) {
  Scripted s;
  Check c = Make("postgres", s.Function(), {"readiness", "liveness"});
  c.options.kind = CheckKind::kDependency;
  absl::Status st = registry_.Register(c);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("liveness"));
  EXPECT_EQ(registry_.snapshot()->FindCheck("postgres"), nullptr);
  c.options.allow_dependency_in_liveness = true;
  EXPECT_TRUE(registry_.Register(c).ok());
}

TEST_F(RegistryTest, InvalidAndDuplicateRegistrationsLeaveNoTrace) {
  Scripted s;
  Check bad = Make("x", s.Function());
  bad.options.interval = absl::ZeroDuration();
  EXPECT_EQ(registry_.Register(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry_.snapshot()->checks.empty());

  ASSERT_TRUE(registry_.Register(Make("x", s.Function())).ok());
  absl::Status dup = registry_.Register(Make("x", s.Function()));
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.message(), HasSubstr("\"x\""));
  EXPECT_EQ(registry_.snapshot()->checks.size(), 1u);
}

TEST_F(RegistryTest, GroupAndCheckNamesShareOneNameSpace) {
  Scripted s;
  // A check may not be named like a well-known group...
  for (absl::string_view reserved :
       {kLiveness, kReadiness, kStartup, kAllGroup}) {
    absl::Status st =
        registry_.Register(Make(std::string(reserved), s.Function()));
    EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists) << reserved;
    EXPECT_THAT(st.message(), HasSubstr("already the name of a group"));
  }
  // ...nor like a custom group of a registered check...
  ASSERT_TRUE(registry_.Register(Make("pg", s.Function(), {"db"})).ok());
  EXPECT_EQ(registry_.Register(Make("db", s.Function())).code(),
            absl::StatusCode::kAlreadyExists);
  // ...nor join a group named like a registered check, or like itself.
  absl::Status st = registry_.Register(Make("cache", s.Function(), {"pg"}));
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(st.message(), HasSubstr("group \"pg\""));
  EXPECT_EQ(registry_.Register(Make("self", s.Function(), {"self"})).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry_.snapshot()->checks.size(), 1u);
  // Once the group's last member is gone, its name is free again.
  ASSERT_TRUE(registry_.Unregister("pg").ok());
  EXPECT_TRUE(registry_.Register(Make("db", s.Function())).ok());
}

TEST_F(RegistryTest, UnregisterRemovesCheck) {
  Scripted s(Status::kUnhealthy);
  ASSERT_TRUE(registry_.Register(Make("x", s.Function())).ok());
  Step();
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kUnhealthy);
  ASSERT_TRUE(registry_.Unregister("x").ok());
  EXPECT_EQ(registry_.snapshot()->FindCheck("x"), nullptr);
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kHealthy);
  EXPECT_EQ(registry_.Unregister("x").code(), absl::StatusCode::kNotFound);
}

TEST_F(RegistryTest, RecordsDurationAndTimeInState) {
  Check c = Make("slowish", [&](const CheckContext& ctx) {
    EXPECT_EQ(ctx.deadline, ctx.start + absl::Seconds(2));
    clock_.Advance(absl::Milliseconds(250));  // The run "takes" 250 ms.
    return CheckResult::Healthy();
  });
  ASSERT_TRUE(registry_.Register(c).ok());
  Step();
  const CheckSnapshot* snap = registry_.snapshot()->FindCheck("slowish");
  EXPECT_EQ(snap->last_duration, absl::Milliseconds(250));
  EXPECT_EQ(snap->run_count, 1u);
  EXPECT_EQ(snap->last_run_time, clock_.Now());
}

TEST_F(RegistryTest, SnapshotsAreImmutableAndGenerationsIncrease) {
  Scripted s;
  ASSERT_TRUE(registry_.Register(Make("x", s.Function())).ok());
  auto before = registry_.snapshot();
  Step();
  auto after = registry_.snapshot();
  EXPECT_EQ(before->FindCheck("x")->result.status, Status::kUnknown);
  EXPECT_EQ(after->FindCheck("x")->result.status, Status::kHealthy);
  EXPECT_GT(after->generation, before->generation);
}

TEST_F(RegistryTest, SchedulerRunsManyChecksOnTheirOwnIntervals) {
  constexpr int kChecks = 40;
  std::vector<std::unique_ptr<Scripted>> scripted;
  std::vector<absl::Duration> delay, interval;
  for (int i = 0; i < kChecks; ++i) {
    scripted.push_back(std::make_unique<Scripted>());
    // Registered in reverse name order, with intervals of 1..7 s.
    Check c = Make(absl::StrCat("c", 99 - i), scripted.back()->Function());
    delay.push_back(absl::Seconds(i % 3));
    interval.push_back(absl::Seconds(i % 7 + 1));
    c.options.initial_delay = delay.back();
    c.options.interval = interval.back();
    c.options.timeout = absl::Milliseconds(500);
    ASSERT_TRUE(registry_.Register(c).ok());
  }
  const absl::Time t0 = clock_.Now();
  for (int t = 0; t <= 30; ++t) {
    SCOPED_TRACE(t);
    Step();
    absl::Time next = absl::InfiniteFuture();
    for (int i = 0; i < kChecks; ++i) {
      const absl::Duration elapsed = clock_.Now() - t0;
      int expected = 0;
      absl::Time next_run = t0 + delay[i];
      if (elapsed >= delay[i]) {
        expected = static_cast<int>((elapsed - delay[i]) / interval[i]) + 1;
        next_run = t0 + delay[i] + expected * interval[i];
      }
      EXPECT_EQ(scripted[i]->runs(), expected) << i;
      const CheckSnapshot* c =
          registry_.snapshot()->FindCheck(absl::StrCat("c", 99 - i));
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(c->run_count, static_cast<uint64_t>(expected)) << i;
      next = std::min(next, next_run);
    }
    // Nothing more is due at this instant; the next wake-up is the earliest
    // next run of any check.
    EXPECT_EQ(registry_.RunOnceForTest(), next);
    clock_.Advance(absl::Seconds(1));
  }
}

TEST_F(RegistryTest, GroupsAndTransitionsMatchRecomputationAsChecksChange) {
  std::vector<Transition> seen;
  Mutex seen_mu;
  registry_.AddListener([&](const Transition& t) {
    MutexLock lock(&seen_mu);
    seen.push_back(t);
  });
  const std::vector<std::vector<std::string>> kGroups = {
      {"readiness"},
      {"liveness"},
      {"startup"},
      {"batch"},
      {"readiness", "batch"}};
  std::map<std::string, std::unique_ptr<Scripted>> scripted;
  auto add = [&](int i) {
    const std::string name = absl::StrCat("c", i);
    scripted[name] = std::make_unique<Scripted>();
    Check c = Make(name, scripted[name]->Function(), kGroups[i % 5]);
    c.options.critical = i % 4 != 0;
    ASSERT_TRUE(registry_.Register(c).ok());
  };
  for (int i = 0; i < 30; ++i) add(i);
  std::mt19937 rng(42);
  const Status kStatuses[] = {Status::kHealthy, Status::kDegraded,
                              Status::kUnhealthy};
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    if (round == 8) {
      // Membership changes between rounds too.
      ASSERT_TRUE(registry_.Unregister("c3").ok());
      scripted.erase("c3");
      add(30 + round);
    }
    for (auto& [name, s] : scripted) {
      if (rng() % 3 == 0) s->Set(kStatuses[rng() % 3]);
    }
    Step();
    clock_.Advance(absl::Seconds(10));
    auto snap = registry_.snapshot();
    for (const GroupSnapshot& g : snap->groups) {
      const GroupSnapshot full = snap->AggregateGroup(g.name);
      EXPECT_EQ(g.status, full.status) << g.name;
      EXPECT_EQ(g.reason, full.reason) << g.name;
      EXPECT_EQ(g.checks, full.checks) << g.name;
    }
    EXPECT_EQ(registry_.GroupStatus(kReadiness),
              snap->FindGroup(kReadiness)->status);
    EXPECT_EQ(registry_.GroupStatus(kLiveness),
              snap->FindGroup(kLiveness)->status);
    EXPECT_EQ(registry_.GroupStatus(kStartup),
              snap->FindGroup(kStartup)->status);
    EXPECT_EQ(registry_.overall(), snap->overall());
  }
  // Transitions: one per change, chained, in publication order, ending at
  // the published status. Checks start UNKNOWN; a group starts where the
  // registry's first (unreported) publication put it.
  auto snap = registry_.snapshot();
  MutexLock lock(&seen_mu);
  std::map<std::string, Status> check_state, group_state;
  uint64_t generation = 0;
  for (const Transition& t : seen) {
    EXPECT_NE(t.from, t.to);
    EXPECT_GE(t.generation, generation);
    generation = t.generation;
    auto& state =
        t.subject == Transition::Subject::kCheck ? check_state : group_state;
    auto [it, inserted] = state.emplace(
        t.name,
        t.subject == Transition::Subject::kCheck ? Status::kUnknown : t.from);
    EXPECT_EQ(t.from, it->second) << t.name;
    it->second = t.to;
  }
  for (const CheckSnapshot& c : snap->checks) {
    auto it = check_state.find(c.name);
    EXPECT_EQ(it == check_state.end() ? Status::kUnknown : it->second,
              c.result.status)
        << c.name;
  }
  for (const GroupSnapshot& g : snap->groups) {
    auto it = group_state.find(g.name);
    EXPECT_EQ(it == group_state.end() ? Status::kUnknown : it->second, g.status)
        << g.name;
  }
}

TEST_F(RegistryTest, PublicationSharesUnchangedChecks) {
  const int n = 2 * internal::SharedList<CheckSnapshot>::kChunkSize + 1;
  std::vector<std::unique_ptr<Scripted>> scripted;
  for (int i = 0; i < n; ++i) {
    scripted.push_back(std::make_unique<Scripted>());
    Check c = Make(absl::StrCat("c", 1000 + i), scripted.back()->Function());
    // Only c1070 is due again after the first round.
    c.options.interval = i == 70 ? absl::Seconds(1) : absl::Hours(1);
    ASSERT_TRUE(registry_.Register(c).ok());
  }
  Step();
  auto before = registry_.snapshot();
  clock_.Advance(absl::Seconds(1));
  Step();
  auto after = registry_.snapshot();
  EXPECT_EQ(after->generation, before->generation + 1);
  ASSERT_EQ(after->checks.size(), before->checks.size());
  for (int i = 0; i < n; ++i) {
    if (i == 70) {
      EXPECT_NE(after->checks.shared(i), before->checks.shared(i));
      EXPECT_EQ(after->checks[i].run_count, 2u);
      EXPECT_EQ(before->checks[i].run_count, 1u);
    } else {
      EXPECT_EQ(after->checks.shared(i), before->checks.shared(i)) << i;
    }
  }
}

// A check that ignores its deadline (here: waits for an event nobody sets
// until the registry is gone) no longer holds up the registry's
// destruction: it returns within shutdown_timeout, the stuck run keeps
// what it references, and its late result touches nothing (ASan).
TEST(RegistryShutdownTest, DestroyingWithAHungCheckIsBounded) {
  // Outlive the registry: the late run reads neither.
  static testing::FakeClock* const clock = new testing::FakeClock();
  auto entered = std::make_shared<Notification>();
  auto release = std::make_shared<Notification>();
  auto returned = std::make_shared<std::atomic<bool>>(false);
  auto queued_runs = std::make_shared<std::atomic<int>>(0);
  RegistryOptions o;
  o.clock = clock;
  o.worker_threads = 1;
  o.max_worker_threads = 1;  // The second check queues behind the stuck one.
  o.shutdown_timeout = absl::Milliseconds(300);
  auto registry = std::make_unique<HealthRegistry>(o);
  Check hung;
  hung.name = "hung";
  hung.options.timeout = absl::Seconds(1);
  std::string owned = "kept alive by the run";
  hung.function = [entered, release, returned, owned](const CheckContext&) {
    entered->Notify();
    release->WaitForNotification();
    returned->store(owned == "kept alive by the run");
    return CheckResult::Unhealthy("late");
  };
  ASSERT_TRUE(registry->Register(hung).ok());
  Check queued;
  queued.name = "queued";
  queued.function = [queued_runs](const CheckContext&) {
    queued_runs->fetch_add(1);
    return CheckResult::Healthy();
  };
  ASSERT_TRUE(registry->Register(queued).ok());
  registry->RunOnceForTest();
  ASSERT_TRUE(entered->WaitForNotificationWithTimeout(absl::Seconds(10)));
  const int detached_before = internal::WorkerPool::detached_for_test();

  const absl::Time start = absl::Now();
  registry.reset();
  const absl::Duration took = absl::Now() - start;
  std::cerr << "MEASURED registry destruction with a hung check: "
            << absl::FormatDuration(took) << " (shutdown_timeout 300ms)\n";
  EXPECT_GE(took, absl::Milliseconds(300));
  EXPECT_LT(took, absl::Milliseconds(300) + absl::Seconds(1));
  EXPECT_EQ(internal::WorkerPool::detached_for_test(), detached_before + 1);
  // The run queued behind the stuck one never starts.
  EXPECT_EQ(queued_runs->load(), 0);

  // The stuck run returns after the registry is gone, with its captures.
  release->Notify();
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!returned->load() && absl::Now() < give_up) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(returned->load());
  EXPECT_EQ(queued_runs->load(), 0);
}

// The default bound is 1 s.
TEST(RegistryShutdownTest, DefaultShutdownTimeoutIsOneSecond) {
  EXPECT_EQ(RegistryOptions().shutdown_timeout, absl::Seconds(1));
}

TEST(RegistryStuckTest, StuckCheckReplacedUnderSameNameRunsOnItsOwn) {
  Notification entered, release;
  testing::FakeClock clock;
  Scripted replacement;
  RegistryOptions o;
  o.clock = &clock;
  HealthRegistry registry(o);
  Check hung;
  hung.name = "h";
  hung.options.interval = absl::Seconds(10);
  hung.options.timeout = absl::Seconds(2);
  hung.function = [&](const CheckContext&) {
    entered.Notify();
    release.WaitForNotification();
    return CheckResult::Healthy("late");
  };
  ASSERT_TRUE(registry.Register(hung).ok());
  registry.RunOnceForTest();
  entered.WaitForNotification();
  clock.Advance(absl::Seconds(2));
  registry.RunOnceForTest();
  EXPECT_TRUE(registry.snapshot()->FindCheck("h")->timed_out);
  // While stuck, the next wake-up is the refresh a second later.
  EXPECT_EQ(registry.RunOnceForTest(), clock.Now() + absl::Seconds(1));

  ASSERT_TRUE(registry.Unregister("h").ok());
  Check c;
  c.name = "h";
  c.options.interval = absl::Seconds(10);
  c.options.timeout = absl::Seconds(2);
  c.function = replacement.Function();
  ASSERT_TRUE(registry.Register(c).ok());
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  EXPECT_EQ(replacement.runs(), 1);
  // No longer refreshed as stuck: the next wake-up is the new check's run.
  EXPECT_EQ(registry.RunOnceForTest(), clock.Now() + absl::Seconds(10));
  clock.Advance(absl::Seconds(3));
  registry.RunOnceForTest();
  const CheckSnapshot* h = registry.snapshot()->FindCheck("h");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->result.status, Status::kHealthy);
  EXPECT_FALSE(h->timed_out);
  EXPECT_EQ(h->run_count, 1u);
  release.Notify();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
}

TEST(RegistryPoolTest, HungCheckDoesNotDelayOthersAndPoolIsBounded) {
  testing::FakeClock clock;
  RegistryOptions o;
  o.clock = &clock;
  o.worker_threads = 1;
  o.max_worker_threads = 2;
  // Declared before the registry: its destructor joins the workers, which
  // may still be leaving these notifications' methods.
  Notification entered, entered2, release;
  Scripted s;
  HealthRegistry registry(o);
  std::atomic<int> hung_runs{0};
  CheckFunction hang = [&](const CheckContext&) {
    const int n = hung_runs.fetch_add(1);
    if (n == 0) entered.Notify();
    if (n == 1) entered2.Notify();
    release.WaitForNotification();
    return CheckResult::Healthy();
  };
  Check hung;
  hung.name = "hung";
  hung.function = hang;
  ASSERT_TRUE(registry.Register(hung).ok());
  registry.RunOnceForTest();
  entered.WaitForNotification();

  Check other;
  other.name = "other";
  other.function = s.Function();
  std::shared_ptr<Notification> other_applied =
      NotifyOnFirstResult(registry, "other");
  ASSERT_TRUE(registry.Register(other).ok());
  registry.RunOnceForTest();  // Runs at once, not behind the hung run.
  ASSERT_TRUE(other_applied->WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(s.runs(), 1);
  EXPECT_EQ(registry.worker_threads_for_test(), 2);

  // A second hung check takes the worker "other" left idle. Both workers
  // are now stuck and the pool is at its bound: the next run of "other"
  // waits in the queue and times out there (timeouts count from queueing).
  Check hung2;
  hung2.name = "hung2";
  hung2.function = hang;
  ASSERT_TRUE(registry.Register(hung2).ok());
  registry.RunOnceForTest();
  entered2.WaitForNotification();
  clock.Advance(absl::Seconds(10));
  registry.RunOnceForTest();
  EXPECT_EQ(registry.worker_threads_for_test(), 2);
  clock.Advance(absl::Seconds(5));
  registry.RunOnceForTest();
  const auto snap = registry.snapshot();
  EXPECT_EQ(snap->FindCheck("hung")->result.status, Status::kUnhealthy);
  EXPECT_EQ(snap->FindCheck("hung2")->result.status, Status::kUnhealthy);
  EXPECT_EQ(snap->FindCheck("other")->result.status, Status::kUnhealthy);
  // Its second run, queued at 10 s, timed out in the queue (its first run
  // was recorded before time moved).
  EXPECT_THAT(snap->FindCheck("other")->result.message,
              HasSubstr("timed out after 5s (running for 5s)"));
  EXPECT_EQ(snap->FindCheck("other")->run_count, 1u);
  EXPECT_EQ(s.runs(), 1);
  EXPECT_EQ(registry.worker_threads_for_test(), 2);
  release.Notify();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
}

TEST(RegistryThreadTest, BackgroundSchedulerRunsChecksOnRealClock) {
  HealthRegistry registry;
  Notification ran;
  Check c;
  c.name = "bg";
  c.function = [&](const CheckContext&) {
    if (!ran.HasBeenNotified()) ran.Notify();
    return CheckResult::Healthy();
  };
  ASSERT_TRUE(registry.Register(c).ok());
  registry.Start();
  registry.Start();  // Idempotent.
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  registry.Stop();
  registry.Stop();
}

// A check whose interval is shorter than its timeout runs on its interval:
// the background scheduler, asleep until the run's timeout deadline, is
// woken when the run completes early (it used to sleep until the stale
// deadline, so such a check ran once per timeout).
TEST(RegistryThreadTest, IntervalShorterThanTimeoutRunsOnItsInterval) {
  testing::FakeClock clock;
  RegistryOptions o;
  o.clock = &clock;
  HealthRegistry registry(o);
  Scripted s;
  Check c;
  c.name = "fast";
  c.function = s.Function();
  c.options.interval = absl::Seconds(1);
  c.options.timeout = absl::Seconds(5);
  ASSERT_TRUE(registry.Register(c).ok());
  registry.Start();
  ASSERT_TRUE(s.WaitForStarts(1));
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  for (int i = 2; i <= 4; ++i) {
    clock.Advance(absl::Seconds(1));  // Well before the 5 s timeout.
    ASSERT_TRUE(s.WaitForStarts(i)) << "run " << i << " never started";
    ASSERT_TRUE(registry.WaitUntilIdleForTest());
  }
  registry.Stop();
}

TEST(RegistryThreadTest, ManyConcurrentReadersDuringPublication) {
  testing::FakeClock clock;
  RegistryOptions o;
  o.clock = &clock;
  HealthRegistry registry(o);
  Scripted s;
  for (int i = 0; i < 20; ++i) {
    Check c;
    c.name = absl::StrCat("c", i);
    c.function = s.Function();
    c.options.interval = absl::Seconds(1);
    ASSERT_TRUE(registry.Register(c).ok());
  }
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto snap = registry.snapshot();
        EXPECT_LE(snap->checks.size(), 20u);
        (void)registry.GroupStatus(kReadiness);
        reads.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    clock.Advance(absl::Seconds(1));
    registry.RunOnceForTest();
    ASSERT_TRUE(registry.WaitUntilIdleForTest());
  }
  done.store(true);
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(s.runs(), 20 * 50);  // One run per check per tick.
}

}  // namespace
}  // namespace vigil
