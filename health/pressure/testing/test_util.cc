#include "health/pressure/testing/test_util.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace pressure {
namespace testing {

std::string FixtureRoot(absl::string_view name) {
  return vigil::testing::RunfilePath(
      absl::StrCat("health/pressure/testdata/", name));
}

std::string CopyFixture(absl::string_view name) {
  return vigil::testing::CopyTree(FixtureRoot(name));
}

absl::StatusOr<std::unique_ptr<vigil::testing::Subprocess>> StartWorkload(
    const std::vector<std::string>& args, const std::string& cgroup_procs) {
  vigil::testing::SubprocessOptions o;
  o.argv = {vigil::testing::RunfilePath("health/pressure/pressure_workload")};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.pipe_stdio = true;
  o.cgroup_procs = cgroup_procs;
  o.stop_signal = SIGKILL;
  o.stop_grace = absl::ZeroDuration();
  return vigil::testing::Subprocess::Start(std::move(o));
}

}  // namespace testing
}  // namespace pressure
}  // namespace vigil
