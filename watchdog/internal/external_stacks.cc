#include "watchdog/internal/external_stacks.h"

#include <cxxabi.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "health/clock.h"

namespace vigil {
namespace internal {
namespace {

struct Walk {
  Dwfl* dwfl = nullptr;
  pid_t pid = 0;
  int max_frames = 0;
  size_t max_bytes = 0;
  std::string out;
  int threads = 0;
  int frames = 0;  // Of the current thread.
};

std::string Demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || d == nullptr) return name;
  std::string s = d;
  std::free(d);
  return s;
}

std::string ThreadComm(pid_t pid, pid_t tid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/task/", tid, "/comm"));
  std::string name;
  std::getline(in, name);
  return name;
}

std::string Basename(const char* path) {
  if (path == nullptr) return "?";
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

int OnFrame(Dwfl_Frame* frame, void* arg) {
  Walk& w = *static_cast<Walk*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation)) {
    absl::StrAppend(&w.out, "    #", w.frames, " ?? (", dwfl_errmsg(-1), ")\n");
    return DWARF_CB_ABORT;
  }
  // A return address points after its call: look up the call itself.
  const Dwarf_Addr lookup = activation ? pc : pc - 1;
  Dwfl_Module* module = dwfl_addrmodule(w.dwfl, lookup);
  std::string what = "??";
  if (module != nullptr) {
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(module, lookup, &offset, &sym,
                                            nullptr, nullptr, nullptr);
    const char* file = dwfl_module_info(module, nullptr, nullptr, nullptr,
                                        nullptr, nullptr, nullptr, nullptr);
    if (name != nullptr) {
      what = absl::StrFormat("%s+0x%x (%s)", Demangle(name),
                             offset + (activation ? 0 : 1), Basename(file));
    } else {
      Dwarf_Addr start = 0;
      dwfl_module_info(module, nullptr, &start, nullptr, nullptr, nullptr,
                       nullptr, nullptr);
      what = absl::StrFormat("(%s+0x%x)", Basename(file), pc - start);
    }
  }
  absl::StrAppendFormat(&w.out, "    #%-2d 0x%016x %s\n", w.frames, pc, what);
  if (++w.frames >= w.max_frames || w.out.size() >= w.max_bytes) {
    return DWARF_CB_ABORT;
  }
  return DWARF_CB_OK;
}

int OnThread(Dwfl_Thread* thread, void* arg) {
  Walk& w = *static_cast<Walk*>(arg);
  const pid_t tid = dwfl_thread_tid(thread);
  absl::StrAppend(&w.out, "  thread ", tid, " \"", ThreadComm(w.pid, tid),
                  "\":\n");
  ++w.threads;
  w.frames = 0;
  const int rc = dwfl_thread_getframes(thread, OnFrame, &w);
  // The outermost frame usually ends the walk with an error ("no matching
  // address range"); it is worth a note only when nothing was unwound.
  if (rc == -1 && w.frames == 0) {
    absl::StrAppend(&w.out, "    (unwinding failed: ", dwfl_errmsg(-1), ")\n");
  }
  return w.out.size() >= w.max_bytes ? DWARF_CB_ABORT : DWARF_CB_OK;
}

// Runs in the helper: attaches, unwinds, returns the text ("E" + message on
// failure, "O" + stacks on success; the first line holds the thread count).
std::string Unwind(pid_t pid, int max_frames, size_t max_bytes) {
  static char* debuginfo_path = nullptr;
  static const Dwfl_Callbacks callbacks = {
      dwfl_linux_proc_find_elf,
      dwfl_standard_find_debuginfo,
      nullptr,
      &debuginfo_path,
  };
  Dwfl* dwfl = dwfl_begin(&callbacks);
  if (dwfl == nullptr) return absl::StrCat("Edwfl_begin: ", dwfl_errmsg(-1));
  if (int rc = dwfl_linux_proc_report(dwfl, pid); rc != 0) {
    dwfl_end(dwfl);
    return absl::StrCat("Ereading /proc/", pid, "/maps: ",
                        rc > 0 ? std::strerror(rc) : dwfl_errmsg(-1));
  }
  dwfl_report_end(dwfl, nullptr, nullptr);
  if (int rc = dwfl_linux_proc_attach(dwfl, pid, false); rc != 0) {
    dwfl_end(dwfl);
    return absl::StrCat("Eptrace attach to ", pid, ": ",
                        rc > 0 ? std::strerror(rc) : dwfl_errmsg(-1));
  }
  Walk w;
  w.dwfl = dwfl;
  w.pid = pid;
  w.max_frames = max_frames;
  w.max_bytes = max_bytes;
  const int rc = dwfl_getthreads(dwfl, OnThread, &w);
  std::string error = rc == -1 && w.threads == 0 ? dwfl_errmsg(-1) : "";
  dwfl_end(dwfl);  // Detaches from every thread.
  if (!error.empty()) return absl::StrCat("Eunwinding ", pid, ": ", error);
  return absl::StrCat("O", w.threads, "\n", w.out);
}

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<ExternalStacks> CaptureExternalStacks(pid_t pid,
                                                     absl::Duration timeout,
                                                     int max_frames,
                                                     size_t max_bytes) {
  Clock* const real = Clock::Real();
  const absl::Time start = real->Now();
  const absl::Time deadline = start + timeout;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  const pid_t helper = fork();
  if (helper < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(err)));
  }
  if (helper == 0) {
    close(fds[0]);
    // The caller's handlers (the supervisor's self-pipe) are not ours.
    for (int signo = 1; signo < NSIG; ++signo) {
      if (signo != SIGKILL && signo != SIGSTOP) signal(signo, SIG_DFL);
    }
    WriteAll(fds[1], Unwind(pid, max_frames, max_bytes));
    _exit(0);
  }
  close(fds[1]);
  std::string raw;
  bool finished = false;
  for (;;) {
    const absl::Duration left = deadline - real->Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p{fds[0], POLLIN, 0};
    const int ms = static_cast<int>(std::max<int64_t>(
        1, absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
    const int r = poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // Timed out: the loop re-checks the deadline.
    char buf[8192];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      finished = true;  // EOF: the helper is done.
      break;
    }
    raw.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (!finished) kill(helper, SIGKILL);
  int status = 0;
  while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {
  }
  const absl::Duration took = real->Now() - start;
  if (!finished) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "capturing the stacks of %d from outside took longer than %s", pid,
        absl::FormatDuration(timeout)));
  }
  if (raw.empty() || raw[0] != 'O') {
    return absl::UnavailableError(raw.empty() ? "the capture helper died"
                                              : raw.substr(1));
  }
  ExternalStacks out;
  const size_t eol = raw.find('\n');
  out.threads = std::atoi(raw.substr(1, eol - 1).c_str());
  out.text = eol == std::string::npos ? "" : raw.substr(eol + 1);
  out.took = took;
  return out;
}

}  // namespace internal
}  // namespace vigil
