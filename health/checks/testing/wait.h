// WaitFor: bounded polling of a condition, for tests against real processes.
//
// Tests never sleep a fixed time; they wait for what they need with a
// deadline, so a slow machine only makes them slower, never flaky:
//
//   ASSERT_TRUE(vigil::checks::testing::WaitFor(
//       [&] { return server->Accepting(); }, absl::Seconds(20)));

#ifndef VIGIL_HEALTH_CHECKS_TESTING_WAIT_H_
#define VIGIL_HEALTH_CHECKS_TESTING_WAIT_H_

#include <functional>

#include "absl/time/time.h"

namespace vigil {
namespace checks {
namespace testing {

// Calls `pred` until it returns true or `timeout` of real time has passed,
// pausing `poll` between calls. Returns the last value of `pred`. `pred` is
// always called at least once, and once more at the end of the timeout.
bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout,
             absl::Duration poll = absl::Milliseconds(10));

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_WAIT_H_
