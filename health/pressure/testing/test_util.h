// Test helpers for the pressure detectors: fixture trees, bounded waits and
// child processes. (Privileged tests use VIGIL_REQUIRE_OR_SKIP from
// health/testing/require.h.)

#ifndef VIGIL_HEALTH_PRESSURE_TESTING_TEST_UTIL_H_
#define VIGIL_HEALTH_PRESSURE_TESTING_TEST_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {
namespace pressure {
namespace testing {

// The path of a runfile given relative to the workspace root
// ("health/pressure/testdata/v2").
std::string RunfilePath(absl::string_view relative);

// The root of fixture tree `name` (see testdata/generate.py).
std::string FixtureRoot(absl::string_view name);

// Copies fixture tree `name` into a fresh directory under TEST_TMPDIR (so a
// test can change files between samples) and returns its root.
std::string CopyFixture(absl::string_view name);

// Replaces the content of `root` + `path` in place (same inode: a detector
// holding it open sees the new content on its next read).
void SetFile(const std::string& root, absl::string_view path,
             absl::string_view content);

// Polls `condition` every `poll` until it holds (true) or `timeout` of real
// time passes (false).
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll = absl::Milliseconds(5));

// A child process with pipes to its stdin and from its stdout.
class Child {
 public:
  // Starts `argv` (argv[0] is the program path). If `cgroup_procs` is not
  // empty the child writes its pid there before exec (joining a cgroup).
  // Returns nullopt (with *error set) if the fork or exec setup fails.
  static std::optional<Child> Start(const std::vector<std::string>& argv,
                                    const std::string& cgroup_procs,
                                    std::string* error);
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  // Kills (SIGKILL) and reaps the child if still running.
  ~Child();

  pid_t pid() const { return pid_; }
  // Writes `text` to the child's stdin. False on error.
  bool Write(absl::string_view text);
  // Reads one line (without '\n') from the child's stdout, waiting at most
  // `timeout`. nullopt on EOF or timeout (*eof tells which, if given).
  std::optional<std::string> ReadLine(absl::Duration timeout,
                                      bool* eof = nullptr);
  // Waits up to `timeout` for the child to exit; returns its wait status.
  std::optional<int> Wait(absl::Duration timeout);
  void Kill();

 private:
  Child() = default;
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool reaped_ = false;
};

// Runs `fn` at scope exit.
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~Cleanup() {
    if (fn_) fn_();
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;

 private:
  std::function<void()> fn_;
};

// Reads a small file; nullopt if unreadable.
std::optional<std::string> ReadFile(const std::string& path);
// Writes `content` to an existing file (cgroup knobs). False on error, with
// *error set to strerror.
bool WriteFile(const std::string& path, absl::string_view content,
               std::string* error = nullptr);

}  // namespace testing
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_TESTING_TEST_UTIL_H_
