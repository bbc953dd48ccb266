// Scenario S2, for real: a small tmpfs mounted by the test fills at a steady
// rate until writes fail with ENOSPC. The disk detector, sampled after every
// write, must go DEGRADED at the warn threshold, UNHEALTHY at the critical
// one, and predict the time until full within ±25% of when it really
// happened. Then the inodes of another tmpfs run out with empty files.
//
// Needs root (mount); the linux-sandbox gives the test its own mount
// namespace. Skips with the reason otherwise, and fails instead under CI.

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "health/pressure/disk.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/fake_clock.h"
#include "health/testing/require.h"
#include "health/testing/subprocess.h"

namespace vigil {
namespace pressure {
namespace {

using testing::StartWorkload;
using vigil::testing::Subprocess;

// Mounts a tmpfs with `options` at a fresh directory; "" on failure with
// *error set.
std::string MountTmpfs(absl::string_view name, const std::string& options,
                       std::string* error) {
  std::string tmp = ::testing::TempDir();
  while (!tmp.empty() && tmp.back() == '/') tmp.pop_back();
  const std::string dir = absl::StrCat(tmp, "/", name, "-", getpid());
  std::filesystem::create_directories(dir);
  if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
            options.c_str()) != 0) {
    *error = absl::StrCat("mount -t tmpfs -o ", options, " ", dir, ": ",
                          std::strerror(errno));
    return "";
  }
  return dir;
}

void Unmount(const std::string& dir) {
  EXPECT_EQ(umount2(dir.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  std::filesystem::remove(dir);
}

struct Prediction {
  absl::Time at;
  double ratio = 0;
  double predicted_seconds = 0;
};

// |predicted - actual| / actual, with actual = full - at.
double RelativeError(const Prediction& p, absl::Time full) {
  const double actual = absl::ToDoubleSeconds(full - p.at);
  return std::fabs(p.predicted_seconds - actual) / actual;
}

TEST(DiskFullScenario, WarnCriticalAndTimeToFullOnAFillingTmpfs) {
  VIGIL_REQUIRE_OR_SKIP(geteuid() == 0, "needs root to mount a tmpfs");
  std::string error;
  const std::string dir = MountTmpfs("s2-bytes", "size=16m", &error);
  VIGIL_REQUIRE_OR_SKIP(!dir.empty(), error);
  std::unique_ptr<Subprocess> child;
  absl::Cleanup cleanup = [&] {
    if (child) child->Stop(SIGKILL, absl::ZeroDuration());
    Unmount(dir);
  };

  DiskOptions options;
  options.path = dir;
  options.trend.window = absl::Seconds(4);
  options.trend.min_span = absl::Seconds(1);
  options.trend.min_samples = 5;
  // The prediction is measured; only the static thresholds change status
  // here (the memory scenario covers the horizon alarm).
  options.trend.horizon = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<DiskDetector>> detector =
      DiskDetector::Create(options);  // Real clock.
  ASSERT_TRUE(detector.ok()) << detector.status();
  DiskDetector& d = **detector;
  ASSERT_EQ(d.Sample().bytes_total, 16.0 * 1024 * 1024);

  // 64 KiB every 50 ms: 1.25 MiB/s, full after about 13 s.
  absl::StatusOr<std::unique_ptr<Subprocess>> started =
      StartWorkload({"fill", dir + "/fill.bin", "64", "50"});
  ASSERT_TRUE(started.ok()) << started.status();
  child = *std::move(started);

  std::optional<Prediction> first, at_warn, at_critical;
  std::optional<absl::Time> degraded_at, unhealthy_at;
  Status status = Status::kHealthy;
  std::optional<absl::Time> full_at;
  const absl::Time start = absl::Now();
  for (int steps = 0; steps < 1000 && absl::Now() - start < absl::Seconds(60);
       ++steps) {
    std::optional<std::string> line = child->ReadLine(absl::Seconds(10));
    ASSERT_TRUE(line.has_value()) << "filler stopped";
    if (absl::StartsWith(*line, "full ")) {
      full_at = absl::Now();
      break;
    }
    ASSERT_TRUE(absl::StartsWith(*line, "wrote ")) << *line;
    const DiskReading& r = d.Sample();
    CheckResult c = d.Result();
    ASSERT_TRUE(r.bytes_ratio.has_value());
    std::optional<Prediction> p;
    if (r.bytes_time_to_full) {
      p = Prediction{r.time, *r.bytes_ratio,
                     absl::ToDoubleSeconds(*r.bytes_time_to_full)};
      EXPECT_EQ(c.time_to_exhaustion, r.bytes_time_to_full);
      if (!first) first = p;
    }
    if (c.status != status) {
      // Only upward transitions while filling, each at its threshold.
      EXPECT_GT(Severity(c.status), Severity(status)) << c.message;
      if (c.status == Status::kDegraded) {
        EXPECT_GE(*r.bytes_ratio, 0.85);
        EXPECT_LT(*r.bytes_ratio, 0.90);
        degraded_at = r.time;
        at_warn = p;
      } else if (c.status == Status::kUnhealthy) {
        EXPECT_GE(*r.bytes_ratio, 0.90);
        unhealthy_at = r.time;
        at_critical = p;
      }
      std::cout << "S2 " << StatusName(c.status) << ": " << c.message << "\n";
      status = c.status;
    }
  }
  ASSERT_TRUE(full_at.has_value()) << "the tmpfs never filled";
  ASSERT_TRUE(degraded_at.has_value()) << "never DEGRADED";
  ASSERT_TRUE(unhealthy_at.has_value()) << "never UNHEALTHY";
  ASSERT_TRUE(first.has_value()) << "no time to full predicted";
  ASSERT_TRUE(at_warn.has_value());
  ASSERT_TRUE(at_critical.has_value());
  EXPECT_LT(*degraded_at, *unhealthy_at);
  EXPECT_LT(*unhealthy_at, *full_at);

  for (const auto& [name, p] :
       {std::pair<const char*, Prediction>{"first prediction", *first},
        {"at warn", *at_warn},
        {"at critical", *at_critical}}) {
    const double actual = absl::ToDoubleSeconds(*full_at - p.at);
    std::cout << "S2 " << name << " (" << p.ratio * 100
              << "% used): predicted full in " << p.predicted_seconds
              << " s, really " << actual << " s (error "
              << RelativeError(p, *full_at) * 100 << "%)\n";
    EXPECT_LE(RelativeError(p, *full_at), 0.25) << name;
  }
  std::cout << "S2 lead time DEGRADED -> ENOSPC: "
            << absl::FormatDuration(*full_at - *degraded_at)
            << "; UNHEALTHY -> ENOSPC: "
            << absl::FormatDuration(*full_at - *unhealthy_at) << "\n";

  // The final reading: full, critical.
  const DiskReading& last = d.Sample();
  EXPECT_EQ(*last.bytes_available, 0);
  EXPECT_EQ(d.Result().status, Status::kUnhealthy);
  // Freeing space recovers without a restart.
  std::filesystem::remove(dir + "/fill.bin");
  d.Sample();
  EXPECT_EQ(d.Result().status, Status::kHealthy);
}

TEST(DiskFullScenario, InodeExhaustionWithEmptyFiles) {
  VIGIL_REQUIRE_OR_SKIP(geteuid() == 0, "needs root to mount a tmpfs");
  std::string error;
  const std::string dir =
      MountTmpfs("s2-inodes", "size=4m,nr_inodes=200", &error);
  VIGIL_REQUIRE_OR_SKIP(!dir.empty(), error);
  absl::Cleanup cleanup = [&] { Unmount(dir); };

  // One empty file per (fake) second: the prediction is exact, so this
  // checks the plumbing from statvfs to the reported time to full.
  vigil::testing::FakeClock clock;
  DiskOptions options;
  options.path = dir;
  options.clock = &clock;
  options.trend.window = absl::Seconds(60);
  options.trend.min_span = absl::Seconds(10);
  options.trend.horizon = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<DiskDetector>> detector =
      DiskDetector::Create(options);
  ASSERT_TRUE(detector.ok()) << detector.status();
  DiskDetector& d = **detector;
  const DiskReading& initial = d.Sample();
  ASSERT_EQ(initial.inodes_total, 200);
  EXPECT_LT(*initial.bytes_ratio, 0.01);  // Bytes are not the problem.

  Status status = Status::kHealthy;
  int created = 0;
  std::optional<int> degraded_at, unhealthy_at;
  std::optional<double> predicted_at_warn;
  for (; created < 300; ++created) {
    const std::string path = absl::StrCat(dir, "/f", created);
    int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
      ASSERT_EQ(errno, ENOSPC) << std::strerror(errno);
      break;
    }
    close(fd);
    clock.Advance(absl::Seconds(1));
    const DiskReading& r = d.Sample();
    CheckResult c = d.Result();
    if (c.status != status) {
      std::cout << "S2 inodes " << StatusName(c.status) << ": " << c.message
                << "\n";
      if (c.status == Status::kDegraded) {
        EXPECT_GE(*r.inodes_ratio, 0.90);
        degraded_at = created;
        ASSERT_TRUE(r.inodes_time_to_full.has_value());
        predicted_at_warn = absl::ToDoubleSeconds(*r.inodes_time_to_full);
        EXPECT_EQ(c.details.at("observed"), "inodes");
      } else if (c.status == Status::kUnhealthy) {
        EXPECT_GE(*r.inodes_ratio, 0.95);
        unhealthy_at = created;
      }
      status = c.status;
    }
  }
  ASSERT_TRUE(degraded_at.has_value());
  ASSERT_TRUE(unhealthy_at.has_value());
  EXPECT_LT(*degraded_at, *unhealthy_at);
  // Files created after the DEGRADED sample, until the next one failed.
  const double actual = created - 1 - *degraded_at;
  std::cout << "S2 inodes: DEGRADED " << actual << " files before ENOSPC, "
            << created - *unhealthy_at << " after UNHEALTHY; predicted "
            << *predicted_at_warn << " s at 1 file/s\n";
  EXPECT_NEAR(*predicted_at_warn, actual, 0.25 * actual);
  EXPECT_EQ(d.Result().status, Status::kUnhealthy);
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
