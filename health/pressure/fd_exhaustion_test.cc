// File descriptor exhaustion, for real: a child lowers its RLIMIT_NOFILE to
// 64 and opens /dev/null one descriptor at a time (lock-step with the test)
// until the kernel refuses with EMFILE, then closes them again. The fd
// detector, watching the child by pid, must go DEGRADED at 80% and
// UNHEALTHY at 90% of the limit, predict the exhaustion first, and come
// back down through the hysteresis band.

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "health/pressure/fds.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/fake_clock.h"
#include "health/testing/subprocess.h"

namespace vigil {
namespace pressure {
namespace {

using testing::StartWorkload;
using vigil::testing::Subprocess;

TEST(FdExhaustionScenario, TransitionsUpToEmfileAndBack) {
  absl::StatusOr<std::unique_ptr<Subprocess>> started =
      StartWorkload({"fds", "64"});
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<Subprocess> child = *std::move(started);
  ASSERT_EQ(child->ReadLine(absl::Seconds(10)), "ready");

  // One descriptor per (fake) second, so the trend is exact.
  vigil::testing::FakeClock clock;
  FdOptions options;
  options.source.pid = child->pid();
  options.clock = &clock;
  options.trend.window = absl::Seconds(60);
  options.trend.min_span = absl::Seconds(10);
  options.trend.horizon = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<FdDetector>> detector =
      FdDetector::Create(options);
  ASSERT_TRUE(detector.ok()) << detector.status();
  FdDetector& d = **detector;
  const FdReading& initial = d.Sample();
  ASSERT_EQ(initial.limit, 64) << "RLIMIT_NOFILE of the child";
  const int base = static_cast<int>(*initial.open_fds);  // stdio and such.
  ASSERT_LT(base, 40);

  // One command to the child, then one sample of `detector`.
  auto step = [&](char cmd, FdDetector& detector) {
    EXPECT_TRUE(child->Write(std::string(1, cmd)));
    std::optional<std::string> line = child->ReadLine(absl::Seconds(10));
    EXPECT_TRUE(line.has_value());
    clock.Advance(absl::Seconds(1));
    detector.Sample();
    return line.value_or("");
  };

  std::optional<int> first_tte, degraded_at, unhealthy_at;
  Status status = Status::kHealthy;
  bool emfile = false;
  for (int i = 0; i < 100 && !emfile; ++i) {
    const std::string line = step('o', d);
    emfile = line == "emfile";
    const FdReading r = d.LatestReading();
    const int open_fds = static_cast<int>(*r.open_fds);
    CheckResult c = d.Result();
    if (!first_tte && r.time_to_exhaustion) first_tte = open_fds;
    if (c.status != status) {
      // Trend alarm (30 s horizon at 1/s) may warn before 80%.
      if (c.status == Status::kDegraded) degraded_at = open_fds;
      if (c.status == Status::kUnhealthy) {
        unhealthy_at = open_fds;
        EXPECT_EQ(open_fds, 58) << "58/64 is the first count >= 90%";
        EXPECT_NE(c.message.find("58 of 64 file descriptors open"),
                  std::string::npos)
            << c.message;
      }
      status = c.status;
    }
  }
  ASSERT_TRUE(emfile) << "the limit never refused an open";
  // At least the limit (a descriptor numbered above the new limit, inherited
  // from before setrlimit, still counts).
  EXPECT_GE(*d.LatestReading().open_fds, 64);
  EXPECT_EQ(d.Result().status, Status::kUnhealthy);
  ASSERT_TRUE(first_tte.has_value()) << "no time to exhaustion";
  ASSERT_TRUE(degraded_at.has_value()) << "never DEGRADED";
  ASSERT_TRUE(unhealthy_at.has_value()) << "never UNHEALTHY";
  EXPECT_LE(*first_tte, *degraded_at);
  EXPECT_LT(*degraded_at, *unhealthy_at);
  // Within 30 s of the limit at 1/s: 64 − 30 = 34 open (or the trend's
  // minimum span, whichever comes later); never later than the 80% warn.
  EXPECT_LE(*degraded_at, 52);

  // Closing: UNHEALTHY holds down to 0.87 × 64 = 55.68, DEGRADED down to
  // 0.77 × 64 = 49.28 (and while the trend is still rising).
  options.trend.enabled = false;
  absl::StatusOr<std::unique_ptr<FdDetector>> no_trend =
      FdDetector::Create(options);
  ASSERT_TRUE(no_trend.ok());
  FdDetector& fresh = **no_trend;
  fresh.Sample();
  ASSERT_EQ(fresh.Result().status, Status::kUnhealthy);
  int open_fds = 64;
  std::optional<int> back_to_degraded, back_to_healthy;
  for (int i = 0; i < 100 && open_fds > base + 1; ++i) {
    const std::string line = step('c', fresh);
    ASSERT_TRUE(absl::StartsWith(line, "open ")) << line;
    open_fds = static_cast<int>(*fresh.LatestReading().open_fds);
    const Status s = fresh.Result().status;
    if (!back_to_degraded && s == Status::kDegraded)
      back_to_degraded = open_fds;
    if (!back_to_healthy && s == Status::kHealthy) back_to_healthy = open_fds;
  }
  EXPECT_EQ(back_to_degraded, 55);
  EXPECT_EQ(back_to_healthy, 49);
  child->Write("q");
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
