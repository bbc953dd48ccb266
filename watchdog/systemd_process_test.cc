// systemd's notify protocol against a real process and a real socket: the
// test binds an AF_UNIX datagram socket, starts hang_child with
// NOTIFY_SOCKET and WATCHDOG_USEC pointing at it, and checks the exact
// datagrams, their sender, and that WATCHDOG=1 stops while liveness fails.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"
#include "watchdog/testing/notify_socket.h"

namespace vigil {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::NotifySocket;
using testing::Subprocess;
using testing::SubprocessOptions;

constexpr absl::Duration kWait = absl::Seconds(60);
// WATCHDOG_USEC=400000: pings every 200 ms.
constexpr absl::Duration kPing = absl::Milliseconds(200);

std::string HangChild() { return testing::RunfilePath("watchdog/hang_child"); }

// The time in a hang_child line's "at=<Unix ns>" field.
absl::Time AtOf(const std::string& line) {
  // " at=": "heartbeat=" ends in "at=" too.
  const size_t at = line.find(" at=");
  int64_t ns = 0;
  if (at == std::string::npos ||
      !absl::SimpleAtoi(line.substr(at + 4, line.find(' ', at + 1) - at - 4),
                        &ns)) {
    ADD_FAILURE() << "no at= in " << line;
  }
  return absl::FromUnixNanos(ns);
}

// Collects datagrams until `done` holds for what was collected, or timeout.
std::vector<NotifySocket::Datagram> CollectUntil(
    NotifySocket& socket,
    const std::function<bool(const std::vector<NotifySocket::Datagram>&)>& done,
    absl::Duration timeout) {
  std::vector<NotifySocket::Datagram> got;
  const absl::Time deadline = absl::Now() + timeout;
  while (!done(got) && absl::Now() < deadline) {
    if (auto d = socket.ReceiveFrom(absl::Milliseconds(100))) {
      got.push_back(*d);
    }
  }
  return got;
}

int Count(const std::vector<NotifySocket::Datagram>& got,
          const std::string& text) {
  int n = 0;
  for (const auto& d : got) n += d.text == text ? 1 : 0;
  return n;
}

TEST(SystemdProcessTest, ReadyWatchdogStoppingAndNoPingsWhileLivenessFails) {
  NotifySocket systemd(NotifySocket::Kind::kPath);
  SubprocessOptions o;
  o.argv = {HangChild(),       "--notify",
            "--mode=deadlock", "--hang_after=1500ms",
            "--miss=300ms",    "--long_miss=600ms",
            "--kill=1s"};
  o.env = {absl::StrCat("NOTIFY_SOCKET=", systemd.address()),
           "WATCHDOG_USEC=400000", "WATCHDOG_PID="};
  o.stop_signal = SIGKILL;
  o.stop_grace = absl::ZeroDuration();
  auto started = Subprocess::Start(o);
  ASSERT_TRUE(started.ok()) << started.status();
  Subprocess& child = **started;

  // READY=1 once, then WATCHDOG=1 every 200 ms while liveness passes.
  std::vector<NotifySocket::Datagram> before = CollectUntil(
      systemd,
      [](const auto& got) {
        return Count(got, "READY=1") == 1 && Count(got, "WATCHDOG=1") >= 3;
      },
      kWait);
  EXPECT_EQ(Count(before, "READY=1"), 1);
  EXPECT_GE(Count(before, "WATCHDOG=1"), 3);
  for (const auto& d : before) {
    EXPECT_THAT(d.text, ::testing::AnyOf("READY=1", "WATCHDOG=1"));
    EXPECT_EQ(d.pid, child.pid());
  }
  // The variables were taken: the child's environment no longer has them.
  EXPECT_THAT(child.Output(), HasSubstr("ENV NOTIFY_SOCKET=unset"));

  // The worker deadlocks; past its kill threshold liveness fails for good.
  // (On a starved machine liveness may also fail, and recover, before the
  // hang, when the child gets no CPU for longer than a kill threshold: only
  // a failure reported after the hang, and once the worker has been silent
  // past its kill threshold, is the one that lasts.)
  ASSERT_TRUE(child.WaitForOutput("HANG mode=deadlock", kWait))
      << child.Output();
  const absl::Time hang_at = AtOf(child.Lines("HANG mode=deadlock").front());
  auto failing_since_hang = [&] {
    for (const std::string& line : child.Lines("LIVENESS failing")) {
      if (AtOf(line) >= hang_at) return true;
    }
    return false;
  };
  ASSERT_TRUE(testing::WaitFor(failing_since_hang, kWait)) << child.Output();
  // And until the watchdog has judged the worker past its kill threshold
  // ("EVENT kill", or "EVENT kill suppressed" on a starved machine): from
  // then on liveness fails for good.
  auto past_kill_threshold = [&] {
    for (const std::string& line : child.Lines("EVENT kill")) {
      if (AtOf(line) >= hang_at) return true;
    }
    return false;
  };
  ASSERT_TRUE(testing::WaitFor(past_kill_threshold, kWait)) << child.Output();
  // Pings sent while it still passed are queued already.
  EXPECT_THAT(systemd.Drain(), Each(std::string("WATCHDOG=1")));
  // A ping decided just before liveness flipped may still land; after one
  // ping interval there must be none at all.
  std::vector<std::string> straggler;
  while (auto d = systemd.Receive(kPing)) straggler.push_back(*d);
  EXPECT_LE(straggler.size(), 1u);
  EXPECT_THAT(straggler, Each(std::string("WATCHDOG=1")));
  EXPECT_EQ(systemd.Receive(6 * kPing), std::nullopt)
      << "WATCHDOG=1 sent while liveness fails";

  // SIGTERM: the service says STOPPING=1.
  child.SignalProcess(SIGTERM);
  EXPECT_EQ(systemd.Receive(kWait), "STOPPING=1");
  EXPECT_EQ(systemd.Receive(4 * kPing), std::nullopt);
}

TEST(SystemdProcessTest, TheSupervisorRelaysForItsChildAsTheMainPid) {
  NotifySocket systemd(NotifySocket::Kind::kAbstract);
  SubprocessOptions o;
  o.argv = {HangChild(), "--supervise", "--notify", "--mode=healthy"};
  o.env = {absl::StrCat("NOTIFY_SOCKET=", systemd.address()),
           "WATCHDOG_USEC=400000", "WATCHDOG_PID="};
  o.stop_signal = SIGKILL;
  o.stop_grace = absl::ZeroDuration();
  auto started = Subprocess::Start(o);
  ASSERT_TRUE(started.ok()) << started.status();
  Subprocess& child = **started;
  const pid_t supervisor = child.pid();

  std::vector<NotifySocket::Datagram> got = CollectUntil(
      systemd,
      [&](const auto& g) {
        return g.size() >= 4 && Count(g, "WATCHDOG=1") >= 3;
      },
      kWait);
  const std::string ready = absl::StrCat("READY=1\nMAINPID=", supervisor);
  EXPECT_EQ(Count(got, ready), 1);
  EXPECT_GE(Count(got, "WATCHDOG=1"), 3);
  for (const auto& d : got) {
    EXPECT_THAT(d.text, ::testing::AnyOf(ready, "WATCHDOG=1"));
    // Every datagram comes from the supervisor, none from the child.
    EXPECT_EQ(d.pid, supervisor);
  }
  EXPECT_THAT(child.Output(), HasSubstr("ENV NOTIFY_SOCKET=unset"));

  child.SignalProcess(SIGTERM);
  // Pings may be in flight; STOPPING=1 comes, and nothing after it.
  std::vector<NotifySocket::Datagram> tail = CollectUntil(
      systemd,
      [](const auto& g) { return !g.empty() && g.back().text == "STOPPING=1"; },
      kWait);
  ASSERT_FALSE(tail.empty());
  EXPECT_EQ(tail.back().text, "STOPPING=1");
  EXPECT_EQ(tail.back().pid, supervisor);
  for (size_t i = 0; i + 1 < tail.size(); ++i) {
    EXPECT_EQ(tail[i].text, "WATCHDOG=1");
  }
  std::optional<int> status = child.WaitForExit(kWait);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(systemd.Receive(2 * kPing), std::nullopt);
}

}  // namespace
}  // namespace vigil
