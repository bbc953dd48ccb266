// Scenario S1, for real: a child process grows its memory step by step in a
// fresh memory cgroup with a 96 MiB limit until the kernel OOM-kills it. The
// memory detector, pointed at that cgroup and sampled through a
// HealthRegistry after every step, must report a time to exhaustion, then
// turn readiness DEGRADED and then UNHEALTHY — while the cgroup's oom_kill
// counter is still 0 — and the kill must come after. The lead time between
// UNHEALTHY and the kill is printed.
//
// Needs root and a writable /sys/fs/cgroup (tags = ["no-sandbox"]): skips
// with the reason otherwise, and fails instead under CI.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "health/pressure/internal/parse.h"
#include "health/pressure/memory.h"
#include "health/pressure/testing/test_util.h"
#include "health/registry.h"
#include "health/testing/require.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace pressure {
namespace {

using testing::StartWorkload;
using vigil::testing::ReadFile;
using vigil::testing::Subprocess;
using vigil::testing::WaitFor;
using vigil::testing::WriteFile;

constexpr int64_t kLimit = 96 << 20;

struct MemoryHierarchy {
  bool v2 = false;
  std::string mount_point;
};

// Where a memory cgroup can be created: the v1 memory hierarchy, or a v2
// hierarchy offering the memory controller.
std::optional<MemoryHierarchy> FindMemoryHierarchy() {
  absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return std::nullopt;
  std::optional<MemoryHierarchy> v2;
  for (const internal::MountEntry& m : internal::ParseMountinfo(*mountinfo)) {
    if (m.fs_type == "cgroup") {
      for (absl::string_view o : absl::StrSplit(m.super_options, ',')) {
        if (o == "memory") return MemoryHierarchy{false, m.mount_point};
      }
    } else if (m.fs_type == "cgroup2" && !v2) {
      absl::StatusOr<std::string> c =
          ReadFile(m.mount_point + "/cgroup.controllers");
      if (c.ok() && c->find("memory") != std::string::npos) {
        v2 = MemoryHierarchy{true, m.mount_point};
      }
    }
  }
  return v2;
}

std::optional<uint64_t> OomKills(const std::string& dir, bool v2) {
  absl::StatusOr<std::string> c =
      ReadFile(dir + (v2 ? "/memory.events" : "/memory.oom_control"));
  if (!c.ok()) return std::nullopt;
  std::optional<uint64_t> kills;
  const internal::KeyedField fields[] = {{"oom_kill", &kills}};
  internal::ParseFlatKeyed(*c, fields);
  return kills;
}

TEST(MemoryOomScenario, DegradedThenUnhealthyBeforeTheOomKill) {
  VIGIL_REQUIRE_OR_SKIP(geteuid() == 0, "needs root to create a memory cgroup");
  std::optional<MemoryHierarchy> h = FindMemoryHierarchy();
  VIGIL_REQUIRE_OR_SKIP(h.has_value(), "no memory cgroup hierarchy mounted");
  const std::string dir =
      absl::StrCat(h->mount_point, "/vigil-s1-", getpid(), "-",
                   absl::ToUnixNanos(absl::Now()) % 1000000);
  if (h->v2) {
    // Children of the v2 root get the controller only when it is enabled.
    WriteFile(h->mount_point + "/cgroup.subtree_control", "+memory")
        .IgnoreError();
  }
  const bool made = mkdir(dir.c_str(), 0755) == 0;
  const int mkdir_errno = errno;
  VIGIL_REQUIRE_OR_SKIP(
      made, "cannot create " << dir << ": " << std::strerror(mkdir_errno)
                             << " (a sandbox mounts /sys/fs/cgroup read-only: "
                                "tags = [\"no-sandbox\"])");
  std::unique_ptr<Subprocess> child;
  absl::Cleanup cleanup = [&] {
    if (child) child->Stop(SIGKILL, absl::ZeroDuration());
    // rmdir fails with EBUSY until the killed task has fully exited.
    const bool removed =
        WaitFor([&] { return rmdir(dir.c_str()) == 0 || errno == ENOENT; },
                absl::Seconds(10));
    EXPECT_TRUE(removed) << "could not remove " << dir << ": "
                         << std::strerror(errno);
  };
  if (h->v2) {
    const absl::Status limited =
        WriteFile(dir + "/memory.max", absl::StrCat(kLimit));
    ASSERT_TRUE(limited.ok()) << limited;
    // Absent without swap support.
    WriteFile(dir + "/memory.swap.max", "0").IgnoreError();
  } else {
    const absl::Status limited =
        WriteFile(dir + "/memory.limit_in_bytes", absl::StrCat(kLimit));
    ASSERT_TRUE(limited.ok()) << limited;
    // No swapping out of the squeeze (absent without swap accounting).
    WriteFile(dir + "/memory.memsw.limit_in_bytes", absl::StrCat(kLimit))
        .IgnoreError();
    WriteFile(dir + "/memory.swappiness", "0").IgnoreError();
  }
  ASSERT_EQ(OomKills(dir, h->v2), 0u);

  // The detector, through a registry, as a service would run it.
  MemoryOptions options;
  options.source.cgroup_dir = dir;
  options.trend.window = absl::Seconds(3);
  options.trend.min_span = absl::Milliseconds(500);
  options.trend.min_samples = 5;
  options.trend.horizon = absl::Milliseconds(1500);
  options.check.interval = absl::Milliseconds(1);  // Due at every step.
  // This test follows the long trend and the static thresholds step by
  // step. At 25 MiB/s into 96 MiB the spike trend (4 s floor) would fail
  // readiness at once, skipping DEGRADED: the service-level S1 test
  // (examples/service:memory_spike_test) covers that path.
  options.spike.enabled = false;
  std::shared_ptr<MemoryDetector> detector;
  absl::StatusOr<Check> check = MemoryCheck(options, &detector);
  ASSERT_TRUE(check.ok()) << check.status();
  HealthRegistry registry;  // Real clock.
  ASSERT_TRUE(registry.Register(*std::move(check)).ok());

  // 1 MiB every 40 ms (25 MiB/s) until the OOM kill: 9 steps (360 ms)
  // between the critical threshold and the limit, enough for a loaded
  // machine to sample in between.
  absl::StatusOr<std::unique_ptr<Subprocess>> started =
      StartWorkload({"memory", "1024", "40", "1024"}, dir + "/cgroup.procs");
  ASSERT_TRUE(started.ok()) << started.status();
  child = *std::move(started);

  struct Event {
    absl::Time time = absl::InfinitePast();
    int step = -1;
    double ratio = 0;
    std::string message;
  };
  std::optional<Event> first_tte, first_degraded, first_unhealthy;
  std::optional<absl::Duration> tte_at_first;
  std::optional<uint64_t> kills_at_unhealthy, detector_kills_at_unhealthy;
  Status readiness_at_degraded = Status::kUnknown;
  Status readiness_at_unhealthy = Status::kUnknown;
  int steps = 0;
  bool eof = false;
  const absl::Time start = absl::Now();
  while (steps < 2000 && absl::Now() - start < absl::Seconds(60)) {
    std::optional<std::string> line = child->ReadLine(absl::Seconds(10), &eof);
    if (!line) break;
    ASSERT_TRUE(absl::StartsWith(*line, "allocated ")) << *line;
    ++steps;
    registry.RunOnceForTest();
    ASSERT_TRUE(registry.WaitUntilIdleForTest());
    std::shared_ptr<const Snapshot> s = registry.snapshot();
    const CheckSnapshot* c = s->FindCheck("memory");
    ASSERT_NE(c, nullptr);
    const absl::Time now = absl::Now();
    Event e{now, steps, c->result.observed_value.value_or(0),
            c->result.message};
    if (!first_tte && c->result.time_to_exhaustion) {
      first_tte = e;
      tte_at_first = c->result.time_to_exhaustion;
    }
    if (!first_degraded && c->result.status == Status::kDegraded) {
      first_degraded = e;
      readiness_at_degraded = registry.GroupStatus(kReadiness);
    }
    if (!first_unhealthy && c->result.status == Status::kUnhealthy) {
      first_unhealthy = e;
      readiness_at_unhealthy = registry.GroupStatus(kReadiness);
      kills_at_unhealthy = OomKills(dir, h->v2);
      detector_kills_at_unhealthy = detector->LatestReading().oom_kills;
    }
  }
  const absl::Time end = absl::Now();
  ASSERT_TRUE(eof) << "the child neither grew nor died within bounds (" << steps
                   << " steps)";

  // The child died of the OOM killer.
  std::optional<int> status = child->WaitForExit(absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
      << "wait status " << *status;
  EXPECT_GE(OomKills(dir, h->v2).value_or(0), 1u) << "not an OOM kill";

  // What the detector said, in order, before it.
  ASSERT_TRUE(first_tte.has_value()) << "no time to exhaustion reported";
  ASSERT_TRUE(first_degraded.has_value()) << "never DEGRADED";
  ASSERT_TRUE(first_unhealthy.has_value()) << "never UNHEALTHY before the kill";
  EXPECT_LE(first_tte->step, first_degraded->step);
  EXPECT_LT(first_degraded->step, first_unhealthy->step);
  EXPECT_LT(first_tte->step, first_unhealthy->step);
  EXPECT_EQ(kills_at_unhealthy, 0u) << "the kill came first";
  EXPECT_EQ(detector_kills_at_unhealthy, 0u);
  EXPECT_EQ(readiness_at_degraded, Status::kDegraded);    // Still serving.
  EXPECT_EQ(readiness_at_unhealthy, Status::kUnhealthy);  // Shedding load.

  // After the kill the detector reports it.
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  const CheckSnapshot* after = registry.snapshot()->FindCheck("memory");
  EXPECT_GE(detector->LatestReading().oom_kills.value_or(0), 1u);
  EXPECT_NE(after->result.message.find("OOM kill in the cgroup"),
            std::string::npos)
      << after->result.message;

  const double step_mib = 1.0;
  std::cout << "S1 (cgroup " << (h->v2 ? "v2" : "v1") << ", limit 96 MiB, "
            << "growth 1 MiB / 40 ms):\n"
            << "  first time to exhaustion at step " << first_tte->step << " ("
            << first_tte->step * step_mib
            << " MiB touched): " << absl::FormatDuration(*tte_at_first) << "\n"
            << "  DEGRADED at step " << first_degraded->step << ", ratio "
            << first_degraded->ratio << ": " << first_degraded->message << "\n"
            << "  UNHEALTHY at step " << first_unhealthy->step << ", ratio "
            << first_unhealthy->ratio << ": " << first_unhealthy->message
            << "\n"
            << "  OOM kill after step " << steps << "\n"
            << "  lead time DEGRADED -> OOM kill: "
            << absl::FormatDuration(end - first_degraded->time) << "\n"
            << "  lead time UNHEALTHY -> OOM kill: "
            << absl::FormatDuration(end - first_unhealthy->time) << " ("
            << steps - first_unhealthy->step << " steps of 1 MiB)\n";
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
