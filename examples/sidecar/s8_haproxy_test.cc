// Scenario S8 behind a real HAProxy, strict: the shipped
// examples/deploy/haproxy.cfg runs verbatim (addresses come from the
// environment) with NO_RETRIES=1, i.e. `retries 0`, no `option redispatch`,
// no `retry-on`: every request HAProxy sends to a closing instance is a
// client-visible failure. Two instances behind active /readyz checks under
// steady keep-alive load from loopback clients:
//
//   - control: no restart; zero failures;
//   - take-out: one instance made not ready (its critical upstream closes)
//     gets no traffic within about fall x inter of its first 503;
//   - rolling restart: both restarted one after the other (SIGTERM -> drain
//     -> exit -> start -> deploy gate -> next) with zero failed requests.
//
// Every run asserts the client's view and HAProxy's own counters from its
// stats socket (`show stat`): retries, redispatches, connection and response
// errors, 5xx, denied responses and aborts, per backend and per server.
//
// Two kinds of instance: the example service (links vigil), and a plain
// `python3 -m http.server` that does not, with vigil-sidecar in front of it
// serving /readyz for HAProxy.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/sidecar/testing/s8_harness.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/testing/require.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"

namespace vigil_example {
namespace testing {
namespace {

using vigil::checks::testing::CanConnect;
using vigil::testing::LogTail;
using vigil::testing::RunfilePath;
using vigil::testing::Subprocess;
using vigil::testing::SubprocessOptions;
using vigil::testing::WaitFor;

constexpr absl::Duration kInter = absl::Milliseconds(200);  // haproxy.cfg
constexpr int kFall = 2;                                    // haproxy.cfg
// Concurrent keep-alive clients: more than cpp-httplib's backlog of 5, so
// a burst of new server connections (one per request) is a real burst.
constexpr int kClients = 16;

// Counters that must stay 0 in a lossless run (HAProxy 2.6 `show stat`).
constexpr const char* kMustBeZero[] = {"wretr",    "wredis",   "econ",
                                       "eresp",    "hrsp_5xx", "dresp",
                                       "cli_abrt", "srv_abrt"};

// One row of `show stat`: column name -> value ("" when not applicable).
using StatRow = std::map<std::string, std::string>;

// Sends `command` to HAProxy's stats socket and returns the whole answer.
std::string StatsCommand(const std::string& socket_path,
                         const std::string& command) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, socket_path.c_str(), sizeof(a.sun_path) - 1);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string line = command + "\n";
    if (write(fd, line.data(), line.size()) ==
        static_cast<ssize_t>(line.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
    }
  }
  close(fd);
  return out;
}

// `show stat` as rows keyed by "pxname/svname".
std::map<std::string, StatRow> ShowStat(const std::string& socket_path) {
  const std::string csv = StatsCommand(socket_path, "show stat");
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  std::map<std::string, StatRow> rows;
  if (lines.empty() || !absl::StartsWith(lines[0], "# ")) return rows;
  const std::vector<std::string> names =
      absl::StrSplit(lines[0].substr(2), ',');
  for (size_t l = 1; l < lines.size(); ++l) {
    const std::vector<std::string> values = absl::StrSplit(lines[l], ',');
    StatRow row;
    for (size_t c = 0; c < names.size() && c < values.size(); ++c) {
      row[names[c]] = values[c];
    }
    rows[absl::StrCat(row["pxname"], "/", row["svname"])] = row;
  }
  return rows;
}

int64_t Counter(const StatRow& row, const std::string& name) {
  auto it = row.find(name);
  int64_t v = 0;
  if (it == row.end() || !absl::SimpleAtoi(it->second, &v)) return 0;
  return v;
}

class S8Test : public S8Fixture {
 protected:
  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(access("/usr/sbin/haproxy", X_OK) == 0,
                          "haproxy not installed (scripts/setup.sh installs "
                          "it)");
    ASSERT_NO_FATAL_FAILURE(StartInstances("vigil-s8-", /*gate_each=*/false));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(StartHaproxy());
    // Both instances ready and in rotation before the load starts.
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(RunGate(ReadyzUrl(i), GateLog()), 0) << LogTail(GateLog());
    }
    StartLoad(kClients);
  }

  void TearDown() override {
    S8Fixture::TearDown();  // The load first.
    if (haproxy_ != nullptr) haproxy_->Stop(SIGTERM, absl::Seconds(10));
  }

  // The shipped file, strict (NO_RETRIES=1), addresses from the environment.
  void StartHaproxy() {
    stats_socket_ = dir_->path() + "/haproxy.sock";
    setenv("FRONTEND_ADDR", absl::StrCat("127.0.0.1:", front_port_).c_str(), 1);
    setenv("STATS_SOCKET", stats_socket_.c_str(), 1);
    setenv("NO_RETRIES", "1", 1);
    for (int i = 0; i < 2; ++i) {
      setenv(absl::StrCat("APP", i + 1, "_ADDR").c_str(),
             absl::StrCat("127.0.0.1:", app_ports_[i]).c_str(), 1);
      setenv(absl::StrCat("APP", i + 1, "_PROBE").c_str(),
             absl::StrCat(probe_ports_[i]).c_str(), 1);
    }
    SubprocessOptions o;
    o.argv = {"/usr/sbin/haproxy", "-db", "-f",
              RunfilePath("examples/deploy/haproxy.cfg")};
    haproxy_log_ = dir_->path() + "/haproxy.log";
    o.log_path = haproxy_log_;
    auto haproxy = Subprocess::Start(o);
    ASSERT_TRUE(haproxy.ok()) << haproxy.status();
    haproxy_ = *std::move(haproxy);
    ASSERT_TRUE(
        WaitFor([&] { return CanConnect("127.0.0.1", front_port_, 200); },
                absl::Seconds(20)))
        << LogTail(haproxy_log_);
    // The strict branch of the file is the one that ran.
    ASSERT_TRUE(
        absl::StrContains(LogTail(haproxy_log_), "NO_RETRIES=1: retries 0"))
        << LogTail(haproxy_log_);
  }

  std::string Name(int i) const override { return absl::StrCat("app", i + 1); }
  std::string Diagnostics() const override { return Failures(); }
  std::string Failures() const {
    return load_->FailureSamples() + "haproxy log:\n" + LogTail(haproxy_log_);
  }

  // Stops the load, prints the run's figures and HAProxy's counters as
  // MEASURED lines, and asserts zero failures on both sides.
  void StopLoadAndExpectLossless(const std::string& run) {
    load_->Stop();
    std::printf(
        "MEASURED S8 haproxy strict %s (%s): %lld requests, %lld failed, "
        "%lld client retries\n",
        run.c_str(), KindName(GetParam()),
        static_cast<long long>(load_->total()),
        static_cast<long long>(load_->failures()),
        static_cast<long long>(load_->retried_on_idle_close()));
    EXPECT_EQ(load_->failures(), 0) << Failures();
    // HAProxy never closes a client's connection without saying so first.
    EXPECT_EQ(load_->retried_on_idle_close(), 0) << Failures();
    const std::map<std::string, StatRow> stats = ShowStat(stats_socket_);
    ASSERT_FALSE(stats.empty()) << "no answer from " << stats_socket_;
    for (const char* key :
         {"app/BACKEND", "app/app1", "app/app2", "web/FRONTEND"}) {
      auto it = stats.find(key);
      ASSERT_NE(it, stats.end()) << key;
      const StatRow& row = it->second;
      std::vector<std::string> shown;
      for (const char* c : kMustBeZero) {
        shown.push_back(absl::StrCat(c, "=", row.at(c)));
      }
      std::printf(
          "MEASURED S8 haproxy strict %s (%s) %s: stot=%s %s "
          "chkfail=%s chkdown=%s\n",
          run.c_str(), KindName(GetParam()), key, row.at("stot").c_str(),
          absl::StrJoin(shown, " ").c_str(), row.at("chkfail").c_str(),
          row.at("chkdown").c_str());
      for (const char* c : kMustBeZero) {
        EXPECT_EQ(Counter(row, c), 0) << key << " " << c;
      }
    }
    std::fflush(stdout);
  }

  std::string stats_socket_;
  std::string haproxy_log_;
  std::unique_ptr<Subprocess> haproxy_;
};

