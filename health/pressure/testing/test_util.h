// Test helpers for the pressure detectors: their fixture trees and their
// workload child. Everything general (WaitFor, Subprocess, files, temp dirs)
// is in //health:toolkit; privileged tests use VIGIL_REQUIRE_OR_SKIP from
// health/testing/require.h.

#ifndef VIGIL_HEALTH_PRESSURE_TESTING_TEST_UTIL_H_
#define VIGIL_HEALTH_PRESSURE_TESTING_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "health/testing/subprocess.h"

namespace vigil {
namespace pressure {
namespace testing {

// The root of fixture tree `name` (see testdata/generate.py).
std::string FixtureRoot(absl::string_view name);

// Copies fixture tree `name` into a fresh directory under TEST_TMPDIR (so a
// test can change files between samples) and returns its root.
std::string CopyFixture(absl::string_view name);

// Starts health/pressure/pressure_workload with `args` (its mode first),
// its stdin and stdout piped to the test, killed (SIGKILL) on destruction.
// If `cgroup_procs` is not empty the child joins that cgroup before exec.
// The target needs `data = [":pressure_workload"]`.
absl::StatusOr<std::unique_ptr<vigil::testing::Subprocess>> StartWorkload(
    const std::vector<std::string>& args, const std::string& cgroup_procs = "");

}  // namespace testing
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_TESTING_TEST_UTIL_H_
