#include "watchdog/internal/stack_capture.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace vigil {
namespace internal {
namespace {

// Handshake between Capture() and the handler, one request at a time.
enum CaptureState : int {
  kIdle = 0,
  kRequested = 1,  // Capture() sent the signal; the handler may claim it.
  kCapturing = 2,  // The target's handler claimed it and is unwinding.
  kDone = 3,       // Frames are in g_frames; Capture() may read them.
};

std::atomic<int> g_state{kIdle};
std::atomic<pid_t> g_target{0};
// Written by the handler between claiming (kCapturing) and kDone, read by
// Capture() after it observes kDone (acquire); never concurrently.
void* g_frames[kMaxStackFrames];
int g_depth = 0;
// The handler writes one byte here when done, so Capture() can poll().
int g_wake_read = -1;
int g_wake_write = -1;

// Extra room so that the handler's own frames and the signal trampoline
// (dropped afterwards) do not eat into kMaxStackFrames.
constexpr int kRawFrames = kMaxStackFrames + 8;

void* InterruptedPc(const void* ucontext) {
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return reinterpret_cast<void*>(uc->uc_mcontext.pc);
#else
  (void)ucontext;
  return nullptr;
#endif
}

// Async-signal-safe: atomics, backtrace() after its warm-up, Abseil's
// frame-pointer unwinder, write(2).
void HandleCaptureSignal(int, siginfo_t*, void* ucontext) {
  const int saved_errno = errno;
  if (static_cast<pid_t>(syscall(SYS_gettid)) !=
      g_target.load(std::memory_order_acquire)) {
    errno = saved_errno;
    return;  // Not the thread asked for (or a stale signal).
  }
  int expected = kRequested;
  if (!g_state.compare_exchange_strong(expected, kCapturing,
                                       std::memory_order_acq_rel)) {
    errno = saved_errno;
    return;
  }
  void* raw[kRawFrames];
  void* const pc = ucontext != nullptr ? InterruptedPc(ucontext) : nullptr;
  int depth = 0;
  // DWARF unwinding through the signal frame reports the interrupted
  // instruction itself; everything before it is this handler.
  const int n = backtrace(raw, kRawFrames);
  int start = -1;
  for (int i = 0; i < n && pc != nullptr; ++i) {
    if (raw[i] == pc) {
      start = i;
      break;
    }
  }
  if (start >= 0) {
    for (int i = start; i < n && depth < kMaxStackFrames; ++i) {
      g_frames[depth++] = raw[i];
    }
  } else {
    // Frame pointers: raw[0] returns into the signal trampoline; the
    // interrupted function itself is not a return address, so add its pc.
    const int m =
        absl::GetStackTraceWithContext(raw, kRawFrames, 0, ucontext, nullptr);
    if (pc != nullptr) g_frames[depth++] = pc;
    for (int i = 1; i < m && depth < kMaxStackFrames; ++i) {
      g_frames[depth++] = raw[i];
    }
  }
  g_depth = depth;
  g_state.store(kDone, std::memory_order_release);
  const char byte = 1;
  ssize_t ignored = write(g_wake_write, &byte, 1);
  (void)ignored;
  errno = saved_errno;
}

bool Reserved(int signo) {
  switch (signo) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGABRT:
      return true;
    default:
      return false;
  }
}

void DrainWakePipe() {
  char buf[64];
  while (read(g_wake_read, buf, sizeof(buf)) > 0) {
  }
}

}  // namespace

pid_t CurrentThreadId() { return static_cast<pid_t>(syscall(SYS_gettid)); }

