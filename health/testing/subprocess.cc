#include "health/testing/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "health/testing/wait_for.h"

extern char** environ;

namespace vigil {
namespace testing {
namespace {

std::atomic<int> g_logs{0};

// The inherited environment with `changes` applied (see SubprocessOptions).
std::vector<std::string> Environment(const std::vector<std::string>& changes) {
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (const std::string& kv : changes) {
    const std::string name = kv.substr(0, kv.find('=') + 1);
    envs.erase(std::remove_if(envs.begin(), envs.end(),
                              [&](const std::string& e) {
                                return absl::StartsWith(e, name);
                              }),
               envs.end());
    if (kv.size() > name.size()) envs.push_back(kv);
  }
  return envs;
}

// Decimal digits of `n` into `buf` (async-signal-safe); returns the length.
int FormatPid(pid_t n, char* buf) {
  char rev[32];
  int r = 0;
  do {
    rev[r++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  int len = 0;
  while (r > 0) buf[len++] = rev[--r];
  return len;
}

void CloseAll(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    SubprocessOptions options) {
  if (options.argv.empty() || options.argv[0].empty() ||
      options.argv[0][0] != '/') {
    return absl::InvalidArgumentError("argv[0] must be an absolute path");
  }
  if (options.log_path.empty()) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    options.log_path =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/child-",
                     getpid(), "-", g_logs.fetch_add(1), ".log");
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& a : options.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  const std::vector<std::string> env_strings = Environment(options.env);
  std::vector<char*> envp;
  for (const std::string& e : env_strings) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  const int log_fd = open(options.log_path.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", options.log_path, ": ", strerror(errno)));
  }
  if (options.uid.has_value()) {
    if (fchown(log_fd, *options.uid, options.gid.value_or(-1)) != 0) {
      // Not fatal: the fd is already open for the child.
    }
  }
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int errpipe[2] = {-1, -1};
  if ((options.pipe_stdio &&
       (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)) ||
      pipe2(errpipe, O_CLOEXEC) != 0) {
    const int err = errno;
    CloseAll({log_fd, null_fd, in[0], in[1], out[0], out[1]});
    return absl::InternalError(absl::StrCat("pipe: ", strerror(err)));
  }
  char pid_text[32];
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    CloseAll({log_fd, null_fd, in[0], in[1], out[0], out[1], errpipe[0],
              errpipe[1]});
    return absl::InternalError(absl::StrCat("fork: ", strerror(err)));
  }
  if (pid == 0) {
    // Child.
    int err = 0;
    setpgid(0, 0);
    dup2(options.pipe_stdio ? in[0] : null_fd, 0);
    dup2(options.pipe_stdio ? out[1] : log_fd, 1);
    dup2(log_fd, 2);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    if (!options.cgroup_procs.empty()) {
      const int fd = open(options.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
      const int n = FormatPid(getpid(), pid_text);
      if (fd < 0 || write(fd, pid_text, n) != n) err = errno;
      if (fd >= 0) close(fd);
    }
    if (err == 0 && options.gid.has_value()) {
      if (setgroups(0, nullptr) != 0 || setgid(*options.gid) != 0) err = errno;
    }
    if (err == 0 && options.uid.has_value() && setuid(*options.uid) != 0) {
      err = errno;
    }
    if (err == 0 && !options.cwd.empty() && chdir(options.cwd.c_str()) != 0) {
      err = errno;
    }
    if (err == 0) {
      // After setuid: credential changes clear the parent-death signal.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      execve(argv[0], argv.data(), envp.data());
      err = errno;
    }
    ssize_t w = write(errpipe[1], &err, sizeof(err));
    (void)w;
    _exit(127);
  }
  // Parent.
  CloseAll({errpipe[1], log_fd, null_fd, in[0], out[1]});
  setpgid(pid, pid);  // Also in the parent: no race with Signal().
  int child_err = 0;
  ssize_t n;
  do {
    n = read(errpipe[0], &child_err, sizeof(child_err));
  } while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == sizeof(child_err)) {
    int status = 0;
    waitpid(pid, &status, 0);
    CloseAll({in[1], out[0]});
    return absl::UnavailableError(absl::StrCat("cannot start ", options.argv[0],
                                               ": ", strerror(child_err)));
  }
  return std::unique_ptr<Subprocess>(
      new Subprocess(pid, std::move(options), in[1], out[0]));
}

Subprocess::Subprocess(pid_t pid, SubprocessOptions options, int in, int out)
    : pid_(pid), options_(std::move(options)), in_(in), out_(out) {}

Subprocess::~Subprocess() {
  Stop(options_.stop_signal, options_.stop_grace);
  CloseAll({in_, out_});
}

bool Subprocess::Running() {
  if (exit_status_.has_value()) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = status;
    return false;
  }
  return r == 0;
}

std::optional<int> Subprocess::WaitForExit(absl::Duration timeout) {
  WaitFor([&] { return !Running(); }, timeout);
  return exit_status_;
}

void Subprocess::Signal(int sig) {
  if (exit_status_.has_value()) return;
  kill(-pid_, sig);
}

void Subprocess::SignalProcess(int sig) {
  if (exit_status_.has_value()) return;
  kill(pid_, sig);
}

int Subprocess::Stop(int sig, absl::Duration grace) {
  if (!exit_status_.has_value()) {
    kill(-pid_, sig);
    WaitFor([&] { return !Running(); }, grace);
    if (Running()) {
      kill(-pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      exit_status_ = status;
    }
  }
  // Whatever else is left in the group (children of the child) goes too;
  // once only, as the group id may be reused after its last member exits.
  if (!group_killed_) {
    group_killed_ = true;
    kill(-pid_, SIGKILL);
  }
  return *exit_status_;
}

std::string Subprocess::Output() const {
  std::ifstream in(options_.log_path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Subprocess::Lines(absl::string_view needle) const {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(Output(), '\n')) {
    if (absl::StrContains(line, needle)) out.emplace_back(line);
  }
  return out;
}

bool Subprocess::WaitForOutput(absl::string_view needle, absl::Duration timeout,
                               int count) const {
  return WaitFor(
      [&] { return static_cast<int>(Lines(needle).size()) >= count; }, timeout);
}

bool Subprocess::Write(absl::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(in_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> Subprocess::ReadLine(absl::Duration timeout,
                                                bool* eof) {
  if (eof != nullptr) *eof = false;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0 || out_ < 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    const int rc = poll(&p, 1, static_cast<int>(ms));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return std::nullopt;
    char buf[4096];
    const ssize_t n = read(out_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      return std::nullopt;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::string FindExecutable(const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    struct stat st;
    if (stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(c.c_str(), X_OK) == 0) {
      return c;
    }
  }
  return "";
}

std::string LogTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no log)";
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  return s;
}

}  // namespace testing
}  // namespace vigil
