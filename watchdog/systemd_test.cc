#include "watchdog/systemd.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/testing/fake_clock.h"
#include "watchdog/testing/notify_socket.h"

namespace vigil {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::NotifySocket;

TEST(SdNotifyTest, SendsOneDatagramToAPathSocket) {
  NotifySocket systemd(NotifySocket::Kind::kPath);
  ASSERT_EQ(systemd.address()[0], '/');
  ASSERT_TRUE(SdNotify(systemd.address(), "READY=1").ok());
  ASSERT_TRUE(SdNotify(systemd.address(), "STATUS=warming up").ok());
  EXPECT_THAT(systemd.Drain(), ElementsAre("READY=1", "STATUS=warming up"));
}

TEST(SdNotifyTest, SendsToAnAbstractSocket) {
  NotifySocket systemd(NotifySocket::Kind::kAbstract);
  ASSERT_EQ(systemd.address()[0], '@');
  ASSERT_TRUE(SdNotify(systemd.address(), "WATCHDOG=1").ok());
  EXPECT_THAT(systemd.Drain(), ElementsAre("WATCHDOG=1"));
}

TEST(SdNotifyTest, ReportsBadAddressesAndMissingListeners) {
  EXPECT_EQ(SdNotify("", "READY=1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SdNotify(std::string(200, 'x'), "READY=1").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SdNotify("@x", "").code(), absl::StatusCode::kInvalidArgument);
  const absl::Status s = SdNotify("@vigil-nobody-listens-here", "READY=1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("Connection refused"));
}

TEST(SystemdEnvironmentTest, WatchdogPidIsHonoured) {
  SystemdEnvironment env;
  EXPECT_FALSE(env.WatchdogEnabledFor(getpid()));
  env.watchdog_timeout = absl::Seconds(10);
  EXPECT_TRUE(env.WatchdogEnabledFor(getpid()));
  env.watchdog_pid = getpid();
  EXPECT_TRUE(env.WatchdogEnabledFor(getpid()));
  env.watchdog_pid = getpid() + 1;
  EXPECT_FALSE(env.WatchdogEnabledFor(getpid()));
}

// With another thread running, the variables are read but not removed:
// unsetenv() would race that thread's getenv(). Runs in a forked child (the
// first result is remembered per process), before any test here takes the
// environment.
TEST(SystemdEnvironmentTest, WithThreadsRunningTheEnvironmentIsNotModified) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("NOTIFY_SOCKET", "@vigil-threaded", 1);
    int never[2];
    if (pipe(never) != 0) _exit(10);
    std::thread reader([&] {
      char c;
      while (read(never[0], &c, 1) < 0) {
      }
      for (int i = 0; i < 100000; ++i) {
        if (getenv("NOTIFY_SOCKET") == nullptr) _exit(11);
      }
    });
    const SystemdEnvironment env = TakeSystemdEnvironment();
    const char* left = getenv("NOTIFY_SOCKET");
    const bool ok = env.notify_socket == "@vigil-threaded" && left != nullptr &&
                    std::string(left) == "@vigil-threaded";
    close(never[1]);  // Lets the reader run its getenv() loop.
    reader.join();
    _exit(ok ? 0 : 12);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The only test in this binary that touches the real environment.
TEST(SystemdEnvironmentTest, TakeReadsAndRemovesTheVariables) {
  setenv("NOTIFY_SOCKET", "@vigil-env-test", 1);
  setenv("WATCHDOG_USEC", "3000000", 1);
  setenv("WATCHDOG_PID", absl::StrCat(getpid()).c_str(), 1);
  const SystemdEnvironment env = TakeSystemdEnvironment();
  EXPECT_EQ(env.notify_socket, "@vigil-env-test");
  EXPECT_EQ(env.watchdog_timeout, absl::Seconds(3));
  EXPECT_EQ(env.watchdog_pid, getpid());
  EXPECT_EQ(getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_EQ(getenv("WATCHDOG_USEC"), nullptr);
  EXPECT_EQ(getenv("WATCHDOG_PID"), nullptr);
  // A child spawned now does not see them.
  FILE* child = popen(
      "echo \"${NOTIFY_SOCKET-unset} ${WATCHDOG_USEC-unset} "
      "${WATCHDOG_PID-unset}\"",
      "r");
  ASSERT_NE(child, nullptr);
  char line[128] = {};
  ASSERT_NE(fgets(line, sizeof(line), child), nullptr);
  pclose(child);
  EXPECT_EQ(std::string(line), "unset unset unset\n");
  // Later calls return the first result.
  EXPECT_EQ(TakeSystemdEnvironment().notify_socket, "@vigil-env-test");
}

class NotifierTest : public ::testing::Test {
 protected:
  SystemdNotifierOptions Options(absl::Duration watchdog_usec,
                                 pid_t watchdog_pid = 0) {
    SystemdNotifierOptions o;
    o.clock = &clock_;
    o.start_thread = false;
    o.liveness = [this] { return alive_.load(); };
    SystemdEnvironment env;
    env.notify_socket = systemd_.address();
    env.watchdog_timeout = watchdog_usec;
    env.watchdog_pid = watchdog_pid;
    o.environment = env;
    return o;
  }

  testing::FakeClock clock_;
  NotifySocket systemd_{NotifySocket::Kind::kAbstract};
  std::atomic<bool> alive_{true};
};

TEST_F(NotifierTest, SendsExactlyReadyWatchdogAndStopping) {
  SystemdNotifier n(Options(absl::Seconds(4)));
  EXPECT_TRUE(n.enabled());
  EXPECT_TRUE(n.watchdog_enabled());
  EXPECT_EQ(n.ping_interval(), absl::Seconds(2));  // Half of WATCHDOG_USEC.
  ASSERT_TRUE(n.Ready().ok());
  const absl::Time t0 = clock_.Now();
  EXPECT_EQ(n.RunOnceForTest(), t0 + absl::Seconds(2));
  clock_.Advance(absl::Seconds(2));
  n.RunOnceForTest();
  ASSERT_TRUE(n.SetStatus("serving\n42 requests").ok());
  ASSERT_TRUE(n.Stopping().ok());
  // Once stopping, no more pings.
  EXPECT_EQ(n.RunOnceForTest(), absl::InfiniteFuture());
  EXPECT_THAT(systemd_.Drain(),
              ElementsAre("READY=1", "WATCHDOG=1", "WATCHDOG=1",
                          "STATUS=serving 42 requests", "STOPPING=1"));
}

TEST_F(NotifierTest, WatchdogPingsStopWhileLivenessFails) {
  SystemdNotifier n(Options(absl::Seconds(2)));
  n.RunOnceForTest();
  EXPECT_THAT(systemd_.Drain(), ElementsAre("WATCHDOG=1"));
  alive_ = false;
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(1));
    n.RunOnceForTest();
  }
  EXPECT_THAT(systemd_.Drain(), IsEmpty());
  alive_ = true;
  clock_.Advance(absl::Seconds(1));
  n.RunOnceForTest();
  EXPECT_THAT(systemd_.Drain(), ElementsAre("WATCHDOG=1"));
}

TEST_F(NotifierTest, NoPingsForAnotherWatchdogPid) {
  SystemdNotifier n(Options(absl::Seconds(2), getpid() + 1));
  EXPECT_FALSE(n.watchdog_enabled());
  EXPECT_EQ(n.RunOnceForTest(), absl::InfiniteFuture());
  ASSERT_TRUE(n.Ready().ok());
  EXPECT_THAT(systemd_.Drain(), ElementsAre("READY=1"));
}

TEST_F(NotifierTest, NoPingsWithoutWatchdogUsec) {
  SystemdNotifier n(Options(absl::ZeroDuration()));
  EXPECT_FALSE(n.watchdog_enabled());
  EXPECT_EQ(n.RunOnceForTest(), absl::InfiniteFuture());
  EXPECT_THAT(systemd_.Drain(), IsEmpty());
}

TEST_F(NotifierTest, WithoutNotifySocketEverythingIsANoOp) {
  SystemdNotifierOptions o;
  o.clock = &clock_;
  o.environment = SystemdEnvironment{};
  SystemdNotifier n(o);
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.Ready().ok());
  EXPECT_TRUE(n.SetStatus("x").ok());
  EXPECT_TRUE(n.Stopping().ok());
}

TEST_F(NotifierTest, ThePingThreadFollowsItsClock) {
  SystemdNotifierOptions o = Options(absl::Seconds(2));
  o.start_thread = true;
  SystemdNotifier n(o);
  EXPECT_EQ(systemd_.Receive(absl::Seconds(30)), "WATCHDOG=1");
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(systemd_.Receive(absl::Seconds(30)), "WATCHDOG=1");
}

}  // namespace
}  // namespace vigil
