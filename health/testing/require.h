// VIGIL_REQUIRE_OR_SKIP: a test's precondition on the machine (a binary, a
// kernel feature, root) that skips with a printed reason on a developer's
// machine and fails when the environment variable CI is set, because CI
// installs everything (scripts/setup.sh) and a skip there hides a test that
// never ran.
//
//   TEST(HaproxyTest, Drains) {
//     VIGIL_REQUIRE_OR_SKIP(access("/usr/sbin/haproxy", X_OK) == 0,
//                           "haproxy not installed (scripts/setup.sh)");
//     ...
//   }
//
// `reason` is streamed like a FAIL() message, so it may be a chain such as
// `"no IPv6 loopback: " << status`; it is evaluated only when `condition`
// is false. Use it in the test body or SetUp(); like GTEST_SKIP and FAIL it
// returns from the current function. Test-only.

#ifndef VIGIL_HEALTH_TESTING_REQUIRE_H_
#define VIGIL_HEALTH_TESTING_REQUIRE_H_

#include <cstdlib>

#include "gtest/gtest.h"

namespace vigil {
namespace testing {

// True when running under CI (the variable CI is set and not empty).
inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

}  // namespace testing
}  // namespace vigil

#define VIGIL_REQUIRE_OR_SKIP(condition, reason)        \
  if (condition) {                                      \
  } else if (::vigil::testing::InCi()) {                \
    FAIL() << "required under CI, missing: " << reason; \
  } else                                                \
    GTEST_SKIP() << reason

#endif  // VIGIL_HEALTH_TESTING_REQUIRE_H_
