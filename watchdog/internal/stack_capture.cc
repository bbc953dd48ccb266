#include "watchdog/internal/stack_capture.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "absl/debugging/symbolize.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "health/clock.h"
#include "health/pressure/internal/file.h"

namespace vigil {
namespace internal {
namespace {

// Handshake between Capture() and the handler, per slot.
enum SlotState : uint32_t {
  kIdle = 0,
  kRequested = 1,  // Capture() queued the signal; the handler may claim it.
  kCapturing = 2,  // The target's handler claimed it and is unwinding.
  kDone = 3,       // Frames are in the slot; nobody else touches it.
};

struct Slot {
  std::atomic<uint32_t> state{kIdle};
  // Which request the slot serves now; the signal carries it too, so a
  // late or stale signal finds a mismatch and does nothing.
  std::atomic<uint32_t> generation{0};
  std::atomic<pid_t> target{0};
  // Written by the handler between claiming (kCapturing) and kDone, read by
  // Capture() after it observes kDone (acquire); never concurrently.
  void* frames[kMaxStackFrames];
  int depth = 0;
};

Slot g_slots[kCaptureSlots];
// The handler writes one byte here when done, so Capture() can poll().
int g_wake_read = -1;
int g_wake_write = -1;

// The object (executable or shared library) holding this file's code: its
// functions keep frame pointers.
std::atomic<uintptr_t> g_self_lo{0};
std::atomic<uintptr_t> g_self_hi{0};

// Return addresses of frame-pointer-less functions (libc's) are looked for
// at most this far above the stack pointer; a blocked thread that is not
// signalled is scanned as far.
constexpr uintptr_t kBlockedScanBytes = 16384;

// The loaded object containing `v`: glibc's _dl_find_object() is lock-free
// and async-signal-safe (it is what libgcc's unwinder uses), so unlike
// dladdr() or dl_iterate_phdr() it cannot wait for a thread inside dlopen.
bool FindObject(uintptr_t v, uintptr_t* lo, uintptr_t* hi) {
  dl_find_object found;
  if (_dl_find_object(reinterpret_cast<void*>(v), &found) != 0) return false;
  *lo = reinterpret_cast<uintptr_t>(found.dlfo_map_start);
  *hi = reinterpret_cast<uintptr_t>(found.dlfo_map_end);
  return true;
}

// Reads `n` bytes at `addr` of this process without faulting: one raw
// syscall, async-signal-safe.
bool SafeRead(uintptr_t addr, void* out, size_t n) {
  iovec local{out, n};
  iovec remote{reinterpret_cast<void*>(addr), n};
  const long r = syscall(SYS_process_vm_readv, syscall(SYS_getpid), &local, 1,
                         &remote, 1, 0);
  return r == static_cast<long>(n);
}

// Whether `ret` is in executable code right after a call instruction (x86-64:
// call rel32, call *reg, call *disp8(reg), call *disp32(reg|rip)).
bool LooksLikeReturnAddress(uintptr_t ret) {
  uintptr_t lo = 0, hi = 0;
  if (ret < 7 || !FindObject(ret, &lo, &hi) || ret - 7 < lo) return false;
#if defined(__x86_64__)
  unsigned char b[7];
  if (!SafeRead(ret - 7, b, sizeof(b))) return false;
  auto is_call_modrm = [](unsigned char m) { return (m & 0x38) == 0x10; };
  return b[2] == 0xe8 ||                           // e8 rel32
         (b[5] == 0xff && is_call_modrm(b[6])) ||  // ff /2, reg
         (b[4] == 0xff && is_call_modrm(b[5])) ||  // ff /2, disp8
         (b[3] == 0xff && is_call_modrm(b[4])) ||  // ff /2, sib+disp8
         (b[1] == 0xff && is_call_modrm(b[2])) ||  // ff /2, disp32
         (b[0] == 0xff && is_call_modrm(b[1]));    // ff /2, sib+disp32
#else
  return true;
#endif
}

// Appends to frames[*depth] the return addresses found in [from, to),
// innermost first. Async-signal-safe.
void ScanForReturnAddresses(uintptr_t from, uintptr_t to, void** frames,
                            int* depth, int max_depth) {
  uintptr_t chunk[64];
  for (uintptr_t at = from & ~uintptr_t{7}; at < to && *depth < max_depth;) {
    const size_t words =
        std::min<uintptr_t>(64, (to - at + 7) / sizeof(uintptr_t));
    if (!SafeRead(at, chunk, words * sizeof(uintptr_t))) return;
    for (size_t k = 0; k < words && *depth < max_depth; ++k) {
      if (LooksLikeReturnAddress(chunk[k])) {
        frames[(*depth)++] = reinterpret_cast<void*>(chunk[k]);
      }
    }
    at += words * sizeof(uintptr_t);
  }
}

struct Registers {
  uintptr_t pc = 0;
  uintptr_t sp = 0;
  uintptr_t fp = 0;
};

Registers InterruptedRegisters(const void* ucontext) {
  Registers r;
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  r.pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  r.sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  r.fp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
#elif defined(__aarch64__)
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  r.pc = uc->uc_mcontext.pc;
  r.sp = uc->uc_mcontext.sp;
  r.fp = uc->uc_mcontext.regs[29];
#else
  (void)ucontext;
#endif
  return r;
}

// The frame-pointer walk, bounded by kMaxStackFrames steps, each frame read
// with SafeRead(). Async-signal-safe.
int WalkFrames(const Registers& regs, void** frames) {
  int depth = 0;
  if (regs.pc == 0) return 0;
  frames[depth++] = reinterpret_cast<void*>(regs.pc);
  // Interrupted outside code known to keep frame pointers (in libc, say):
  // its callers up to the first frame pointer left return addresses on the
  // stack between sp and fp; when fp is not a frame pointer at all (such
  // code may use the register freely), the scan is all there is.
  const bool own_code = regs.pc >= g_self_lo.load(std::memory_order_relaxed) &&
                        regs.pc < g_self_hi.load(std::memory_order_relaxed);
  const bool fp_plausible =
      regs.fp > regs.sp && regs.fp - regs.sp <= kBlockedScanBytes;
  if (!own_code) {
    ScanForReturnAddresses(regs.sp,
                           fp_plausible ? regs.fp : regs.sp + kBlockedScanBytes,
                           frames, &depth, kMaxStackFrames);
    if (!fp_plausible) return depth;
  }
  uintptr_t fp = regs.fp;
  while (depth < kMaxStackFrames) {
    if (fp == 0 || (fp & 7) != 0 || fp < regs.sp ||
        fp - regs.sp > (uintptr_t{64} << 20)) {
      break;
    }
    uintptr_t frame[2];  // Saved frame pointer, return address.
    if (!SafeRead(fp, frame, sizeof(frame)) || frame[1] == 0) break;
    frames[depth++] = reinterpret_cast<void*>(frame[1]);
    if (frame[0] <= fp) break;  // Frames move up the stack.
    fp = frame[0];
  }
  return depth;
}

// No lock, no allocation, no libc call but raw syscalls (gettid,
// process_vm_readv, write).
void HandleCaptureSignal(int, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
  if (info == nullptr || info->si_code != SI_QUEUE) {
    errno = saved_errno;
    return;  // Not one of ours (kill(2) from elsewhere).
  }
  const uint32_t word = static_cast<uint32_t>(info->si_value.sival_int);
  const uint32_t index = word % kCaptureSlots;
  const uint32_t generation = word / kCaptureSlots;
  Slot& slot = g_slots[index];
  if (slot.generation.load(std::memory_order_acquire) != generation ||
      static_cast<pid_t>(syscall(SYS_gettid)) !=
          slot.target.load(std::memory_order_acquire)) {
    errno = saved_errno;
    return;  // A stale signal for an abandoned request.
  }
  uint32_t expected = kRequested;
  if (!slot.state.compare_exchange_strong(expected, kCapturing,
                                          std::memory_order_acq_rel)) {
    errno = saved_errno;
    return;
  }
  slot.depth = ucontext != nullptr
                   ? WalkFrames(InterruptedRegisters(ucontext), slot.frames)
                   : 0;
  slot.state.store(kDone, std::memory_order_release);
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

bool IsTimedSocket(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  for (int opt : {SO_RCVTIMEO, SO_SNDTIMEO}) {
    timeval tv{};
    socklen_t len = sizeof(tv);
    if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) == 0 &&
        (tv.tv_sec != 0 || tv.tv_usec != 0)) {
      return true;
    }
  }
  return false;
}

}  // namespace

pid_t CurrentThreadId() { return static_cast<pid_t>(syscall(SYS_gettid)); }

absl::StatusOr<SyscallState> ParseSyscallLine(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  SyscallState s;
  if (line == "running") {
    s.running = true;
    return s;
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(line, ' ', absl::SkipEmpty());
  int64_t nr = 0;
  if (f.empty() || !absl::SimpleAtoi(f[0], &nr)) {
    return absl::InvalidArgumentError(absl::StrCat("syscall: \"", line, "\""));
  }
  auto hex = [](absl::string_view v, uint64_t* out) {
    return absl::SimpleHexAtoi(absl::StripPrefix(v, "0x"), out);
  };
  const size_t want = nr < 0 ? 3 : 9;
  if (f.size() != want || !hex(f[want - 2], &s.sp) ||
      !hex(f[want - 1], &s.pc)) {
    return absl::InvalidArgumentError(absl::StrCat("syscall: \"", line, "\""));
  }
  s.number = static_cast<long>(nr);
  s.in_syscall = nr >= 0;
  for (size_t i = 0; s.in_syscall && i < 6; ++i) {
    if (!hex(f[i + 1], &s.args[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("syscall: \"", line, "\""));
    }
  }
  return s;
}

std::string SignalWouldInterrupt(const SyscallState& s,
                                 bool (*is_timed_socket)(int fd)) {
  if (!s.in_syscall) return "";
#if defined(__x86_64__)
  switch (s.number) {
    case SYS_poll:
      return "poll";
    case SYS_ppoll:
      return "ppoll";
    case SYS_select:
      return "select";
    case SYS_pselect6:
      return "pselect6";
    case SYS_epoll_wait:
      return "epoll_wait";
    case SYS_epoll_pwait:
      return "epoll_pwait";
    case 441:
      return "epoll_pwait2";
    case SYS_nanosleep:
      return "nanosleep";
    case SYS_clock_nanosleep:
      return "clock_nanosleep";
    case SYS_pause:
      return "pause";
    case SYS_rt_sigsuspend:
      return "rt_sigsuspend";
    case SYS_rt_sigtimedwait:
      return "rt_sigtimedwait";
    case SYS_msgrcv:
      return "msgrcv";
    case SYS_msgsnd:
      return "msgsnd";
    case SYS_semop:
      return "semop";
    case SYS_semtimedop:
      return "semtimedop";
    case SYS_io_getevents:
      return "io_getevents";
    case 333:
      return "io_pgetevents";
    case 426:
      return "io_uring_enter";
    case 449:
      return "futex_waitv";
    case SYS_futex: {
      const int op = static_cast<int>(s.args[1]) & FUTEX_CMD_MASK;
      const bool wait = op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET;
      return wait && s.args[3] != 0 ? "futex (timed wait)" : "";
    }
    case SYS_accept:
    case SYS_accept4:
    case SYS_connect:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_read:
    case SYS_readv:
    case SYS_write:
    case SYS_writev:
      if (is_timed_socket != nullptr &&
          is_timed_socket(static_cast<int>(s.args[0]))) {
        return "a socket call with SO_RCVTIMEO/SO_SNDTIMEO";
      }
      return "";
    default:
      return "";
  }
#else
  (void)is_timed_socket;
  return "";
#endif
}

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
  uintptr_t lo = 0, hi = 0;
  if (FindObject(reinterpret_cast<uintptr_t>(&HandleCaptureSignal), &lo, &hi)) {
    g_self_lo.store(lo, std::memory_order_relaxed);
    g_self_hi.store(hi, std::memory_order_relaxed);
  }
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

namespace {

// For a thread blocked in a call a signal would interrupt: its pc, then the
// return addresses found by scanning its stack upwards from its sp.
CapturedStack ScanBlockedThread(const SyscallState& s,
                                const std::string& call) {
  CapturedStack out;
  void* frames[kMaxStackFrames];
  int depth = 0;
  frames[depth++] = reinterpret_cast<void*>(s.pc);
  ScanForReturnAddresses(s.sp, s.sp + kBlockedScanBytes, frames, &depth,
                         kMaxStackFrames);
  out.pcs.assign(frames, frames + depth);
  out.note = absl::StrCat(
      "blocked in ", call,
      ": not signalled (the call would fail with EINTR); "
      "frames found by scanning its stack, may include stale entries");
  return out;
}

}  // namespace

absl::StatusOr<CapturedStack> StackCapturer::Capture(pid_t tid,
                                                     absl::Duration timeout) {
  MutexLock lock(&mu_);
  // The deadline covers reading /proc too: for a thread that was just woken
  // and waits for a CPU, the kernel makes that read wait until it runs.
  Clock* const real = Clock::Real();
  const absl::Time deadline = real->Now() + timeout;
  // Only a sleeping thread's syscall file is read: for a runnable one the
  // kernel makes the read wait until the thread has had a CPU (measured:
  // 700 ms under stress-ng), and a runnable thread is not blocked anyway.
  std::string stat;
  int error = 0;
  const bool have_stat = pressure::internal::ReadWholeFile(
      absl::StrCat("/proc/self/task/", tid, "/stat"), &stat, &error);
  if (!have_stat && error == ENOENT) {
    return absl::NotFoundError(absl::StrFormat("thread %d is gone", tid));
  }
  const size_t paren = have_stat ? stat.rfind(')') : std::string::npos;
  const char run_state = paren != std::string::npos && paren + 2 < stat.size()
                             ? stat[paren + 2]
                             : '?';
  std::string line;
  error = 0;
  const bool have_line =
      (run_state == 'S' || run_state == 'D') &&
      pressure::internal::ReadWholeFile(
          absl::StrCat("/proc/self/task/", tid, "/syscall"), &line, &error);
  if (!have_line && error == ENOENT) {
    return absl::NotFoundError(absl::StrFormat("thread %d is gone", tid));
  }
  if (have_line) {
    absl::StatusOr<SyscallState> state = ParseSyscallLine(line);
    if (state.ok()) {
      const std::string call = SignalWouldInterrupt(*state, IsTimedSocket);
      if (!call.empty()) {
        scanned_.fetch_add(1, std::memory_order_relaxed);
        return ScanBlockedThread(*state, call);
      }
    }
  }
  // A free slot: idle, or done for a request that was abandoned.
  int index = -1;
  for (int i = 0; i < kCaptureSlots && index < 0; ++i) {
    uint32_t st = g_slots[i].state.load(std::memory_order_acquire);
    if (st == kDone) {
      g_slots[i].state.store(kIdle, std::memory_order_release);
      st = kIdle;
    }
    if (st == kIdle) index = i;
  }
  if (index < 0) {
    return absl::UnavailableError(absl::StrFormat(
        "%d earlier captures are still running in their threads' handlers",
        kCaptureSlots));
  }
  Slot& slot = g_slots[index];
  const uint32_t generation =
      (slot.generation.load(std::memory_order_relaxed) + 1) %
      (uint32_t{1} << 28);
  DrainWakePipe();
  slot.target.store(tid, std::memory_order_release);
  slot.generation.store(generation, std::memory_order_release);
  slot.state.store(kRequested, std::memory_order_release);
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  info.si_signo = signo_;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = static_cast<int>(generation * kCaptureSlots +
                                             static_cast<uint32_t>(index));
  if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, signo_, &info) != 0) {
    const int err = errno;
    slot.state.store(kIdle, std::memory_order_release);
    if (err == ESRCH) {
      return absl::NotFoundError(absl::StrFormat("thread %d is gone", tid));
    }
    return absl::InternalError(
        absl::StrCat("rt_tgsigqueueinfo: ", std::strerror(err)));
  }
  signalled_.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    if (slot.state.load(std::memory_order_acquire) == kDone) {
      CapturedStack out;
      out.pcs.assign(slot.frames, slot.frames + slot.depth);
      slot.state.store(kIdle, std::memory_order_release);
      return out;
    }
    const absl::Duration left = deadline - real->Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p{g_wake_read, POLLIN, 0};
    const int ms = static_cast<int>(std::max<int64_t>(
        1, absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
    if (poll(&p, 1, ms) > 0) DrainWakePipe();
  }
  uint32_t expected = kRequested;
  if (slot.state.compare_exchange_strong(expected, kIdle,
                                         std::memory_order_acq_rel)) {
    return absl::DeadlineExceededError(
        absl::StrFormat("thread %d did not answer signal %d within %s", tid,
                        signo_, absl::FormatDuration(timeout)));
  }
  // Claimed but not finished (the thread was descheduled or stopped in its
  // handler): the slot stays with that handler until it finishes.
  return absl::DeadlineExceededError(absl::StrFormat(
      "thread %d started but did not finish unwinding within %s", tid,
      absl::FormatDuration(timeout)));
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
