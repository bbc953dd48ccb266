#include "watchdog/testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "watchdog/testing/wait_for.h"

extern char** environ;

namespace vigil {
namespace testing {
namespace {

std::atomic<int> g_count{0};

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string log =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/child-", getpid(), "-",
                   g_count.fetch_add(1), ".log");
  const int fd = open(
      log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", log));
  // Everything the child needs is prepared before fork.
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  for (const std::string& kv : env) {
    const std::string name = kv.substr(0, kv.find('=') + 1);
    envs.erase(std::remove_if(envs.begin(), envs.end(),
                              [&](const std::string& e) {
                                return absl::StartsWith(e, name);
                              }),
               envs.end());
    if (kv.size() > name.size()) envs.push_back(kv);
  }
  std::vector<char*> cargv, cenv;
  for (const std::string& a : argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const std::string& e : envs)
    cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  setpgid(pid, pid);
  close(fd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log));
}

ChildProcess::~ChildProcess() {
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  if (!status_.has_value()) {
    int status;
    waitpid(pid_, &status, 0);
  }
}

std::string ChildProcess::Output() const {
  std::ifstream f(log_);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> ChildProcess::Lines(absl::string_view needle) const {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(Output(), '\n')) {
    if (absl::StrContains(line, needle)) out.emplace_back(line);
  }
  return out;
}

bool ChildProcess::WaitForOutput(absl::string_view needle,
                                 absl::Duration timeout, int count) const {
  return WaitFor(
      [&] { return static_cast<int>(Lines(needle).size()) >= count; }, timeout);
}

std::optional<int> ChildProcess::WaitForExit(absl::Duration timeout) {
  if (status_.has_value()) return status_;
  WaitFor(
      [&] {
        int status;
        if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
        return status_.has_value();
      },
      timeout);
  return status_;
}

void ChildProcess::Signal(int signo) const { kill(pid_, signo); }

int64_t Field(absl::string_view line, absl::string_view name) {
  const std::string key = absl::StrCat(name, "=");
  for (absl::string_view part : absl::StrSplit(line, ' ')) {
    if (absl::ConsumePrefix(&part, key)) {
      int64_t v;
      if (absl::SimpleAtoi(part, &v)) return v;
    }
  }
  return -1;
}

}  // namespace testing
}  // namespace vigil