// No restart: the same load is clean on its own (with cpp-httplib's backlog
// of 5 it was not: SYNs dropped, connect timeouts).
TEST_P(S8Test, ControlRunWithoutRestartIsClean) {
  // Bounded: until 20,000 requests or 15 s, whichever comes first.
  WaitFor([&] { return load_->total() >= 20000; }, absl::Seconds(15),
          absl::Milliseconds(50));
  EXPECT_GE(load_->total(), 2000);
  StopLoadAndExpectLossless("control");
}

// A critical dependency of app1 goes away: its /readyz fails and HAProxy
// stops sending it traffic within about fall x inter of the first 503,
// while every request keeps succeeding on app2.
TEST_P(S8Test, NotReadyInstanceIsTakenOutWithoutFailures) {
  upstreams_[0]->Close();
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus(probe_ports_[0]) == 503; },
                      absl::Seconds(30)))
      << instances_[0]->Output();
  const absl::Time first_503 = absl::Now();
  // Taken out: no request reaches app1 for a full second.
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::Now() - load_->LastServedBy("app1") > absl::Seconds(1);
      },
      absl::Seconds(20)));
  const absl::Time last_app1 = load_->LastServedBy("app1");
  const absl::Duration take_out =
      std::max(absl::ZeroDuration(), last_app1 - first_503);
  const int64_t app2_after = load_->CountSince("app2", first_503);
  std::printf(
      "MEASURED S8 take-out (%s): last request to app1 %s after its first "
      "/readyz 503 (fall x inter = %s; checks run every inter); app2 served "
      "%lld requests meanwhile\n",
      KindName(GetParam()), absl::FormatDuration(take_out).c_str(),
      absl::FormatDuration(kFall * kInter).c_str(),
      static_cast<long long>(app2_after));
  // Not a speed benchmark: a generous bound that still fails if HAProxy
  // kept the instance (checks every 200 ms, fall 2).
  EXPECT_LT(take_out, absl::Seconds(3));
  EXPECT_GT(app2_after, 0);
  // Back in rotation once the dependency returns.
  upstreams_[0]->Open();
  const absl::Time reopened = absl::Now();
  EXPECT_TRUE(WaitFor([&] { return load_->LastServedBy("app1") > reopened; },
                      absl::Seconds(30)));
  StopLoadAndExpectLossless("take-out");
}

