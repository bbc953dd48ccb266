#include "health/grpc/internal/name_space.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace grpc_health {
namespace internal {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

class NameSpaceTest : public ::testing::Test {
 protected:
  NameSpaceTest() : registry_(Options()) {}
  RegistryOptions Options() {
    RegistryOptions o;
    o.clock = &clock_;
    return o;
  }
  void Add(std::string name, std::vector<std::string> groups, Status status,
           bool critical = true) {
    Check c;
    c.name = std::move(name);
    c.options.groups = std::move(groups);
    c.options.critical = critical;
    c.function = [status](const CheckContext&) {
      CheckResult r;
      r.status = status;
      return r;
    };
    ASSERT_TRUE(registry_.Register(std::move(c)).ok());
  }
  void Step() {
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
    registry_.RunOnceForTest();
  }
  testing::FakeClock clock_;
  HealthRegistry registry_;
};

TEST(ToServingTest, MapsAsDesigned) {
  EXPECT_EQ(ToServing(Status::kHealthy), Serving::kServing);
  EXPECT_EQ(ToServing(Status::kDegraded), Serving::kServing);
  EXPECT_EQ(ToServing(Status::kUnhealthy), Serving::kNotServing);
  EXPECT_EQ(ToServing(Status::kUnknown), Serving::kUnknown);
  EXPECT_EQ(OverallServing(Status::kHealthy, true), Serving::kNotServing);
}

TEST_F(NameSpaceTest, ResolvesOverallGroupsAndChecks) {
  Add("loop", {"liveness"}, Status::kHealthy);
  Add("pg", {"readiness", "db"}, Status::kUnhealthy);
  Add("cache", {"readiness"}, Status::kUnhealthy, /*critical=*/false);
  // Before any run: UNKNOWN everywhere it matters, not "not found".
  EXPECT_EQ(Resolve(*registry_.snapshot(), "pg"), Serving::kUnknown);
  Step();
  std::shared_ptr<const Snapshot> s = registry_.snapshot();
  EXPECT_EQ(Resolve(*s, ""), Serving::kNotServing);
  EXPECT_EQ(Resolve(*s, "all"), Serving::kNotServing);
  EXPECT_EQ(Resolve(*s, "liveness"), Serving::kServing);
  EXPECT_EQ(Resolve(*s, "readiness"), Serving::kNotServing);
  EXPECT_EQ(Resolve(*s, "startup"), Serving::kServing);  // No checks.
  EXPECT_EQ(Resolve(*s, "db"), Serving::kNotServing);
  EXPECT_EQ(Resolve(*s, "loop"), Serving::kServing);
  EXPECT_EQ(Resolve(*s, "cache"), Serving::kNotServing);
  EXPECT_EQ(Resolve(*s, "nope"), std::nullopt);
  EXPECT_EQ(Resolve(*s, "Loop"), std::nullopt);  // Names are exact.
}

TEST_F(NameSpaceTest, DrainTurnsOverallAndReadinessNotServing) {
  Add("loop", {"liveness", "readiness"}, Status::kHealthy);
  Step();
  ASSERT_EQ(Resolve(*registry_.snapshot(), ""), Serving::kServing);
  registry_.BeginShutdown();
  std::shared_ptr<const Snapshot> s = registry_.snapshot();
  EXPECT_EQ(Resolve(*s, ""), Serving::kNotServing);
  EXPECT_EQ(Resolve(*s, "readiness"), Serving::kNotServing);
  EXPECT_EQ(Resolve(*s, "liveness"), Serving::kServing);
  EXPECT_EQ(Resolve(*s, "loop"), Serving::kServing);
}

TEST_F(NameSpaceTest, ListHasOverallEveryGroupButAllAndEveryCheck) {
  Add("loop", {"liveness"}, Status::kHealthy);
  Add("pg", {"readiness", "db"}, Status::kUnhealthy);
  Step();
  std::shared_ptr<const Snapshot> s = registry_.snapshot();
  EXPECT_EQ(ListSize(*s), 7u);
  EXPECT_THAT(ListAll(*s), ElementsAre(Pair("", Serving::kNotServing),
                                       Pair("db", Serving::kNotServing),
                                       Pair("liveness", Serving::kServing),
                                       Pair("readiness", Serving::kNotServing),
                                       Pair("startup", Serving::kServing),
                                       Pair("loop", Serving::kServing),
                                       Pair("pg", Serving::kNotServing)));
}

}  // namespace
}  // namespace internal
}  // namespace grpc_health
}  // namespace vigil
