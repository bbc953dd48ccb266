// Scenario S8 behind a real nginx 1.22 that never retries
// (`proxy_next_upstream off`), running the shipped examples/deploy/nginx.conf
// rendered with the substitution its header documents (envsubst of four
// variables). Two instances under steady keep-alive load from loopback
// clients:
//
//   - control: no restart; zero failures;
//   - rolling restart: for each instance, the deploy step marks it `down` in
//     the included upstream file and reloads nginx (old workers finish and
//     exit), then SIGTERM -> drain -> exit -> start -> deploy gate -> back in
//     the upstream file, reload -> next. Zero failed requests.
//
// Every run asserts the client's view and nginx's own: its error log has no
// upstream error (connect() failed, upstream prematurely closed, ...) and no
// [error] or worse, and its access log has one line per request, each with
// status 200 and $upstream_status 200 (a single attempt).
//
// nginx is started and stopped by the test: `-p` prefix in a temporary
// directory, daemon off, master process on, pid file there, `user root`.

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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
using vigil::testing::ReadFile;
using vigil::testing::RunfilePath;
using vigil::testing::Subprocess;
using vigil::testing::SubprocessOptions;
using vigil::testing::WaitFor;
using vigil::testing::WriteFile;

constexpr char kNginx[] = "/usr/sbin/nginx";
// Concurrent keep-alive clients (load threads, one connection each).
constexpr int kClients = 16;

// Pids of the live processes whose parent is `parent` (nginx's workers).
std::set<pid_t> ChildrenOf(pid_t parent) {
  std::set<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    pid_t pid;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...; comm may hold spaces: split after ')'.
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::vector<std::string> f =
        absl::StrSplit(line.substr(paren + 2), ' ', absl::SkipEmpty());
    pid_t ppid;
    if (f.size() > 1 && f[0] != "Z" && absl::SimpleAtoi(f[1], &ppid) &&
        ppid == parent) {
      out.insert(pid);
    }
  }
  closedir(proc);
  return out;
}

class S8NginxTest : public S8Fixture {
 protected:
  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(access(kNginx, X_OK) == 0,
                          "nginx not installed (scripts/setup.sh installs "
                          "nginx-light)");
    ASSERT_NO_FATAL_FAILURE(StartInstances("vigil-s8n-", /*gate_each=*/true));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(StartNginx());
    StartLoad(kClients);
  }

  void TearDown() override {
    S8Fixture::TearDown();  // The load first.
    if (nginx_ != nullptr) nginx_->Stop(SIGQUIT, absl::Seconds(10));
  }

  // The shipped template, rendered as its header says (envsubst of these
  // four variables and nothing else).
  void StartNginx() {
    auto conf = ReadFile(RunfilePath("examples/deploy/nginx.conf"));
    ASSERT_TRUE(conf.ok()) << conf.status();
    const std::string& d = dir_->path();
    const std::string rendered = absl::StrReplaceAll(
        *conf, {{"${FRONTEND_ADDR}", absl::StrCat("127.0.0.1:", front_port_)},
                {"${UPSTREAM_CONF}", UpstreamConf()},
                {"${LOG_DIR}", d},
                {"${TEMP_DIR}", d}});
    ASSERT_TRUE(WriteFile(d + "/nginx.conf", rendered).ok());
    WriteUpstreams(-1);
    SubprocessOptions o;
    o.argv = {kNginx,
              "-p",
              d,
              "-c",
              d + "/nginx.conf",
              "-g",
              absl::StrCat("daemon off; master_process on; pid ", d,
                           "/nginx.pid; user root;")};
    o.log_path = d + "/nginx.stderr";
    auto nginx = Subprocess::Start(o);
    ASSERT_TRUE(nginx.ok()) << nginx.status();
    nginx_ = *std::move(nginx);
    ASSERT_TRUE(
        WaitFor([&] { return CanConnect("127.0.0.1", front_port_, 200); },
                absl::Seconds(20)))
        << LogTail(o.log_path) << LogTail(ErrorLog());
  }

  std::string UpstreamConf() const { return dir_->path() + "/upstream.conf"; }
  std::string ErrorLog() const { return dir_->path() + "/error.log"; }
  std::string AccessLog() const { return dir_->path() + "/access.log"; }

  // The deploy step's file: both instances, `down_index` marked down.
  void WriteUpstreams(int down_index) {
    std::string servers;
    for (int i = 0; i < 2; ++i) {
      absl::StrAppend(&servers, "server ", Name(i),
                      " max_fails=1 fail_timeout=5s",
                      i == down_index ? " down" : "", ";\n");
    }
    ASSERT_TRUE(WriteFile(UpstreamConf(), servers).ok());
  }

  // `nginx -s reload`, and waits until every old worker has finished and
  // exited (the new ones run the new upstream file). Returns when done.
  absl::Time Reload() {
    const std::set<pid_t> old_workers = ChildrenOf(nginx_->pid());
    EXPECT_FALSE(old_workers.empty());
    kill(nginx_->pid(), SIGHUP);  // the master only, not its group
    EXPECT_TRUE(WaitFor(
        [&] {
          const std::set<pid_t> now = ChildrenOf(nginx_->pid());
          for (pid_t p : old_workers) {
            if (now.count(p) > 0) return false;
          }
          return !now.empty();
        },
        absl::Seconds(30)))
        << "old nginx workers still running\n"
        << LogTail(ErrorLog());
    return absl::Now();
  }

  // nginx's X-Served-By: $upstream_addr.
  std::string Name(int i) const override {
    return absl::StrCat("127.0.0.1:", app_ports_[i]);
  }
  std::string Diagnostics() const override {
    return load_->FailureSamples() + LogTail(ErrorLog());
  }

  // Stops the load and nginx (gracefully, so the logs are complete), prints
  // the run's figures as MEASURED lines and asserts zero failures in the
  // client's view and in nginx's logs.
  //
  // `reloads` bounds the client's retries (Load): a graceful reload closes
  // the old workers' idle keep-alive client connections without notice, so
  // a request can meet a connection closed under it, once per client
  // connection and reload at most. The access log proves nginx never
  // processed such a first attempt (one line per completed request).
  void StopAndExpectLossless(const std::string& run, int reloads) {
    load_->Stop();
    nginx_->Stop(SIGQUIT, absl::Seconds(10));
    std::printf(
        "MEASURED S8 nginx %s (%s): %lld requests, %lld failed, %lld client "
        "retries after a reload closed an idle keep-alive connection\n",
        run.c_str(), KindName(GetParam()),
        static_cast<long long>(load_->total()),
        static_cast<long long>(load_->failures()),
        static_cast<long long>(load_->retried_on_idle_close()));
    EXPECT_EQ(load_->failures(), 0) << load_->FailureSamples();
    EXPECT_LE(load_->retried_on_idle_close(), kClients * reloads)
        << load_->FailureSamples();

    auto errors = ReadFile(ErrorLog());
    ASSERT_TRUE(errors.ok()) << errors.status();
    int64_t error_lines = 0;
    for (absl::string_view line : absl::StrSplit(*errors, '\n')) {
      for (const char* bad : {"upstream", "connect() failed", "[error]",
                              "[crit]", "[alert]", "[emerg]"}) {
        if (absl::StrContains(line, bad)) {
          ++error_lines;
          ADD_FAILURE() << "nginx error log: " << line;
          break;
        }
      }
    }
    auto access_log = ReadFile(AccessLog());
    ASSERT_TRUE(access_log.ok()) << access_log.status();
    int64_t lines = 0, ok = 0;
    for (absl::string_view line :
         absl::StrSplit(*access_log, '\n', absl::SkipEmpty())) {
      ++lines;
      if (absl::StrContains(line, " 200 upstream=") &&
          absl::StrContains(line, " upstream_status=200 ")) {
        ++ok;
      } else if (lines - ok <= 5) {
        ADD_FAILURE() << "nginx access log: " << line;
      }
    }
    std::printf(
        "MEASURED S8 nginx %s (%s) nginx's view: access log %lld lines, %lld "
        "with status 200 and upstream_status 200, %lld other; error log "
        "%lld upstream/error lines\n",
        run.c_str(), KindName(GetParam()), static_cast<long long>(lines),
        static_cast<long long>(ok), static_cast<long long>(lines - ok),
        static_cast<long long>(error_lines));
    std::fflush(stdout);
    EXPECT_EQ(ok, lines);
    EXPECT_EQ(lines, load_->total());
  }

  std::unique_ptr<Subprocess> nginx_;
};

