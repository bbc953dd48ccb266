// The test helpers themselves: processes are started and, above all,
// stopped; servers stop listening when their objects die.

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/redis_server.h"
#include "health/checks/testing/subprocess.h"
#include "health/checks/testing/temp_dir.h"
#include "health/checks/testing/wait.h"
#include "health/testing/require.h"

namespace vigil {
namespace checks {
namespace testing {
namespace {

using ::testing::HasSubstr;

TEST(WaitForTest, ReturnsAsSoonAsThePredicateHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, absl::Seconds(10),
                      absl::Milliseconds(1)));
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(WaitFor([] { return false; }, absl::Milliseconds(20)));
}

TEST(SubprocessTest, MissingBinaryIsAnError) {
  SubprocessOptions o;
  o.argv = {"/nonexistent/binary"};
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(o);
  EXPECT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("No such file"));
  o.argv = {"relative/path"};
  EXPECT_EQ(Subprocess::Start(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, StopKillsTheWholeProcessGroup) {
  auto dir = ScopedTempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string pid_file = (*dir)->path() + "/grandchild.pid";
  SubprocessOptions o;
  // The shell ignores SIGTERM; its background child is the grandchild.
  o.argv = {"/bin/sh", "-c",
            absl::StrCat("trap '' TERM; sleep 1000 & echo $! > ", pid_file,
                         "; wait")};
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<std::string> s = ReadFile(pid_file);
        return s.ok() && absl::EndsWith(*s, "\n");
      },
      absl::Seconds(10)));
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*ReadFile(pid_file)),
                               &grandchild));
  EXPECT_TRUE((*p)->Running());
  const int status = (*p)->Stop(SIGTERM, absl::Milliseconds(200));
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);  // TERM was ignored: escalated.
  EXPECT_FALSE((*p)->Running());
  // The grandchild went with the group (once its zombie is reaped, it is
  // gone altogether).
  EXPECT_TRUE(
      WaitFor([&] { return kill(grandchild, 0) != 0; }, absl::Seconds(10)));
}

TEST(SubprocessTest, DestructorStopsTheChild) {
  pid_t pid = 0;
  {
    SubprocessOptions o;
    o.argv = {"/bin/sleep", "1000"};
    auto p = Subprocess::Start(o);
    ASSERT_TRUE(p.ok());
    pid = (*p)->pid();
    EXPECT_EQ(kill(pid, 0), 0);
  }
  EXPECT_NE(kill(pid, 0), 0);  // Reaped by the destructor.
}

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
