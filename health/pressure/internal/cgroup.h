// Where a process's cgroups live: v1, v2 and hybrid layouts.
//
// Resolution reads /proc/<pid>/cgroup (which cgroup of each hierarchy the
// target is in, relative to our cgroup namespace) and /proc/self/mountinfo
// (where each hierarchy is mounted in our mount namespace, and which subtree
// of it: inside a container without a cgroup namespace the mount's root is
// the container's cgroup). Runs once, at detector creation; allocates.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_CGROUP_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_CGROUP_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vigil {
namespace pressure {
namespace internal {

enum class CgroupVersion { kNone, kV1, kV2 };

// One cgroup directory of one hierarchy.
struct CgroupDir {
  CgroupVersion version = CgroupVersion::kNone;
  // Path inside the root, e.g. "/sys/fs/cgroup/memory/app" (for reports).
  std::string path;
  // `path` joined with the root: what is opened.
  std::string full_path;
  // The hierarchy's mount point joined with the root: the topmost visible
  // ancestor. Equal to full_path when the target is the visible root.
  std::string mount_full_path;

  bool ok() const { return version != CgroupVersion::kNone; }
  // The hierarchy's top cgroup (not merely the top visible one, as inside a
  // container without a cgroup namespace): its figures are the whole
  // machine's, and it has no limits.
  bool is_root = false;
  // full_path for cgroup-local PSI files, or "" for the root cgroup (whose
  // PSI is the system's: /proc/pressure is the honest name for it).
  std::string PsiDir() const { return ok() && !is_root ? full_path : ""; }
  // full_path, then each parent up to and including mount_full_path.
  std::vector<std::string> AncestorFullPaths() const;
  // "v1 /sys/fs/cgroup/memory/app" or "none".
  std::string Describe() const;
};

struct CgroupLayout {
  // The hierarchy holding each controller for the target (v1 controller
  // hierarchy, or the v2 hierarchy when the controller is enabled there).
  CgroupDir memory;
  CgroupDir cpu;
  CgroupDir pids;
  // The target's v2 cgroup even when no controller is on v2 (hybrid): it
  // carries cgroup-local PSI files (<resource>.pressure).
  CgroupDir unified;
  // "v1", "v2", "hybrid" or "none".
  std::string mode = "none";
  // Why something could not be resolved (empty when all went well).
  std::string problems;
};

// Resolves the cgroups of process `pid` (0 = this process) under `root`.
CgroupLayout ResolveCgroups(absl::string_view root, int pid);

// Treats `dir` (an absolute path inside `root`, e.g.
// "/sys/fs/cgroup/memory/job") as the target cgroup. Its version and
// controllers are told by the files in it; its mount point comes from
// /proc/self/mountinfo (or is `dir` itself when that is unreadable).
CgroupLayout CgroupLayoutForDir(absl::string_view root, absl::string_view dir);

// "/proc/self" or "/proc/<pid>".
std::string ProcDir(int pid);

}  // namespace internal
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_CGROUP_H_
