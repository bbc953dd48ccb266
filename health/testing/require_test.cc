#include "health/testing/require.h"

#include <cstdlib>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace vigil {
namespace testing {
namespace {

using ::testing::HasSubstr;

// Sets CI to `value` (unsets it for nullopt) for one scope, then restores it.
class ScopedCi {
 public:
  explicit ScopedCi(std::optional<std::string> value) {
    if (const char* old = std::getenv("CI")) saved_ = old;
    if (value.has_value()) {
      setenv("CI", value->c_str(), 1);
    } else {
      unsetenv("CI");
    }
  }
  ~ScopedCi() {
    if (saved_.has_value()) {
      setenv("CI", saved_->c_str(), 1);
    } else {
      unsetenv("CI");
    }
  }

 private:
  std::optional<std::string> saved_;
};

// Counts how often RequireThenCount() got past its requirement (static:
// EXPECT_FATAL_FAILURE's statement cannot use local variables).
int g_reached = 0;

void RequireThenCount(bool present) {
  VIGIL_REQUIRE_OR_SKIP(present, "widget " << 42 << " missing");
  ++g_reached;
}

TEST(RequireOrSkipTest, PresentPrerequisiteRunsOnInAndOutOfCi) {
  for (const std::optional<std::string>& ci :
       {std::optional<std::string>(), std::optional<std::string>("true")}) {
    ScopedCi scoped(ci);
    g_reached = 0;
    RequireThenCount(true);
    EXPECT_EQ(g_reached, 1);
  }
  EXPECT_FALSE(HasFailure());
  EXPECT_FALSE(IsSkipped());
}

TEST(RequireOrSkipTest, MissingUnderCiFailsWithTheReason) {
  ScopedCi ci("1");
  EXPECT_TRUE(InCi());
  g_reached = 0;
  EXPECT_FATAL_FAILURE(RequireThenCount(false),
                       "required under CI, missing: widget 42 missing");
  EXPECT_EQ(g_reached, 0);
}

// Runs fn(false) with gtest's results intercepted into `results`, so that a
// skip is recorded there and this test itself runs on.
void Intercept(void (*fn)(bool), ::testing::TestPartResultArray* results) {
  ::testing::ScopedFakeTestPartResultReporter reporter(
      ::testing::ScopedFakeTestPartResultReporter::
          INTERCEPT_ONLY_CURRENT_THREAD,
      results);
  fn(false);
}

TEST(RequireOrSkipTest, MissingOutsideCiSkipsWithTheReason) {
  for (const std::optional<std::string>& ci :
       {std::optional<std::string>(), std::optional<std::string>("")}) {
    SCOPED_TRACE(ci.has_value() ? "CI empty" : "CI unset");
    ScopedCi scoped(ci);
    EXPECT_FALSE(InCi());
    g_reached = 0;
    ::testing::TestPartResultArray results;
    Intercept(&RequireThenCount, &results);
    ASSERT_EQ(results.size(), 1);
    EXPECT_TRUE(results.GetTestPartResult(0).skipped());
    EXPECT_THAT(results.GetTestPartResult(0).message(),
                HasSubstr("widget 42 missing"));
    EXPECT_EQ(g_reached, 0);
  }
}

}  // namespace
}  // namespace testing
}  // namespace vigil
