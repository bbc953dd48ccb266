// Bounded waiting for tests that involve real threads and processes.
//
// Unit tests drive time with a FakeClock; tests against real threads or
// processes wait for a condition, never for a fixed time:
//
//   ASSERT_TRUE(vigil::testing::WaitFor([&] { return child.Exited(); },
//                                       absl::Seconds(20)));

#ifndef VIGIL_WATCHDOG_TESTING_WAIT_FOR_H_
#define VIGIL_WATCHDOG_TESTING_WAIT_FOR_H_

#include <sys/types.h>

#include <functional>

#include "absl/time/time.h"

namespace vigil {
namespace testing {

// Polls `condition` every `poll` until it holds (true) or `timeout` of real
// time has passed (false; `condition` is evaluated one last time).
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll = absl::Milliseconds(10));

// The scheduler state letter of thread `tid` of this process ('R', 'S',
// 'D', 'T', ...), from /proc/self/task/<tid>/stat; '?' if unreadable.
char ThreadState(pid_t tid);

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_TESTING_WAIT_FOR_H_
