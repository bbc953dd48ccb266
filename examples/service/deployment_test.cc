// The example service deployed as examples/deploy/vigil-example.service
// deploys it, with the test playing systemd's part for Type=notify +
// WatchdogSec= + NotifyAccess=main: it owns the notify socket, sets
// NOTIFY_SOCKET and WATCHDOG_USEC, and accepts datagrams only from the main
// PID (the supervisor). Real processes, loopback only.
//
// Proves: READY=1 (with MAINPID) only after startup completes; WATCHDOG=1
// keeps coming while healthy; a hung request handler is reported with its
// thread's stack and the supervisor restarts the child, whose application
// port serves again; a SIGSTOPped child is restarted; SIGTERM sends
// STOPPING=1, fails /readyz at once and exits within the drain delay + 1 s.

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/service/testing/service_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/http/testing/http_test_util.h"
#include "health/sync.h"
#include "health/testing/upstream.h"
#include "health/testing/wait_for.h"
#include "httplib.h"
#include "watchdog/testing/notify_socket.h"

namespace vigil_example {
namespace {

using ::testing::HasSubstr;
using testing::ServiceProcess;
using vigil::testing::NotifySocket;
using vigil::testing::Upstream;
using vigil::testing::WaitFor;

// WATCHDOG_USEC=2 s: the service pings every second while alive.
constexpr absl::Duration kWatchdogTimeout = absl::Seconds(2);
constexpr absl::Duration kWarmup = absl::Seconds(2);
constexpr absl::Duration kDrainDelay = absl::Seconds(1);
// Handler deadline 250 ms: stack at 500 ms, hung (restart) at 1 s.
constexpr absl::Duration kHandlerDeadline = absl::Milliseconds(250);

// systemd's side of the notify socket: every datagram with its sender and
// arrival time, collected on a thread.
class FakeSystemd {
 public:
  struct Message {
    std::string text;
    pid_t pid = 0;
    absl::Time time;
  };

  FakeSystemd() {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (auto d = socket_.ReceiveFrom(absl::Milliseconds(100))) {
          vigil::MutexLock lock(&mu_);
          messages_.push_back({d->text, d->pid, absl::Now()});
        }
      }
    });
  }
  ~FakeSystemd() {
    stop_.store(true);
    thread_.join();
  }

  const std::string& address() const { return socket_.address(); }

  std::vector<Message> Messages() const {
    vigil::MutexLock lock(&mu_);
    return messages_;
  }
  // The first message whose text starts with `prefix` at or after `since`.
  std::optional<Message> Find(absl::string_view prefix,
                              absl::Time since = absl::InfinitePast()) const {
    for (const Message& m : Messages()) {
      if (m.time >= since && absl::StartsWith(m.text, prefix)) return m;
    }
    return std::nullopt;
  }
  int Count(absl::string_view text, absl::Time since, absl::Time until) const {
    int n = 0;
    for (const Message& m : Messages()) {
      n += m.text == text && m.time >= since && m.time < until;
    }
    return n;
  }

 private:
  NotifySocket socket_{NotifySocket::Kind::kPath};
  std::atomic<bool> stop_{false};
  mutable vigil::Mutex mu_;
  std::vector<Message> messages_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

int Get(int port, const std::string& path, int timeout_s = 1) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(timeout_s, 0);
  c.set_read_timeout(timeout_s, 0);
  httplib::Result r = c.Get(path.c_str());
  return r ? r->status : 0;
}

// Child pids in the order the service printed them ("... pid=N").
std::vector<pid_t> ChildPids(const std::string& output) {
  static const std::regex kLine(
      R"(vigil-example: probe=\S+ app=\S+ pid=(\d+))");
  std::vector<pid_t> pids;
  for (std::sregex_iterator it(output.begin(), output.end(), kLine), end;
       it != end; ++it) {
    int pid = 0;
    if (absl::SimpleAtoi((*it)[1].str(), &pid)) pids.push_back(pid);
  }
  return pids;
}

class DeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto probe = vigil::checks::testing::PickFreePort();
    auto app = vigil::checks::testing::PickFreePort();
    ASSERT_TRUE(probe.ok() && app.ok());
    probe_port_ = *probe;
    app_port_ = *app;
    // What systemd sets for Type=notify + WatchdogSec=2s.
    setenv("NOTIFY_SOCKET", systemd_.address().c_str(), 1);
    setenv("WATCHDOG_USEC",
           absl::StrCat(absl::ToInt64Microseconds(kWatchdogTimeout)).c_str(),
           1);
    unsetenv("VIGIL_SUPERVISOR");
    started_ = absl::Now();
    auto s = ServiceProcess::Start({
        absl::StrCat("--port=", probe_port_),
        absl::StrCat("--app_port=", app_port_),
        "--upstream=" + upstream_.address(),
        "--pressure=false",
        absl::StrCat("--warmup=", absl::FormatDuration(kWarmup)),
        absl::StrCat("--drain_delay=", absl::FormatDuration(kDrainDelay)),
        absl::StrCat("--handler_deadline=",
                     absl::FormatDuration(kHandlerDeadline)),
        "--supervisor_hang_timeout=1s",
        "--supervisor_stop_grace=1s",
    });
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = *std::move(s);
    ASSERT_TRUE(WaitFor([&] { return systemd_.Find("READY=1").has_value(); },
                        absl::Seconds(30)))
        << service_->Output();
    ready_ = *systemd_.Find("READY=1");
  }

  // Every datagram came from the main PID (NotifyAccess=main drops others).
  void ExpectOnlyFromMainPid() {
    for (const FakeSystemd::Message& m : systemd_.Messages()) {
      EXPECT_EQ(m.pid, service_->pid()) << "datagram \"" << m.text << "\"";
    }
  }

  // Waits for the child after `previous` to print its line and serve GET /
  // on the (same) application port; returns when it did, or InfiniteFuture.
  absl::Time WaitForReplacement(pid_t previous) {
    absl::Time serving = absl::InfiniteFuture();
    WaitFor(
        [&] {
          const std::vector<pid_t> pids = ChildPids(service_->Output());
          if (pids.empty() || pids.back() == previous) return false;
          if (Get(app_port_, "/") != 200) return false;
          serving = absl::Now();
          return true;
        },
        absl::Seconds(30));
    return serving;
  }

  pid_t CurrentChild() const {
    const std::vector<pid_t> pids = ChildPids(service_->Output());
    return pids.empty() ? 0 : pids.back();
  }

  FakeSystemd systemd_;
  Upstream upstream_;
  int probe_port_ = 0;
  int app_port_ = 0;
  absl::Time started_;
  FakeSystemd::Message ready_;
  std::unique_ptr<ServiceProcess> service_;
};

TEST_F(DeploymentTest, ReadyOnlyAfterStartupThenWatchdogPingsWhileHealthy) {
  EXPECT_EQ(ready_.text, absl::StrCat("READY=1\nMAINPID=", service_->pid()));
  // Not before the warm-up (the startup check) completed, and startup
  // passes when it arrives.
  EXPECT_GE(ready_.time - started_, kWarmup);
  EXPECT_EQ(Get(probe_port_, "/startupz"), 200);
  // Pings every WATCHDOG_USEC/2 while liveness passes: about 4 in 4.5 s.
  const absl::Time from = absl::Now();
  ASSERT_TRUE(WaitFor(
      [&] { return systemd_.Count("WATCHDOG=1", from, absl::Now()) >= 4; },
      absl::Seconds(10)));
  EXPECT_EQ(Get(probe_port_, "/livez"), 200);
  // A one-line status reached systemd (systemctl status shows it).
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = systemd_.Find("STATUS=liveness healthy, readiness healthy");
        return s.has_value();
      },
      absl::Seconds(10)))
      << "statuses: " << [&] {
           std::string all;
           for (const auto& m : systemd_.Messages()) all += m.text + " | ";
           return all;
         }();
  ExpectOnlyFromMainPid();
}

TEST_F(DeploymentTest, HungHandlerIsReportedWithItsStackAndTheChildRestarted) {
  ASSERT_EQ(Get(app_port_, "/"), 200);
  const pid_t first = CurrentChild();
  ASSERT_NE(first, 0);
  // One handler blocks; it will never answer (its process is replaced).
  const absl::Time hung_at = absl::Now();
  std::thread client([this] { Get(app_port_, "/demo/hang?s=600", 30); });
  const absl::Time serving = WaitForReplacement(first);
  client.join();
  ASSERT_NE(serving, absl::InfiniteFuture()) << service_->Output();
  const std::string log = service_->Output();
  // The watchdog's report: the handler's heartbeat and scope, and the stack
  // of that thread, down to the blocking function.
  EXPECT_THAT(log, HasSubstr("LONG MISS heartbeat \"app-worker-"));
  EXPECT_THAT(log, HasSubstr("GET /demo/hang"));
  EXPECT_THAT(log, HasSubstr("HangForDemo"));
  EXPECT_THAT(log, HasSubstr("(restart 1)"));
  // The new child knows why the last one died.
  ASSERT_TRUE(WaitFor(
      [&] {
        httplib::Client c("127.0.0.1", probe_port_);
        c.set_read_timeout(1, 0);
        auto r = c.Get("/healthz/supervisor?format=json");
        return r && absl::StrContains(r->body, "app-worker-");
      },
      absl::Seconds(10)))
      << service_->Output();
  std::printf(
      "MEASURED hung handler (deadline %s, hung at 4x): replacement child "
      "serving %s after the request\n",
      absl::FormatDuration(kHandlerDeadline).c_str(),
      absl::FormatDuration(serving - hung_at).c_str());
  // Not a speed benchmark: hung at 1 s, then SIGTERM: a 1 s drain.
  EXPECT_LT(serving - hung_at, absl::Seconds(15));
  ExpectOnlyFromMainPid();
}

