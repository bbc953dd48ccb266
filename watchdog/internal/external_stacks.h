// Out-of-process stack capture: the stacks of every thread of another
// process, taken from outside through ptrace and unwound with elfutils'
// libdw (the unwinder eu-stack uses: DWARF CFI from .eh_frame/.debug_frame,
// so frames of code built without frame pointers, libc included, are kept).
//
// The supervisor uses it on a hung or unresponsive child just before it
// stops it. Nothing runs inside the target: it works when every thread
// there is deadlocked in malloc, when its watchdog thread is itself stuck,
// and when it is stopped (SIGSTOP). The work runs in a short-lived helper
// process forked from the caller, so a capture that hangs (a target in
// uninterruptible sleep, a slow symbol lookup) is bounded: the helper is
// SIGKILLed at the deadline, which also detaches it from the target.
//
//   absl::StatusOr<vigil::internal::ExternalStacks> s =
//       vigil::internal::CaptureExternalStacks(child_pid, absl::Seconds(2));
//   if (s.ok()) Log(s->text);

#ifndef VIGIL_WATCHDOG_INTERNAL_EXTERNAL_STACKS_H_
#define VIGIL_WATCHDOG_INTERNAL_EXTERNAL_STACKS_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil {
namespace internal {

struct ExternalStacks {
  // One block per thread:
  //   thread 1234 "hang-worker":
  //     #0  0x00007f2c1a2b3c4d __lll_lock_wait+0x2d (libc.so.6)
  //     #1  0x000055d0c2a1b2f0 BlockOnContendedLock()+0x14 (hang_child)
  std::string text;
  // Threads listed in `text`.
  int threads = 0;
  // Real time from the call to the result.
  absl::Duration took = absl::ZeroDuration();
};

// Captures the stacks of all threads of `pid` (at most `max_frames` frames
// per thread, at most `max_bytes` of text). Blocks the caller for at most
// `timeout` of real time plus the time to kill and reap the helper. Must be
// called from a single-threaded process or one that may fork (the
// supervisor is). The caller must be allowed to ptrace `pid` (its parent
// is, and with Yama's ptrace_scope = 1 so are the parent's other children
// once the target calls prctl(PR_SET_PTRACER, parent)). Errors:
// DeadlineExceeded if the helper did not finish in time (any text it wrote
// by then is lost); Unavailable if attaching or unwinding failed (message
// from libdw, e.g. "Operation not permitted"); Internal if the helper
// could not be started.
absl::StatusOr<ExternalStacks> CaptureExternalStacks(pid_t pid,
                                                     absl::Duration timeout,
                                                     int max_frames = 48,
                                                     size_t max_bytes = 32768);

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_INTERNAL_EXTERNAL_STACKS_H_
