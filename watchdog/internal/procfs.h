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

// The files are read and parsed by the one /proc + cgroup + PSI reader,
// health/pressure/internal/{file,parse}.h; these keep the watchdog's
// StatusOr-style calls.

// `root` + `path`, without a doubled slash (pressure::internal::JoinRoot).
std::string RootedPath(absl::string_view root, absl::string_view path);

// The whole file (pressure::internal::ReadWholeFile), or NotFound /
// Internal.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

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
  // Time the cgroup spent throttled by its CPU quota: cgroup v2
  // cpu.stat throttled_usec, or cgroup v1 cpu.stat throttled_time.
  std::optional<absl::Duration> throttled;
  // Time at least one task of the cgroup waited for a CPU: the "some total"
  // of the cgroup's own cpu.pressure (cgroup v2 only; the root cgroup's
  // pressure is the whole machine's and is not taken as evidence that this
  // process was starved).
  std::optional<absl::Duration> cpu_pressure_some;
  // The files read, for reports: "cgroup v2 /sys/fs/cgroup/app/cpu.stat".
  std::vector<std::string> sources;
};

// Reads <root>/proc/self/cgroup, finds the cgroup v2 path ("0::/...") and
// the v1 cpu controller's path, then the counters under
// <root>/sys/fs/cgroup (pure v2), <root>/sys/fs/cgroup/unified (hybrid) and
// <root>/sys/fs/cgroup/cpu[,cpuacct] (v1). Never fails: missing sources
// leave fields empty.
CpuStarvationSample SampleCpuStarvation(absl::string_view root);

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_INTERNAL_PROCFS_H_