// Rolling restart: each instance in turn is drained (SIGTERM), exits,
// restarts on the same ports, and passes the deploy gate and HAProxy's rise
// checks before the next one goes. Zero failed requests throughout.
TEST_P(S8Test, RollingRestartLosesNoRequest) {
  const int64_t before = load_->total();
  const absl::Time begin = absl::Now();
  for (int i = 0; i < 2; ++i) {
    const absl::Time term = absl::Now();
    ASSERT_TRUE(instances_[i]->Terminate()) << instances_[i]->Output();
    const absl::Time exited = absl::Now();
    const absl::Time last = load_->LastServedBy(Name(i));
    // Drained before exit: nothing reached it in its last moments.
    EXPECT_LT(last, exited) << Name(i);
    EXPECT_GE(exited - term, kDrainDelay);
    std::printf(
        "MEASURED S8 take-out after drain start (%s) %s: last request %s "
        "after SIGTERM; exited %s after it\n",
        KindName(GetParam()), Name(i).c_str(),
        absl::FormatDuration(std::max(absl::ZeroDuration(), last - term))
            .c_str(),
        absl::FormatDuration(exited - term).c_str());
    instances_[i] = StartInstance(i);
    ASSERT_NE(instances_[i], nullptr) << "restart " << Name(i);
    const std::string gate_log =
        absl::StrCat(dir_->path(), "/gate-", i, ".log");
    ASSERT_EQ(RunGate(ReadyzUrl(i), gate_log), 0) << LogTail(gate_log);
    const absl::Time gated = absl::Now();
    // HAProxy's own view (rise 2) before the next instance goes down.
    ASSERT_TRUE(WaitFor([&] { return load_->LastServedBy(Name(i)) > gated; },
                        absl::Seconds(30)))
        << Name(i) << " not back in rotation\n"
        << Failures();
    std::printf(
        "MEASURED S8 restart (%s) %s: drained+exited in %s, ready and back "
        "in rotation %s later\n",
        KindName(GetParam()), Name(i).c_str(),
        absl::FormatDuration(exited - term).c_str(),
        absl::FormatDuration(absl::Now() - exited).c_str());
  }
  const int64_t during = load_->total() - before;
  const absl::Duration restart_time = absl::Now() - begin;
  // Keep the load going until several thousand requests in all (bounded).
  WaitFor([&] { return load_->total() >= 5000; }, absl::Seconds(60));
  std::printf(
      "MEASURED S8 rolling restart (%s): %lld requests during the %s "
      "of two restarts\n",
      KindName(GetParam()), static_cast<long long>(during),
      absl::FormatDuration(restart_time).c_str());
  EXPECT_GE(load_->total(), 5000);
  StopLoadAndExpectLossless("rolling restart");
}

INSTANTIATE_TEST_SUITE_P(Backends, S8Test,
                         ::testing::Values(Kind::kExample, Kind::kSidecar),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kExample
                                      ? std::string("ExampleService")
                                      : std::string("SidecarPlainProcess");
                         });

}  // namespace
}  // namespace testing
}  // namespace vigil_example
