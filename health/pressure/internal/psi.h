// One PSI file (pressure stall information), cgroup-local when possible.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_PSI_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_PSI_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/parse.h"

namespace vigil {
namespace pressure {
namespace internal {

class PsiSource {
 public:
  // Uses `<cgroup_full_path>/<resource>.pressure` when that directory is
  // given and the file reads and parses (cgroup v2, also in hybrid mode),
  // else `<root>/proc/pressure/<resource>` (system-wide). `resource` is
  // "memory", "cpu" or "io".
  void Open(absl::string_view root, const std::string& cgroup_full_path,
            absl::string_view resource);

  // Re-reads and parses. False (content cleared) on failure; error() says
  // why.
  bool Read();

  const PsiContent& content() const { return content_; }
  // Whether a file was opened at all (false: PSI absent).
  bool opened() const { return file_.is_open(); }
  bool cgroup_local() const { return cgroup_local_; }
  const std::string& path() const { return file_.path(); }
  int error() const { return file_.error(); }
  // "cgroup" or "system".
  absl::string_view scope() const {
    return cgroup_local_ ? "cgroup" : "system";
  }

 private:
  KeptOpenFile file_;
  bool cgroup_local_ = false;
  PsiContent content_;
};

// The one way vigil arms a PSI trigger (MemoryEvents, PsiEvents and
// PressureMonitor all call it). Arms "some <stall> <window>" (microseconds)
// on the PSI file at `path`: opens it read-write and writes the trigger
// with its NUL. Returns the fd (owned by the caller; it signals POLLPRI
// when the trigger fires, POLLERR when its cgroup goes away), or -1 with
// *problem set to why not:
//   "disabled"                                   `enabled` is false
//   "no <resource> PSI file"                     `path` is empty
//   "<path>: not a kernel PSI file; polling only"  not on procfs or cgroup2
//                                                (a fixture tree's regular
//                                                file is never written)
//   "<path>: open for writing: ..." or "<path>: trigger \"some 150000
//   2000000\" refused: ..."
// The kernel needs windows of 0.5..10 s (multiples of 2 s without
// CAP_SYS_RESOURCE) and has triggers from 5.2 on.
int ArmPsiTrigger(bool enabled, const std::string& path,
                  absl::string_view resource, absl::Duration stall,
                  absl::Duration window, std::string* problem);

// OK, or InvalidArgument "<prefix>.trigger_window: must be between 500ms
// and 10s" / "<prefix>.trigger_stall: must be > 0 and below
// trigger_window", the kernel's own limits.
absl::Status ValidatePsiTrigger(absl::string_view prefix, absl::Duration stall,
                                absl::Duration window);

}  // namespace internal
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_PSI_H_
