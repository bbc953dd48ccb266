#include "examples/service/testing/service_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"

namespace vigil_example {
namespace testing {

std::string ServiceProcess::BinaryPath() {
  return vigil::testing::RunfilePath("examples/service/service");
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    const std::vector<std::string>& args, absl::Duration timeout) {
  vigil::testing::SubprocessOptions o;
  o.argv = {BinaryPath(), "--port=0", "--app_port=0"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stop_signal = SIGKILL;
  o.stop_grace = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<vigil::testing::Subprocess>> process =
      vigil::testing::Subprocess::Start(std::move(o));
  if (!process.ok()) return process.status();
  std::unique_ptr<ServiceProcess> p(new ServiceProcess(*std::move(process)));
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

void ServiceProcess::Signal(int signal) { process_->SignalProcess(signal); }

std::optional<int> ServiceProcess::WaitForExit(absl::Duration timeout) {
  const std::optional<int> status = process_->WaitForExit(timeout);
  if (!status.has_value()) return std::nullopt;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

}  // namespace testing
}  // namespace vigil_example
