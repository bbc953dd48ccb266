// S3 for real: dependencies absent when the service starts. A real
// HealthRegistry runs real checks against a real Redis (critical) and a real
// PostgreSQL (non-critical) that are not running yet; the service's own
// port answers a liveness self-probe. Readiness follows the criticality
// rules, liveness passes throughout, and starting each dependency recovers
// readiness without restarting anything.

#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/compose.h"
#include "health/checks/postgres.h"
#include "health/checks/redis.h"
#include "health/checks/self_probe.h"
#include "health/checks/testing/http_server.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/postgres_server.h"
#include "health/checks/testing/redis_server.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"
#include "health/testing/require.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::vigil::checks::testing::PostgresServer;
using ::vigil::checks::testing::PostgresServerOptions;
using ::vigil::checks::testing::RedisServer;
using ::vigil::checks::testing::RedisServerOptions;
using ::vigil::checks::testing::TestHttpServer;

constexpr absl::Duration kInterval = absl::Seconds(5);

class DependencyScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(!RedisServer::BinaryPath().empty(),
                          "redis-server is not installed");
    VIGIL_REQUIRE_OR_SKIP(!PostgresServer::BinDir().empty(),
                          "PostgreSQL is not installed");
  }

  // One scheduler step, then wait for the runs it started.
  void Step() {
    clock_.Advance(kInterval);
    registry_->RunOnceForTest();
    ASSERT_TRUE(registry_->WaitUntilIdleForTest(absl::Seconds(60)));
  }

  const CheckSnapshot& Find(const std::string& name) {
    snapshot_ = registry_->snapshot();
    const CheckSnapshot* c = snapshot_->FindCheck(name);
    EXPECT_NE(c, nullptr) << name;
    static const CheckSnapshot kMissing;
    return c != nullptr ? *c : kMissing;
  }

  vigil::testing::FakeClock clock_;
  std::unique_ptr<HealthRegistry> registry_;
  std::shared_ptr<const Snapshot> snapshot_;
};

TEST_F(DependencyScenarioTest, AbsentDependenciesFollowCriticalityAndRecover) {
  // The service itself: serving on its port.
  auto service = TestHttpServer::Start([](httplib::Server& s) {
    s.Get("/ping", [](const httplib::Request&, httplib::Response& r) {
      r.set_content("pong", "text/plain");
    });
  });
  ASSERT_TRUE(service.ok()) << service.status();
  // Where the dependencies will be, once they start.
  absl::StatusOr<int> redis_port = testing::PickFreePort();
  absl::StatusOr<int> pg_port = testing::PickFreePort();
  ASSERT_TRUE(redis_port.ok() && pg_port.ok());

  RegistryOptions ro;
  ro.clock = &clock_;
  registry_ = std::make_unique<HealthRegistry>(ro);

  RedisCheckOptions redis;
  redis.address = absl::StrCat("127.0.0.1:", *redis_port);
  redis.name = "redis";
  redis.clock = &clock_;
  redis.check.interval = kInterval;
  redis.check.failure_threshold = 1;
  absl::StatusOr<Check> redis_check = RedisCheck(redis);
  ASSERT_TRUE(redis_check.ok());

  PostgresCheckOptions pg;
  pg.host = "127.0.0.1";
  pg.port = *pg_port;
  pg.user = "postgres";
  pg.password = "vigil-superuser-pw";
  pg.name = "postgres";
  pg.clock = &clock_;
  pg.check.interval = kInterval;
  absl::StatusOr<Check> pg_check = PostgresCheck(pg);
  ASSERT_TRUE(pg_check.ok());

  SelfProbeCheckOptions self;
  self.port = (*service)->port();
  self.path = "/ping";
  self.clock = &clock_;
  self.check.interval = kInterval;
  absl::StatusOr<Check> self_check = SelfProbeCheck(self);
  ASSERT_TRUE(self_check.ok());

  // Registration never waits for a dependency: the service starts at once.
  ASSERT_TRUE(registry_->Register(*redis_check).ok());
  ASSERT_TRUE(registry_->Register(NonCritical(*pg_check)).ok());
  ASSERT_TRUE(registry_->Register(*self_check).ok());
  registry_->RunOnceForTest();
  ASSERT_TRUE(registry_->WaitUntilIdleForTest(absl::Seconds(60)));

  // Both dependencies absent: the critical one fails readiness, liveness
  // (which never follows dependencies) passes.
  EXPECT_EQ(Find("redis").result.status, Status::kUnhealthy);
  EXPECT_EQ(Find("redis").result.details.at("reason"), "refused");
  EXPECT_EQ(Find("postgres").result.status, Status::kUnhealthy);
  EXPECT_EQ(Find("postgres").result.details.at("reason"), "refused");
  EXPECT_EQ(Find("self-probe").result.status, Status::kHealthy);
  EXPECT_EQ(registry_->GroupStatus(kReadiness), Status::kUnhealthy);
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);

  // The critical dependency comes up: readiness passes, DEGRADED because
  // the non-critical one is still missing. Nothing was restarted.
  RedisServerOptions rso;
  rso.port = *redis_port;
  auto redis_server = RedisServer::Start(rso);
  ASSERT_TRUE(redis_server.ok()) << redis_server.status();
  Step();
  EXPECT_EQ(Find("redis").result.status, Status::kHealthy)
      << Find("redis").result.message;
  EXPECT_EQ(registry_->GroupStatus(kReadiness), Status::kDegraded);
  EXPECT_TRUE(IsPassing(registry_->GroupStatus(kReadiness)));
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);

  // The non-critical one comes up too: fully healthy.
  PostgresServerOptions pso;
  pso.port = *pg_port;
  auto pg_server = PostgresServer::Start(pso);
  ASSERT_TRUE(pg_server.ok()) << pg_server.status();
  Step();
  EXPECT_EQ(Find("postgres").result.status, Status::kHealthy)
      << Find("postgres").result.message;
  EXPECT_EQ(registry_->GroupStatus(kReadiness), Status::kHealthy);

  // The non-critical dependency goes away again: DEGRADED, still serving.
  (*pg_server)->Stop();
  Step();
  EXPECT_EQ(Find("postgres").result.status, Status::kHealthy);  // Damped.
  Step();
  Step();
  EXPECT_EQ(Find("postgres").result.status, Status::kUnhealthy);
  EXPECT_EQ(registry_->GroupStatus(kReadiness), Status::kDegraded);
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);

  // And the critical one: readiness fails at once (failure_threshold 1);
  // liveness still passes, so no supervisor restarts the process for it.
  (*redis_server)->Stop();
  Step();
  EXPECT_EQ(registry_->GroupStatus(kReadiness), Status::kUnhealthy);
  EXPECT_THAT(Find("redis").result.message, HasSubstr("connection refused"));
  EXPECT_EQ(registry_->GroupStatus(kLiveness), Status::kHealthy);
  registry_.reset();
}

}  // namespace
}  // namespace checks
}  // namespace vigil
