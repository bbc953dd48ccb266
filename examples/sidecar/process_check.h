// ProcessCheck: is a process alive, not a zombie and not stopped?
//
// Reads <proc_root>/proc/<pid>/stat (the pid given directly or read from a
// pidfile at every run, so a restarted process is followed). UNHEALTHY when
// the pidfile is missing or malformed, the process does not exist, is a
// zombie (Z: exited, not reaped) or dead (X), or is stopped (T, t: SIGSTOP
// or a tracer; it cannot serve). HEALTHY otherwise, with the process's name
// and state in the message.
//
//   vigil_sidecar::ProcessCheckOptions o;
//   o.pidfile = "/run/app.pid";
//   registry.Register(vigil_sidecar::ProcessCheck(o).value());
//
// The check function is thread-safe (it reads files only).

#ifndef VIGIL_EXAMPLES_SIDECAR_PROCESS_CHECK_H_
#define VIGIL_EXAMPLES_SIDECAR_PROCESS_CHECK_H_

#include <string>

#include "absl/status/statusor.h"
#include "health/check.h"

namespace vigil_sidecar {

struct ProcessCheckOptions {
  // Exactly one of pid (> 0) and pidfile.
  int pid = 0;
  std::string pidfile = {};
  // Directory under which proc/ is read. Must be absolute.
  std::string proc_root = "/";
  // Default "process:<pid>" or "process:<pidfile's base name>".
  std::string name = {};
  // Default: a dependency in readiness.
  vigil::CheckOptions check = [] {
    vigil::CheckOptions o;
    o.kind = vigil::CheckKind::kDependency;
    return o;
  }();
};

// The check, or InvalidArgument naming the bad field (pid/pidfile,
// proc_root, or the check options via vigil::ValidateCheck).
absl::StatusOr<vigil::Check> ProcessCheck(ProcessCheckOptions options);

}  // namespace vigil_sidecar

#endif  // VIGIL_EXAMPLES_SIDECAR_PROCESS_CHECK_H_
