// ServiceProcess: runs the example service binary for integration tests, a
// thin layer over vigil::testing::Subprocess (health/testing/subprocess.h)
// that knows the binary, its port flags and its first line.
//
//   auto service = ServiceProcess::Start({"--warmup=0s"}).value();
//   httplib::Client c("127.0.0.1", service->probe_port());
//   ...
//   service->Signal(SIGTERM);
//   EXPECT_EQ(service->WaitForExit(absl::Seconds(30)), 0);
//
// The test target needs `data = ["//examples/service"]`. Ports default to 0
// (free ports, read back from the service's first line). The destructor
// kills a still-running service (its whole process group). Test-only.

#ifndef VIGIL_EXAMPLES_SERVICE_TESTING_SERVICE_PROCESS_H_
#define VIGIL_EXAMPLES_SERVICE_TESTING_SERVICE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/testing/subprocess.h"

namespace vigil_example {
namespace testing {

class ServiceProcess {
 public:
  // Starts the service with `args` (after --port=0 --app_port=0, which
  // `args` may override) and waits up to `timeout` for it to print its
  // ports.
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(
      const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(30));

  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  int probe_port() const { return probe_port_; }
  int app_port() const { return app_port_; }
  pid_t pid() const { return process_->pid(); }

  // Sends `signal` to the service process (not its group).
  void Signal(int signal);
  // The exit code once the process has exited within `timeout`; -1 if it was
  // killed by a signal; nullopt if still running.
  std::optional<int> WaitForExit(absl::Duration timeout);
  // Everything it printed so far (stdout and stderr).
  std::string Output() const { return process_->Output(); }

  // The binary's path in the test's runfiles.
  static std::string BinaryPath();

 private:
  explicit ServiceProcess(std::unique_ptr<vigil::testing::Subprocess> process)
      : process_(std::move(process)) {}

  std::unique_ptr<vigil::testing::Subprocess> process_;
  int probe_port_ = 0;
  int app_port_ = 0;
};

}  // namespace testing
}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_TESTING_SERVICE_PROCESS_H_
