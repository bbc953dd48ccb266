// A real child process for integration tests: started in its own process
// group with stdout and stderr captured in one file, killed (the whole
// group) and reaped on destruction.
//
//   auto child = vigil::testing::ChildProcess::Start({binary, "--mode=crash"});
//   ASSERT_TRUE(child->WaitForOutput("HEALTHY", absl::Seconds(20)));

#ifndef VIGIL_WATCHDOG_TESTING_CHILD_PROCESS_H_
#define VIGIL_WATCHDOG_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {
namespace testing {

class ChildProcess {
 public:
  // Starts argv[0] with `argv` and the current environment plus `env`
  // ("NAME=value" entries; "NAME=" with nothing after removes NAME).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv,
      const std::vector<std::string>& env = {});
  // SIGKILLs the process group and reaps the child.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Everything written so far (stdout and stderr interleaved).
  std::string Output() const;
  // Lines of Output() that contain `needle`.
  std::vector<std::string> Lines(absl::string_view needle) const;
  // Waits (bounded) until `needle` occurs at least `count` times.
  bool WaitForOutput(absl::string_view needle, absl::Duration timeout,
                     int count = 1) const;
  // Waits (bounded) for the child to exit; its waitpid status, or nullopt.
  std::optional<int> WaitForExit(absl::Duration timeout);
  // Sends `signo` to the child (not its group).
  void Signal(int signo) const;

 private:
  ChildProcess(pid_t pid, std::string log) : pid_(pid), log_(std::move(log)) {}

  pid_t pid_;
  std::string log_;
  std::optional<int> status_;
};

// "name=<value>" from a line like "CHILD pid=12 restart=0": the value as an
// integer, or -1 when absent.
int64_t Field(absl::string_view line, absl::string_view name);

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_TESTING_CHILD_PROCESS_H_
