// Captures another thread's stack from inside this process.
//
// The monitor asks the thread itself: it queues a dedicated real-time signal
// to it (rt_tgsigqueueinfo, carrying a request slot), and the handler walks
// the interrupted code's frame-pointer chain into that slot. The handler is
// safe by construction: no lock, no allocation, no libc call but raw
// syscalls (gettid, process_vm_readv to read each frame without faulting,
// write to wake the caller), and at most kMaxStackFrames steps. It does not
// use the DWARF unwinder (glibc's backtrace()), which may take the loader's
// or libgcc's locks. Frames of code built without frame pointers are
// therefore skipped (except the interrupted instruction itself and return
// addresses found between the stack pointer and the first frame pointer).
// Symbolization happens afterwards, on the caller's thread.
//
// No EINTR caused by vigil: before signalling, Capture() reads
// /proc/self/task/<tid>/syscall. A thread blocked in a call that a signal
// handler would make fail with EINTR even under SA_RESTART (see
// SignalWouldInterrupt()) is not signalled; its stack is then scanned from
// outside the thread (its stack pointer and pc from that file, memory read
// with process_vm_readv) and the result says so. A thread that is running,
// or blocked in a restartable call (read on a pipe, an untimed futex wait,
// waitpid, ...), is signalled; SA_RESTART resumes the call. What remains
// (the file says only "running" for a runnable thread, in user or kernel
// mode): a thread that enters a non-restartable call in the moment between
// the check and the signal, and a poll/ppoll/select/pselect6 whose wait has
// just ended (timeout or wake-up) while the thread waits for a CPU (Linux
// rechecks pending signals before those return; epoll_wait and the sleeps
// do not), can fail once with EINTR. Measured: 2-10 of about 1,250 captures of
// a thread looping on poll(2 s) on a machine at load 23 on 2 cores.
//
//   StackCapturer* capturer = StackCapturer::Get(SIGRTMIN + 6).value();
//   absl::StatusOr<CapturedStack> s =
//       capturer->Capture(tid, absl::Milliseconds(500));
//   for (const std::string& line : SymbolizeFrames(s->pcs)) ...

#ifndef VIGIL_WATCHDOG_INTERNAL_STACK_CAPTURE_H_
#define VIGIL_WATCHDOG_INTERNAL_STACK_CAPTURE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/sync.h"

namespace vigil {
namespace internal {

// The most frames one capture keeps.
inline constexpr int kMaxStackFrames = 64;
// Requests that may be outstanding at once: a capture abandoned while its
// handler runs keeps its slot until the handler finishes.
inline constexpr int kCaptureSlots = 4;

// What /proc/self/task/<tid>/syscall says about a thread.
struct SyscallState {
  // Blocked in system call `number` (x86-64 numbering) with `args`.
  bool in_syscall = false;
  // Not blocked at all ("running").
  bool running = false;
  long number = -1;
  uint64_t args[6] = {};
  uint64_t sp = 0;
  uint64_t pc = 0;
};

// Parses the file's one line: "running", "-1 <sp> <pc>", or
// "<nr> <a0> ... <a5> <sp> <pc>". InvalidArgument if malformed.
absl::StatusOr<SyscallState> ParseSyscallLine(absl::string_view line);

// The name of the call (e.g. "poll") if running a signal handler on a thread
// blocked in `s` makes the call fail with EINTR although the handler is
// installed with SA_RESTART (signal(7), "never restarted"), else "":
// poll, ppoll, select, pselect6, epoll_wait, epoll_pwait, epoll_pwait2,
// nanosleep, clock_nanosleep, pause, rt_sigsuspend, rt_sigtimedwait,
// msgrcv, msgsnd, semop, semtimedop, io_getevents, io_pgetevents,
// io_uring_enter, futex_waitv, a futex wait with a timeout, and socket
// calls (accept, accept4, connect, recvfrom, recvmsg, recvmmsg, sendto,
// sendmsg, sendmmsg, read, readv, write, writev) on a socket with
// SO_RCVTIMEO or SO_SNDTIMEO set. `is_timed_socket(fd)` answers the last
// question (the caller's own fd table).
std::string SignalWouldInterrupt(const SyscallState& s,
                                 bool (*is_timed_socket)(int fd));

struct CapturedStack {
  // Innermost first: the interrupted instruction, then return addresses.
  std::vector<void*> pcs;
  // Non-empty when the thread was not signalled: why, and how the frames
  // were found ("blocked in poll: not signalled (...); frames scanned").
  std::string note;
};

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

  // Captures the stack of thread `tid` of this process. Waits at most
  // `timeout` (real time: an I/O round trip with the thread, not a timer)
  // for the handler to finish; a request not answered by then is abandoned
  // and does not affect later captures. Errors: NotFound if the thread no
  // longer exists; DeadlineExceeded if it did not answer (signal blocked,
  // the thread stopped, or, under ThreadSanitizer, the signal deferred
  // while the thread sits in a blocking call); Unavailable if every request
  // slot is held by a handler that never finished; Internal otherwise.
  absl::StatusOr<CapturedStack> Capture(pid_t tid, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  int signo() const { return signo_; }

  // Captures that signalled the thread / that scanned it instead.
  uint64_t signalled() const { return signalled_.load(); }
  uint64_t scanned() const { return scanned_.load(); }

 private:
  explicit StackCapturer(int signo) : signo_(signo) {}

  const int signo_;
  Mutex mu_;
  std::atomic<uint64_t> signalled_{0};
  std::atomic<uint64_t> scanned_{0};
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
