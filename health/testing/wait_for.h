// WaitFor: bounded waiting on a condition, for tests against real threads,
// processes and sockets.
//
// Unit tests drive time with a FakeClock (health/testing/fake_clock.h); a
// test that involves something real waits for what it needs with a
// deadline, never for a fixed time, so a slow machine only makes it slower:
//
//   ASSERT_TRUE(vigil::testing::WaitFor([&] { return child->Exited(); },
//                                       absl::Seconds(20)));
//
// Part of //health:toolkit.

#ifndef VIGIL_HEALTH_TESTING_WAIT_FOR_H_
#define VIGIL_HEALTH_TESTING_WAIT_FOR_H_

#include <functional>

#include "absl/time/time.h"

namespace vigil {
namespace testing {

// Calls `condition` until it returns true or `timeout` of real time has
// passed, pausing `poll` (at most what is left of the timeout) between
// calls. Returns the last value of `condition`, which is always called at
// least once, and once more when the timeout has passed.
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = absl::Seconds(10),
             absl::Duration poll = absl::Milliseconds(5));

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_HEALTH_TESTING_WAIT_FOR_H_