TEST_P(S8NginxTest, ControlRunWithoutRestartIsClean) {
  // Bounded: until 20,000 requests or 15 s, whichever comes first.
  WaitFor([&] { return load_->total() >= 20000; }, absl::Seconds(15),
          absl::Milliseconds(50));
  EXPECT_GE(load_->total(), 2000);
  StopAndExpectLossless("control", 0);
}

// The deploy flow of examples/deploy/rolling_restart.sh (LB=nginx).
TEST_P(S8NginxTest, RollingRestartLosesNoRequest) {
  const int64_t before = load_->total();
  const absl::Time begin = absl::Now();
  for (int i = 0; i < 2; ++i) {
    WriteUpstreams(i);
    const absl::Time reload = absl::Now();
    const absl::Time out = Reload();
    // Out of the upstream: nothing new reaches it once old workers exited.
    const absl::Time term = absl::Now();
    ASSERT_TRUE(instances_[i]->Terminate()) << instances_[i]->Output();
    const absl::Time exited = absl::Now();
    EXPECT_EQ(load_->CountSince(Name(i), out), 0) << Name(i);
    instances_[i] = StartInstance(i);
    ASSERT_NE(instances_[i], nullptr) << "restart " << Name(i);
    const std::string gate_log =
        absl::StrCat(dir_->path(), "/gate-", i, ".log");
    ASSERT_EQ(RunGate(ReadyzUrl(i), gate_log), 0) << LogTail(gate_log);
    WriteUpstreams(-1);
    const absl::Time back = Reload();
    ASSERT_TRUE(WaitFor([&] { return load_->LastServedBy(Name(i)) > back; },
                        absl::Seconds(30)))
        << Name(i) << " not back in rotation\n"
        << load_->FailureSamples();
    std::printf(
        "MEASURED S8 nginx restart (%s) instance %d: out of the upstream "
        "(reload done) in %s, drained+exited in %s, gated and back in %s\n",
        KindName(GetParam()), i + 1, absl::FormatDuration(out - reload).c_str(),
        absl::FormatDuration(exited - term).c_str(),
        absl::FormatDuration(absl::Now() - exited).c_str());
  }
  const int64_t during = load_->total() - before;
  const absl::Duration restart_time = absl::Now() - begin;
  WaitFor([&] { return load_->total() >= 5000; }, absl::Seconds(60));
  std::printf(
      "MEASURED S8 nginx rolling restart (%s): %lld requests during the %s "
      "of two restarts (four reloads)\n",
      KindName(GetParam()), static_cast<long long>(during),
      absl::FormatDuration(restart_time).c_str());
  EXPECT_GE(load_->total(), 5000);
  StopAndExpectLossless("rolling restart", 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, S8NginxTest,
                         ::testing::Values(Kind::kExample, Kind::kSidecar),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kExample
                                      ? std::string("ExampleService")
                                      : std::string("SidecarPlainProcess");
                         });

}  // namespace
}  // namespace testing
}  // namespace vigil_example
