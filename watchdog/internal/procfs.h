// The few /proc and /sys facts the watchdog and the supervisor read, each
// through an injectable root so tests can point them at fixture trees.
//
// `root` is prepended to every absolute path: "" (or "/") reads the real
// files, "/tmp/fixture" reads "/tmp/fixture/proc/self/status" and so on.
// All functions are thread-safe and allocate; none is async-signal-safe.

#ifndef VIGIL_WATCHDOG_INTERNAL_PROCFS_H_
#define VIGIL_WATCHDOG_INTERNAL_PROCFS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {
namespace internal {

// Every file is read, and every format parsed, by the one /proc + cgroup +
// PSI reader, //health/pressure:procfs (health/pressure/internal/); these
// keep the watchdog's StatusOr-style calls. Paths are joined with
// pressure::internal::JoinRoot.

// TracerPid from <root>/proc/self/status: 0 when no debugger is attached.
absl::StatusOr<pid_t> TracerPid(absl::string_view root);

// Threads: from <root>/proc/self/status.
absl::StatusOr<int> ThreadCount(absl::string_view root);

// The kernel's name of thread `tid` of this process
// (<root>/proc/self/task/<tid>/comm, trailing newline removed); empty when
// unreadable.
std::string ThreadName(absl::string_view root, pid_t tid);

// argv of this process from <root>/proc/self/cmdline.
absl::StatusOr<std::vector<std::string>> Cmdline(absl::string_view root);

// Cumulative CPU-starvation counters of the cgroup this process runs in.
// Two samples bracket a window; their difference says how much of it the
// process could not run. Each field is absent when its source is.
struct CpuStarvationSample {
  // Time the cgroup spent throttled by its CPU quota: cpu.stat of the
  // cgroup holding the cpu controller (v2 throttled_usec, or v1
  // throttled_time; pressure::internal::ParseCpuStat).
  std::optional<absl::Duration> throttled;
  // Time at least one task of the cgroup waited for a CPU: the "some total"
  // of the cgroup's own cpu.pressure in the v2 hierarchy (pure v2, or the
  // v2 side of a hybrid; the root cgroup's pressure is the whole machine's
  // and is not taken as evidence that this process was starved).
  std::optional<absl::Duration> cpu_pressure_some;
  // The files read (joined with the root), for reports:
  // "<root>/sys/fs/cgroup/app/cpu.stat".
  std::vector<std::string> sources;
};

// Locates this process's cgroups as the pressure detectors do
// (pressure::internal::ResolveCgroups: <root>/proc/self/cgroup and
// <root>/proc/self/mountinfo, v1, v2 and hybrid layouts, mounts of a
// subtree inside containers), then reads the CPU cgroup's cpu.stat and the
// v2 cgroup's cpu.pressure. Resolves again on every call (the process may
// have moved). Never fails: an unresolvable layout or missing files leave
// fields empty.
CpuStarvationSample SampleCpuStarvation(absl::string_view root);

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_INTERNAL_PROCFS_H_
