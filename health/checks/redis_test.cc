// RedisCheck against a real redis-server started by the test (S5: the
// server's maxclients limit reached, then released).

#include "health/checks/redis.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/redis_server.h"
#include "health/checks/testing/run_check.h"
#include "health/testing/require.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::checks::testing::RedisServer;
using ::vigil::checks::testing::RedisServerOptions;
using ::vigil::checks::testing::RunCheckOnce;
using ::vigil::checks::testing::TcpConnection;

constexpr char kPassword[] = "redis-test-secret-pw";

class RedisCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(
        !RedisServer::BinaryPath().empty(),
        "redis-server is not installed (scripts/setup.sh installs it)");
  }

  std::unique_ptr<RedisServer> Start(RedisServerOptions o = {}) {
    auto server = RedisServer::Start(o);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  static CheckResult Probe(const std::string& address,
                           const std::string& password = "",
                           const std::string& username = "",
                           absl::Duration timeout = absl::Seconds(5)) {
    RedisCheckOptions o;
    o.address = address;
    o.password = password;
    o.username = username;
    o.check.timeout = timeout;
    absl::StatusOr<Check> c = RedisCheck(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return RunCheckOnce(*c);
  }

  static void ExpectNoSecret(const CheckResult& r, const std::string& secret) {
    EXPECT_THAT(r.message, Not(HasSubstr(secret)));
    for (const auto& [k, v] : r.details) {
      EXPECT_THAT(v, Not(HasSubstr(secret))) << k;
    }
  }
};

TEST_F(RedisCheckTest, PongFromARealServer) {
  auto redis = Start();
  ASSERT_NE(redis, nullptr);
  RedisCheckOptions o;
  o.address = redis->address();
  absl::StatusOr<Check> c = RedisCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, absl::StrCat("redis:", redis->address()));
  EXPECT_EQ(c->options.kind, CheckKind::kDependency);
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("PONG in "));
  EXPECT_EQ(r.details["address"], redis->address());
  EXPECT_EQ(r.observed_unit, "seconds");
}

TEST_F(RedisCheckTest, AuthenticationOutcomesAreTold) {
  RedisServerOptions so;
  so.password = kPassword;
  auto redis = Start(so);
  ASSERT_NE(redis, nullptr);

  CheckResult r = Probe(redis->address(), kPassword);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  r = Probe(redis->address(), kPassword, "default");  // ACL form.
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;

  r = Probe(redis->address(), "wrong-password-1234");
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "auth");
  EXPECT_THAT(r.message, HasSubstr("authentication failed: WRONGPASS"));
  ExpectNoSecret(r, "wrong-password-1234");

  r = Probe(redis->address());
  EXPECT_EQ(r.details["reason"], "auth");
  EXPECT_EQ(r.message, "authentication required (the check has no password)");

  auto open = Start();  // No requirepass.
  ASSERT_NE(open, nullptr);
  r = Probe(open->address(), kPassword);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "auth") << r.message;
  ExpectNoSecret(r, kPassword);
}

TEST_F(RedisCheckTest, RefusedOnceTheServerStops) {
  auto redis = Start();
  ASSERT_NE(redis, nullptr);
  const std::string address = redis->address();
  EXPECT_EQ(Probe(address).status, Status::kHealthy);
  redis->Stop();
  CheckResult r = Probe(address);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_THAT(r.message, HasSubstr("connection refused"));
  EXPECT_EQ(r.details["reason"], "refused");
}

TEST_F(RedisCheckTest, TimedOutWhenNothingAnswers) {
  auto silent = testing::SilentListener::Start();
  ASSERT_TRUE(silent.ok());
  CheckResult r = Probe(absl::StrCat("127.0.0.1:", (*silent)->port()), "", "",
                        absl::Milliseconds(400));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "timed_out");
  EXPECT_THAT(r.message, ::testing::ContainsRegex(
                             "timed out after [0-9]+ms waiting for a reply"));
}

// S5: hold connections up to maxclients; the check reports exactly that
// condition, then recovers when the connections are released.
TEST_F(RedisCheckTest, MaxClientsReachedThenRecovered) {
  RedisServerOptions so;
  so.maxclients = 3;
  so.password = kPassword;
  auto redis = Start(so);
  ASSERT_NE(redis, nullptr);
  EXPECT_EQ(Probe(redis->address(), kPassword).status, Status::kHealthy);

  std::vector<std::unique_ptr<TcpConnection>> held;
  for (int i = 0; i < so.maxclients; ++i) {
    auto conn = TcpConnection::Open("127.0.0.1", redis->port());
    ASSERT_TRUE(conn.ok()) << conn.status();
    // A reply proves the server accepted and counts this client.
    ASSERT_TRUE((*conn)->Send("PING\r\n"));
    ASSERT_EQ((*conn)->ReadLine(), "-NOAUTH Authentication required.") << i;
    held.push_back(*std::move(conn));
  }
  CheckResult r = Probe(redis->address(), kPassword);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "max number of clients reached");
  EXPECT_EQ(r.details["reason"], "max_clients");
  ExpectNoSecret(r, kPassword);

  held.pop_back();  // One slot frees up.
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    // The server notices the close on its next event-loop turn; each probe
    // is itself a bounded wait.
    recovered = Probe(redis->address(), kPassword).status == Status::kHealthy;
  }
  EXPECT_TRUE(recovered);
}

TEST(RedisCheckConfigTest, RejectsBadInputNamingTheField) {
  RedisCheckOptions o;
  EXPECT_THAT(RedisCheck(o).status().message(), HasSubstr("address"));
  o.address = "localhost";
  EXPECT_THAT(RedisCheck(o).status().message(), HasSubstr("address"));
  o.address = "localhost:6379";
  o.username = "app";
  EXPECT_THAT(RedisCheck(o).status().message(), HasSubstr("username"));
  o.password = "pw-1234567";
  o.name = "";
  absl::StatusOr<Check> c = RedisCheck(o);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->name, Not(HasSubstr("pw-1234567")));
}

}  // namespace
}  // namespace checks
}  // namespace vigil
