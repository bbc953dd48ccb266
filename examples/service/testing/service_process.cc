#include "examples/service/testing/service_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "health/http/testing/http_test_util.h"

extern char** environ;

namespace vigil_example {
namespace testing {

std::string ServiceProcess::BinaryPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/",
                      workspace != nullptr ? workspace : "vigil",
                      "/examples/service/service");
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    const std::vector<std::string>& args, absl::Duration timeout) {
  const std::string binary = BinaryPath();
  std::vector<std::string> argv_strings = {binary, "--port=0", "--app_port=0"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  pid_t pid;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr,
                             argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::InternalError(absl::StrCat("spawn ", binary, ": ", rc));
  }
  std::unique_ptr<ServiceProcess> p(new ServiceProcess(pid, fds[0]));
  static const std::regex kPorts(
      R"(vigil-example: probe=\S+:(\d+) app=\S+:(\d+))");
  std::smatch m;
  const bool started = vigil::testing::WaitFor(
      [&] {
        const std::string out = p->Output();
        if (!std::regex_search(out, m, kPorts)) return false;
        return absl::SimpleAtoi(m[1].str(), &p->probe_port_) &&
               absl::SimpleAtoi(m[2].str(), &p->app_port_);
      },
      timeout);
  if (!started) {
    return absl::DeadlineExceededError(absl::StrCat(
        "service did not print its ports; output:\n", p->Output()));
  }
  return p;
}

ServiceProcess::ServiceProcess(pid_t pid, int out_fd)
    : pid_(pid), out_fd_(out_fd) {
  reader_ = std::thread([this] { ReadLoop(); });
}

ServiceProcess::~ServiceProcess() {
  if (!WaitForExit(absl::ZeroDuration()).has_value()) {
    kill(pid_, SIGKILL);
    WaitForExit(absl::Seconds(30));
  }
  reader_.join();  // EOF once the process is gone
  close(out_fd_);
}

void ServiceProcess::ReadLoop() {
  char buf[4096];
  while (true) {
    const ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    vigil::MutexLock lock(&mu_);
    output_.append(buf, static_cast<size_t>(n));
  }
}

void ServiceProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

std::optional<int> ServiceProcess::WaitForExit(absl::Duration timeout) {
  auto reap = [this] {
    if (reaped_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
  };
  if (!vigil::testing::WaitFor(reap, timeout)) return std::nullopt;
  return exit_code_;
}

std::string ServiceProcess::Output() const {
  vigil::MutexLock lock(&mu_);
  return output_;
}

}  // namespace testing
}  // namespace vigil_example
