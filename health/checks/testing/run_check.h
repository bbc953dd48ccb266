// RunCheckOnce: runs a Check's function once, the way a registry worker
// would, with a context whose deadline is now + the check's timeout.
//
//   vigil::CheckResult r = RunCheckOnce(*check);
//   EXPECT_EQ(r.status, vigil::Status::kHealthy) << r.message;

#ifndef VIGIL_HEALTH_CHECKS_TESTING_RUN_CHECK_H_
#define VIGIL_HEALTH_CHECKS_TESTING_RUN_CHECK_H_

#include "health/check.h"
#include "health/clock.h"

namespace vigil {
namespace checks {
namespace testing {

// `clock` nullptr = Clock::Real(). Exceptions propagate (a ready-made check
// must not throw; tests assert that by calling this).
CheckResult RunCheckOnce(const Check& check, Clock* clock = nullptr);

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_RUN_CHECK_H_
