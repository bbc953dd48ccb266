// Captures another thread's stack from inside that thread.
//
// The monitor cannot walk a different thread's stack safely, so it asks the
// thread itself: it sends the thread a dedicated real-time signal
// (tgkill), and the handler records the return addresses of the interrupted
// code into a preallocated buffer. The handler is async-signal-safe: no
// allocation, no locks, no stdio; it unwinds with glibc's backtrace() (DWARF
// tables, so frames of code built without frame pointers, libc included,
// are kept; its first call, which loads libgcc_s, is made by Install()
// outside any handler) and falls back to Abseil's frame-pointer unwinder
// (absl::GetStackTraceWithContext) when that yields nothing. Symbolization
// happens afterwards, on the caller's thread.
//
//   StackCapturer* capturer = StackCapturer::Get(SIGRTMIN + 6).value();
//   absl::StatusOr<std::vector<void*>> pcs =
//       capturer->Capture(tid, absl::Milliseconds(500));
//   for (const std::string& line : SymbolizeFrames(*pcs)) ...

#ifndef VIGIL_WATCHDOG_INTERNAL_STACK_CAPTURE_H_
#define VIGIL_WATCHDOG_INTERNAL_STACK_CAPTURE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/sync.h"

namespace vigil {
namespace internal {

// The most frames one capture keeps.
inline constexpr int kMaxStackFrames = 64;

// One per process and signal number. Thread-safe: captures are serialised.
class StackCapturer {
 public:
  // Returns the capturer for `signo`, installing its handler on first use
  // (sigaction, SA_SIGINFO | SA_RESTART | SA_ONSTACK). InvalidArgument if
  // `signo` is not a valid signal or is one vigil must not take over
  // (SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT).
  // The handler stays installed for the life of the process. Only one
  // signal number can be in use per process; a second, different number is
  // FailedPrecondition.
  static absl::StatusOr<StackCapturer*> Get(int signo);

  // Captures the stack of thread `tid` of this process: the innermost frame
  // first (the interrupted instruction), return addresses after it. Waits at
  // most `timeout` (real time: this is an I/O round trip with the thread,
  // not a timer) for the thread's handler to run. Errors:
  // NotFound if the thread no longer exists; DeadlineExceeded if it did not
  // answer (signal blocked, or, under ThreadSanitizer, deferred while the
  // thread sits in a blocking call); Internal for anything else.
  absl::StatusOr<std::vector<void*>> Capture(pid_t tid, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  int signo() const { return signo_; }

 private:
  explicit StackCapturer(int signo) : signo_(signo) {}

  const int signo_;
  Mutex mu_;
};

// Turns program counters from Capture() into one line each:
// "#3 0x55d0c2a1b2f0 (anonymous namespace)::BlockOnContendedLock()" or, for
// shared libraries Abseil cannot symbolize, "#1 0x7f... pthread_mutex_lock+0x82
// (libc.so.6)". Frames after the first are return addresses and are looked up
// at pc-1, so a call at the very end of a function is attributed correctly.
// Not async-signal-safe; call outside the handler.
std::vector<std::string> SymbolizeFrames(const std::vector<void*>& pcs);

// The calling thread's kernel thread id.
pid_t CurrentThreadId();

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_INTERNAL_STACK_CAPTURE_H_
