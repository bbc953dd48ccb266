#include "health/checks/testing/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigil {
namespace checks {
namespace testing {

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const SubprocessOptions& options) {
  if (options.argv.empty() || options.argv[0].empty() ||
      options.argv[0][0] != '/') {
    return absl::InvalidArgumentError("argv[0] must be an absolute path");
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& a : options.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  int log_fd = -1;
  if (!options.log_path.empty()) {
    log_fd = open(options.log_path.c_str(),
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
  }
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    if (log_fd >= 0) close(log_fd);
    close(null_fd);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    if (log_fd >= 0) close(log_fd);
    close(null_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(err)));
  }
  if (pid == 0) {
    // Child.
    int err = 0;
    setpgid(0, 0);
    dup2(null_fd, 0);
    dup2(log_fd >= 0 ? log_fd : null_fd, 1);
    dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    if (options.gid.has_value()) {
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
      execv(argv[0], argv.data());
      err = errno;
    }
    ssize_t w = write(pipefd[1], &err, sizeof(err));
    (void)w;
    _exit(127);
  }
  // Parent.
  close(pipefd[1]);
  if (log_fd >= 0) close(log_fd);
  close(null_fd);
  setpgid(pid, pid);  // Also in the parent: no race with Signal().
  int child_err = 0;
  ssize_t n;
  do {
    n = read(pipefd[0], &child_err, sizeof(child_err));
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == sizeof(child_err)) {
    int status = 0;
    waitpid(pid, &status, 0);
    return absl::UnavailableError(absl::StrCat("cannot start ", options.argv[0],
                                               ": ", strerror(child_err)));
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid));
}

Subprocess::~Subprocess() { Stop(SIGTERM, absl::Seconds(5)); }

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
  const absl::Time deadline = absl::Now() + timeout;
  while (Running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return exit_status_;
}

void Subprocess::Signal(int sig) {
  if (exit_status_.has_value()) return;
  kill(-pid_, sig);
}

int Subprocess::Stop(int sig, absl::Duration grace) {
  if (!exit_status_.has_value()) {
    kill(-pid_, sig);
    const absl::Time deadline = absl::Now() + grace;
    while (Running() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
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
}  // namespace checks
}  // namespace vigil
