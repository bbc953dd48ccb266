// Source: where a pressure detector reads /proc and /sys, and what it
// watches.
//
// Every detector reads through `root` (default "/"), so tests point it at a
// fixture tree. By default a detector watches this process and its own
// cgroups; `pid` watches another process and `cgroup_dir` an explicit cgroup
// (a job's cgroup, a child's sandbox).
//
//   vigil::pressure::Source s;                       // this process
//   s.cgroup_dir = "/sys/fs/cgroup/memory/batch";    // ... or that cgroup

#ifndef VIGIL_HEALTH_PRESSURE_SOURCE_H_
#define VIGIL_HEALTH_PRESSURE_SOURCE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vigil {
namespace pressure {

struct Source {
  // Directory under which /proc and /sys are read. Must be absolute.
  std::string root = "/";
  // The process watched: 0 means this process (/proc/self). Must be >= 0.
  int pid = 0;
  // An absolute cgroup directory inside `root` (v1 or v2, e.g.
  // "/sys/fs/cgroup/memory/job" or "/sys/fs/cgroup/system.slice/x.service")
  // watched instead of the process's own cgroup. Empty: resolve the cgroups
  // of `pid` from /proc/<pid>/cgroup and /proc/self/mountinfo.
  std::string cgroup_dir;

  // OK, or InvalidArgument naming `field` ("memory.source.root: ...").
  absl::Status Validate(absl::string_view field) const;
};

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_SOURCE_H_
