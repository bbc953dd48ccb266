// Tasks: threads and processes against the limits that make fork() and
// pthread_create() fail with EAGAIN.
//
// Three gauges, each with thresholds and a trend; the worst one decides:
//   cgroup   pids.max of the target's pids cgroup (v1 pids controller or
//            v2) and of each visible ancestor ("max" = no limit), each
//            against the pids.current of the cgroup carrying it (siblings
//            share an ancestor's limit); the fullest one binds. What
//            container runtimes and systemd (TasksMax=) set
//   process  the process's threads (/proc/<pid>/stat, num_threads) against
//            its soft RLIMIT_NPROC (/proc/<pid>/limits). The limit counts
//            every task of the user, so this is a lower bound; the kernel
//            does not enforce it for root
//   system   all tasks (/proc/loadavg) against the smaller of
//            /proc/sys/kernel/threads-max and /proc/sys/kernel/pid_max
// A limit that is absent or unlimited makes its gauge "not applicable".
//
// Defaults: 80% warns, 90% is critical; DEGRADED when a limit is predicted
// within 30 min.
//
//   absl::StatusOr<vigil::Check> check = vigil::pressure::TasksCheck();
//
// Thread safety: as MemoryDetector.

#ifndef VIGIL_HEALTH_PRESSURE_TASKS_H_
#define VIGIL_HEALTH_PRESSURE_TASKS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/clock.h"
#include "health/pressure/internal/detector.h"
#include "health/pressure/source.h"
#include "health/pressure/thresholds.h"
#include "health/pressure/trend.h"

namespace vigil {
namespace pressure {

struct TasksOptions {
  std::string name = "tasks";
  Source source;
  // Not owned; nullptr means Clock::Real().
  Clock* clock = nullptr;
  // Used / limit, for each of the three gauges.
  Thresholds usage = {0.80, 0.90, 0.03};
  // 10 min window, speaks after 1 min, DEGRADED within 30 min.
  TrendOptions trend = DefaultTrend();
  // Registry options: every 10 s, critical, readiness.
  CheckOptions check = DefaultCheckOptions();

  static TrendOptions DefaultTrend();
  static CheckOptions DefaultCheckOptions();
  absl::Status Validate() const;
};

struct TasksReading {
  absl::Time time = absl::InfinitePast();
  // cgroup gauge: the target cgroup's pids.current, and the binding limit
  // (the cgroup on the path using the largest share of its pids.max) with
  // that cgroup's pids.current.
  std::optional<double> cgroup_pids;
  std::optional<double> cgroup_pids_used;
  std::optional<double> cgroup_pids_limit;
  // process gauge.
  std::optional<double> process_threads;
  std::optional<double> nproc_limit;
  // system gauge.
  std::optional<double> system_tasks;
  std::optional<double> system_tasks_limit;
  // The worst ratio over the gauges that have a limit, and the soonest
  // predicted exhaustion.
  std::optional<double> usage_ratio;
  std::optional<absl::Duration> time_to_exhaustion;
  Level level = Level::kOk;
};

// Create(), Sample(), Run(), LatestReading() and options() come from the
// detector skeleton (internal/detector.h), with the signatures shown.
class TasksDetector
    : public internal::DetectorCore<TasksDetector, TasksOptions, TasksReading> {
 public:
  // static absl::StatusOr<std::unique_ptr<TasksDetector>> Create(
  //     TasksOptions);
  // InvalidArgument for bad options. Missing files are reported, not fatal.
  using DetectorCore::Create;
  ~TasksDetector();

  // const TasksReading& Sample(); allocation-free in steady state.
  using DetectorCore::Sample;
  CheckResult Result() const;
  // CheckResult Run(): Sample() then Result().
  using DetectorCore::Run;
  // TasksReading LatestReading() const; thread-safe.
  using DetectorCore::LatestReading;
  std::vector<std::string> Files() const;
  // const TasksOptions& options() const;
  using DetectorCore::options;

 private:
  friend DetectorCore;
  struct Impl;
  explicit TasksDetector(TasksOptions options);
  absl::Status Open();
  void Read(absl::Time now, TasksReading& r);

  std::unique_ptr<Impl> impl_;
};

absl::StatusOr<Check> TasksCheck(
    TasksOptions options = {},
    std::shared_ptr<TasksDetector>* detector = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_TASKS_H_