absl::StatusOr<StackCapturer*> StackCapturer::Get(int signo) {
  if (signo <= 0 || signo >= NSIG || Reserved(signo)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("stack_signal: %d cannot be used", signo));
  }
  static Mutex mu;
  static StackCapturer* installed ABSL_GUARDED_BY(mu) = nullptr;
  MutexLock lock(&mu);
  if (installed != nullptr) {
    if (installed->signo() != signo) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "stack_signal: %d requested, but this process already captures "
          "stacks with signal %d",
          signo, installed->signo()));
    }
    return installed;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  g_wake_read = fds[0];
  g_wake_write = fds[1];
  // backtrace()'s first call loads libgcc_s (malloc, dlopen): never let it
  // happen inside the handler.
  void* warm[2];
  backtrace(warm, 2);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = HandleCaptureSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(signo, &sa, nullptr) != 0) {
    return absl::InternalError(
        absl::StrCat("sigaction: ", std::strerror(errno)));
  }
  installed = new StackCapturer(signo);
  return installed;
}

absl::StatusOr<std::vector<void*>> StackCapturer::Capture(
    pid_t tid, absl::Duration timeout) {
  MutexLock lock(&mu_);
  if (g_state.load(std::memory_order_acquire) == kCapturing) {
    // A handler from an earlier, timed-out request is still unwinding.
    return absl::UnavailableError("an earlier capture is still running");
  }
  DrainWakePipe();
  g_target.store(tid, std::memory_order_release);
  g_state.store(kRequested, std::memory_order_release);
  if (syscall(SYS_tgkill, getpid(), tid, signo_) != 0) {
    const int err = errno;
    g_state.store(kIdle, std::memory_order_release);
    g_target.store(0, std::memory_order_release);
    if (err == ESRCH) {
      return absl::NotFoundError(absl::StrFormat("thread %d is gone", tid));
    }
    return absl::InternalError(absl::StrCat("tgkill: ", std::strerror(err)));
  }
  const int timeout_ms = static_cast<int>(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
  // At most two waits: one for the answer, and, if the handler had already
  // claimed the request when the first ran out, one for it to finish.
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (int eintr = 0; eintr < 3; ++eintr) {
      pollfd p{g_wake_read, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) >= 0 || errno != EINTR) break;
    }
    if (g_state.load(std::memory_order_acquire) == kDone) {
      std::vector<void*> frames(g_frames, g_frames + g_depth);
      g_target.store(0, std::memory_order_release);
      g_state.store(kIdle, std::memory_order_release);
      return frames;
    }
    int expected = kRequested;
    if (g_state.compare_exchange_strong(expected, kIdle,
                                        std::memory_order_acq_rel)) {
      g_target.store(0, std::memory_order_release);
      return absl::DeadlineExceededError(
          absl::StrFormat("thread %d did not answer signal %d within %s", tid,
                          signo_, absl::FormatDuration(timeout)));
    }
  }
  return absl::DeadlineExceededError(absl::StrFormat(
      "thread %d started but did not finish unwinding within %s", tid,
      absl::FormatDuration(2 * timeout)));
}

std::vector<std::string> SymbolizeFrames(const std::vector<void*>& pcs) {
  std::vector<std::string> lines;
  lines.reserve(pcs.size());
  for (size_t i = 0; i < pcs.size(); ++i) {
    // Return addresses point after the call; look up the call itself.
    const uintptr_t pc = reinterpret_cast<uintptr_t>(pcs[i]);
    void* const lookup = reinterpret_cast<void*>(i == 0 ? pc : pc - 1);
    char name[1024];
    std::string what;
    if (absl::Symbolize(lookup, name, sizeof(name))) {
      what = name;
    } else {
      Dl_info info;
      if (dladdr(lookup, &info) != 0 && info.dli_fname != nullptr) {
        const char* slash = std::strrchr(info.dli_fname, '/');
        const char* file = slash != nullptr ? slash + 1 : info.dli_fname;
        if (info.dli_sname != nullptr) {
          what = absl::StrFormat(
              "%s+0x%x (%s)", info.dli_sname,
              pc - reinterpret_cast<uintptr_t>(info.dli_saddr), file);
        } else {
          what =
              absl::StrFormat("(%s+0x%x)", file,
                              pc - reinterpret_cast<uintptr_t>(info.dli_fbase));
        }
      } else {
        what = "??";
      }
    }
    lines.push_back(absl::StrFormat("#%-2d 0x%012x %s", i, pc, what));
  }
  return lines;
}

}  // namespace internal
}  // namespace vigil
