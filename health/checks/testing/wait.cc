#include "health/checks/testing/wait.h"

#include "absl/time/clock.h"

namespace vigil {
namespace checks {
namespace testing {

bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout,
             absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (pred()) return true;
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    absl::SleepFor(std::min(poll, deadline - now));
  }
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
