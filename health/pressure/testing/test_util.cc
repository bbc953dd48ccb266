#include "health/pressure/testing/test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace pressure {
namespace testing {

std::string RunfilePath(absl::string_view relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return std::string(relative);
  return absl::StrCat(srcdir, "/", workspace ? workspace : "vigil", "/",
                      relative);
}

std::string FixtureRoot(absl::string_view name) {
  return RunfilePath(absl::StrCat("health/pressure/testdata/", name));
}

std::string CopyFixture(absl::string_view name) {
  static int counter = 0;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dest = absl::StrCat(tmp ? tmp : "/tmp", "/fixture-", name,
                                        "-", getpid(), "-", ++counter);
  std::filesystem::remove_all(dest);
  std::filesystem::copy(FixtureRoot(name), dest,
                        std::filesystem::copy_options::recursive);
  return dest;
}

void SetFile(const std::string& root, absl::string_view path,
             absl::string_view content) {
  const std::string full = absl::StrCat(root, path);
  int fd = open(full.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  ASSERT_GE(fd, 0) << full << ": " << std::strerror(errno);
  ASSERT_EQ(write(fd, content.data(), content.size()),
            static_cast<ssize_t>(content.size()));
  close(fd);
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return condition();
    absl::SleepFor(poll);
  }
}

std::optional<Child> Child::Start(const std::vector<std::string>& argv,
                                  const std::string& cgroup_procs,
                                  std::string* error) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    *error = absl::StrCat("pipe: ", std::strerror(errno));
    return std::nullopt;
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    *error = absl::StrCat("fork: ", std::strerror(errno));
    return std::nullopt;
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    if (!cgroup_procs.empty()) {
      int fd = open(cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
      char buf[32];
      int n = 0;
      pid_t self = getpid();
      char rev[32];
      int r = 0;
      do {
        rev[r++] = static_cast<char>('0' + self % 10);
        self /= 10;
      } while (self > 0);
      while (r > 0) buf[n++] = rev[--r];
      if (fd < 0 || write(fd, buf, n) != n) _exit(126);
      close(fd);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  Child c;
  c.pid_ = pid;
  c.in_ = in[1];
  c.out_ = out[0];
  return c;
}

Child::Child(Child&& other) noexcept
    : pid_(other.pid_),
      in_(other.in_),
      out_(other.out_),
      buffer_(std::move(other.buffer_)),
      reaped_(other.reaped_) {
  other.pid_ = -1;
  other.in_ = -1;
  other.out_ = -1;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    Kill();
    if (in_ >= 0) close(in_);
    if (out_ >= 0) close(out_);
    pid_ = other.pid_;
    in_ = other.in_;
    out_ = other.out_;
    buffer_ = std::move(other.buffer_);
    reaped_ = other.reaped_;
    other.pid_ = -1;
    other.in_ = -1;
    other.out_ = -1;
  }
  return *this;
}

Child::~Child() {
  Kill();
  if (in_ >= 0) close(in_);
  if (out_ >= 0) close(out_);
}

void Child::Kill() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    reaped_ = true;
  }
}

bool Child::Write(absl::string_view text) {
  while (!text.empty()) {
    ssize_t n = write(in_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> Child::ReadLine(absl::Duration timeout, bool* eof) {
  if (eof != nullptr) *eof = false;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(ms));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = read(out_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      return std::nullopt;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<int> Child::Wait(absl::Duration timeout) {
  if (reaped_) return std::nullopt;
  int status = 0;
  std::optional<int> result;
  WaitFor(
      [&] {
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
          reaped_ = true;
          result = status;
          return true;
        }
        return r < 0;
      },
      timeout, absl::Milliseconds(2));
  return result;
}

std::optional<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

bool WriteFile(const std::string& path, absl::string_view content,
               std::string* error) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, content.data(), content.size()) !=
                    static_cast<ssize_t>(content.size())) {
    if (error != nullptr) *error = std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  return true;
}

}  // namespace testing
}  // namespace pressure
}  // namespace vigil
