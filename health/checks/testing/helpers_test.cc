// The checks' test servers themselves: they stop listening when their
// objects die. (The toolkit's own tests: health/testing/toolkit_test.cc.)

#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/redis_server.h"
#include "health/testing/require.h"

namespace vigil {
namespace checks {
namespace testing {
namespace {

TEST(PortsTest, FullBacklogListenerMakesConnectsTimeOut) {
  auto full = FullBacklogListener::Start();
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_FALSE(CanConnect("127.0.0.1", (*full)->port(), 200));
  auto silent = SilentListener::Start();
  ASSERT_TRUE(silent.ok());
  EXPECT_TRUE(CanConnect("127.0.0.1", (*silent)->port(), 2000));
}

TEST(RedisServerTest, ListensUntilStopped) {
  VIGIL_REQUIRE_OR_SKIP(!RedisServer::BinaryPath().empty(),
                        "redis-server is not installed");
  int port = 0;
  {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    port = (*redis)->port();
    EXPECT_TRUE(CanConnect("127.0.0.1", port));
    EXPECT_TRUE((*redis)->running());
  }
  EXPECT_FALSE(CanConnect("127.0.0.1", port));
}

}  // namespace
}  // namespace testing
}  // namespace checks
}  // namespace vigil
