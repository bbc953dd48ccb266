#include "health/version.h"

#include <string>

#include "gtest/gtest.h"

namespace vigil {
namespace {

TEST(VersionTest, StringMatchesParts) {
  EXPECT_EQ(std::string(kVersion), std::to_string(VIGIL_VERSION_MAJOR) + "." +
                                       std::to_string(VIGIL_VERSION_MINOR) +
                                       "." +
                                       std::to_string(VIGIL_VERSION_PATCH));
  EXPECT_EQ(VIGIL_VERSION_NUMBER, VIGIL_VERSION_MAJOR * 10000 +
                                      VIGIL_VERSION_MINOR * 100 +
                                      VIGIL_VERSION_PATCH);
}

}  // namespace
}  // namespace vigil
