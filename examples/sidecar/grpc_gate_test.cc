// `vigil-sidecar wait --grpc`: grpc_health_probe's exit codes against a
// real vigil HealthServer on loopback.

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "examples/sidecar/gate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/grpc/health_server.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"

namespace vigil_sidecar {
namespace {

using ::testing::HasSubstr;

class GrpcGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigil::Check c;
    c.name = "pg";
    c.options.interval = absl::Seconds(1);
    c.options.failure_threshold = 1;
    c.function = [this](const vigil::CheckContext&) {
      return up_.load() ? vigil::CheckResult::Healthy()
                        : vigil::CheckResult::Unhealthy("down");
    };
    ASSERT_TRUE(registry_.Register(c).ok());
    Step();
    auto server = vigil::grpc_health::HealthServer::Start(&registry_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void Step() {
    clock_.Advance(absl::Seconds(1));
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
    registry_.RunOnceForTest();
  }
  GrpcGateOptions Options(const std::string& service) {
    GrpcGateOptions o;
    o.target = absl::StrCat("127.0.0.1:", server_->port());
    o.service = service;
    o.timeout = absl::Seconds(2);
    o.interval = absl::Milliseconds(20);
    o.successes = 2;
    o.request_timeout = absl::Seconds(5);
    return o;
  }

  static vigil::RegistryOptions Options(vigil::Clock* clock) {
    vigil::RegistryOptions o;
    o.clock = clock;
    return o;
  }

  std::atomic<bool> up_{true};
  vigil::testing::FakeClock clock_;
  vigil::HealthRegistry registry_{Options(&clock_)};
  std::unique_ptr<vigil::grpc_health::HealthServer> server_;
};

TEST_F(GrpcGateTest, ServingExitsZero) {
  GrpcGateResult r = RunGrpcGate(Options("readiness"), nullptr);
  EXPECT_EQ(r.exit, GrpcGateExit::kServing) << r.last_error;
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.last_status, "SERVING");
  EXPECT_THAT(GrpcGateResultJson(Options("readiness"), r),
              HasSubstr("\"result\":\"serving\",\"exit_code\":0"));
}

TEST_F(GrpcGateTest, NotServingExitsFour) {
  up_.store(false);
  Step();
  GrpcGateOptions o = Options("pg");
  o.timeout = absl::Milliseconds(100);
  GrpcGateResult r = RunGrpcGate(o, nullptr);
  EXPECT_EQ(r.exit, GrpcGateExit::kUnhealthy);
  EXPECT_EQ(r.last_status, "NOT_SERVING");
}

TEST_F(GrpcGateTest, UnknownServiceIsAnRpcFailureThree) {
  GrpcGateOptions o = Options("nope");
  o.timeout = absl::Milliseconds(100);
  GrpcGateResult r = RunGrpcGate(o, nullptr);
  EXPECT_EQ(r.exit, GrpcGateExit::kRpcFailure);
  EXPECT_THAT(r.last_error, HasSubstr("code 5"));  // NOT_FOUND.
}

TEST_F(GrpcGateTest, NothingListeningIsAConnectionFailureTwo) {
  GrpcGateOptions o = Options("");
  server_.reset();  // Its port is now closed.
  o.timeout = absl::Milliseconds(100);
  o.request_timeout = absl::Milliseconds(300);
  GrpcGateResult r = RunGrpcGate(o, nullptr);
  EXPECT_EQ(r.exit, GrpcGateExit::kConnectionFailure);
}

TEST_F(GrpcGateTest, BadTargetOrOptionsExitOne) {
  GrpcGateOptions o = Options("");
  o.target = "no-port";
  EXPECT_EQ(RunGrpcGate(o, nullptr).exit, GrpcGateExit::kUsage);
  o = Options("");
  o.successes = 0;
  EXPECT_EQ(RunGrpcGate(o, nullptr).exit, GrpcGateExit::kUsage);
}

}  // namespace
}  // namespace vigil_sidecar