// "Online while the port accepted nothing" (S4): the listening socket
// closes, the process lives on. The self-probe fails liveness naming the
// port, so WATCHDOG=1 stops and systemd's watchdog would restart the unit.
TEST_F(DeploymentTest, DeadPortFailsLivenessAndStopsTheWatchdogPings) {
  ASSERT_TRUE(WaitFor(
      [&] {
        return systemd_.Count("WATCHDOG=1", ready_.time, absl::Now()) >= 1;
      },
      absl::Seconds(10)));
  ASSERT_EQ(Get(app_port_, "/demo/close-listener"), 200);
  const absl::Time closed = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return Get(probe_port_, "/livez") == 503; },
                      absl::Seconds(10)))
      << service_->Output();
  const absl::Time failed = absl::Now();
  httplib::Client c("127.0.0.1", probe_port_);
  auto live = c.Get("/livez?verbose");
  ASSERT_TRUE(live);
  EXPECT_THAT(live->body, HasSubstr("[-]app-port failed: connection refused"));
  // No ping for two ping intervals once liveness failed (the one in flight
  // at the transition may still arrive).
  const absl::Time quiet_from = failed + absl::Milliseconds(500);
  const absl::Time quiet_until = quiet_from + kWatchdogTimeout;
  WaitFor([&] { return absl::Now() >= quiet_until; }, kWatchdogTimeout * 2);
  EXPECT_EQ(systemd_.Count("WATCHDOG=1", quiet_from, quiet_until), 0);
  EXPECT_EQ(Get(app_port_, "/"), 0);  // refused
  std::printf("MEASURED dead port: /livez 503 %s after the listener closed\n",
              absl::FormatDuration(failed - closed).c_str());
  ExpectOnlyFromMainPid();
}

TEST_F(DeploymentTest, StoppedChildIsRestarted) {
  const pid_t first = CurrentChild();
  ASSERT_NE(first, 0);
  const absl::Time stopped_at = absl::Now();
  ASSERT_EQ(kill(first, SIGSTOP), 0);
  const absl::Time serving = WaitForReplacement(first);
  ASSERT_NE(serving, absl::InfiniteFuture()) << service_->Output();
  EXPECT_THAT(service_->Output(), HasSubstr("(restart 1)"));
  std::printf(
      "MEASURED SIGSTOP of the child (supervisor hang timeout 1s): "
      "replacement child serving %s later\n",
      absl::FormatDuration(serving - stopped_at).c_str());
  EXPECT_LT(serving - stopped_at, absl::Seconds(15));
  ExpectOnlyFromMainPid();
}

TEST_F(DeploymentTest, SigtermSendsStoppingFailsReadinessAndExitsInTime) {
  ASSERT_TRUE(WaitFor([&] { return Get(probe_port_, "/readyz") == 200; },
                      absl::Seconds(10)));
  const absl::Time term = absl::Now();
  service_->Signal(SIGTERM);
  // /readyz fails at once (well within one probe period).
  ASSERT_TRUE(WaitFor([&] { return Get(probe_port_, "/readyz") == 503; },
                      absl::Seconds(1)));
  const absl::Time unready = absl::Now();
  const std::optional<int> exit = service_->WaitForExit(absl::Seconds(30));
  const absl::Time exited = absl::Now();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(*exit, 0) << service_->Output();
  EXPECT_LE(exited - term, kDrainDelay + absl::Seconds(1))
      << service_->Output();
  const std::optional<FakeSystemd::Message> stopping =
      systemd_.Find("STOPPING=1");
  ASSERT_TRUE(stopping.has_value());
  EXPECT_GE(stopping->time, term);
  std::printf(
      "MEASURED SIGTERM: /readyz 503 after %s, STOPPING=1 after %s, exit "
      "after %s (drain delay %s)\n",
      absl::FormatDuration(unready - term).c_str(),
      absl::FormatDuration(stopping->time - term).c_str(),
      absl::FormatDuration(exited - term).c_str(),
      absl::FormatDuration(kDrainDelay).c_str());
  ExpectOnlyFromMainPid();
}

}  // namespace
}  // namespace vigil_example
