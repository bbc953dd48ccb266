// Tests of vigil-sidecar: configuration errors with file:line:field, the
// process check under a fake /proc, the deploy gate's exit codes against
// real loopback servers, and the binary's start-up errors, SIGHUP reload
// and SIGTERM drain.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "examples/sidecar/config.h"
#include "examples/sidecar/gate.h"
#include "examples/sidecar/process_check.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil_sidecar {
namespace {

using vigil::checks::testing::PickFreePort;
using vigil::testing::LogTail;
using vigil::testing::RunfilePath;
using vigil::testing::ScopedTempDir;
using vigil::testing::Subprocess;
using vigil::testing::SubprocessOptions;
using vigil::testing::WaitFor;
using vigil::testing::WriteFile;

TEST(ConfigTest, ExampleFileLoads) {
  // The shipped example parses; its disk path may not exist here, but
  // parsing and check construction succeed.
  auto plan = LoadConfigFile(RunfilePath("examples/sidecar/sidecar.textproto"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->port, 8090);
  EXPECT_EQ(plan->drain_delay, absl::Seconds(5));
  EXPECT_EQ(plan->checks.size(), 5u);
}

TEST(ConfigTest, EmptyConfigIsPressureOnly) {
  auto plan = ParseConfig("", "empty");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->checks.empty());
  EXPECT_TRUE(plan->pressure);
  EXPECT_EQ(plan->address, "127.0.0.1");
}

TEST(ConfigTest, BadDurationNamesFileLineAndField) {
  auto plan = ParseConfig(
      "port: 9000\n"
      "http {\n"
      "  url: \"http://127.0.0.1:1/\"\n"
      "  check { interval: \"5 s\" }\n"
      "}\n",
      "my.textproto");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(plan.status().message(),
                               "my.textproto:4: http[0].check.interval: "))
      << plan.status();
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  auto plan = ParseConfig("port: 1\nnosuchfield: 2\n", "f.textproto");
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(absl::StartsWith(plan.status().message(), "f.textproto:2:"))
      << plan.status();
  EXPECT_TRUE(absl::StrContains(plan.status().message(), "nosuchfield"));
}

TEST(ConfigTest, CheckErrorsNameTheEntry) {
  auto plan = ParseConfig("tcp { address: \"x\" }\nprocess { }\n", "f");
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(absl::StartsWith(plan.status().message(), "f:1: tcp[0]: "))
      << plan.status();
  plan = ParseConfig("process { }\n", "f");
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(absl::StartsWith(plan.status().message(), "f:1: process[0]: "))
      << plan.status();
}

class ProcessCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = ScopedTempDir::Create("vigil-proc-");
    ASSERT_TRUE(dir.ok());
    dir_ = *std::move(dir);
  }
  void Stat(int pid, const std::string& line) {
    ASSERT_EQ(
        mkdir((dir_->path() + "/proc").c_str(), 0755) == 0 || errno == EEXIST,
        true);
    const std::string d = absl::StrCat(dir_->path(), "/proc/", pid);
    mkdir(d.c_str(), 0755);
    ASSERT_TRUE(WriteFile(d + "/stat", line).ok());
  }
  vigil::CheckResult Run(ProcessCheckOptions o) {
    o.proc_root = dir_->path();
    auto check = ProcessCheck(o);
    EXPECT_TRUE(check.ok()) << check.status();
    vigil::CheckContext ctx;
    return check->function(ctx);
  }
  std::unique_ptr<ScopedTempDir> dir_;
};

TEST_F(ProcessCheckTest, States) {
  Stat(10, "10 (node) S 1 10 10 0 -1");
  Stat(11, "11 (weird) name) Z 1 11 11 0 -1");
  Stat(12, "12 (app) T 1 12 12 0 -1");
  vigil::CheckResult r = Run({.pid = 10});
  EXPECT_EQ(r.status, vigil::Status::kHealthy) << r.message;
  r = Run({.pid = 11});
  EXPECT_EQ(r.status, vigil::Status::kUnhealthy);
  EXPECT_TRUE(absl::StrContains(r.message, "zombie")) << r.message;
  EXPECT_TRUE(absl::StrContains(r.message, "weird) name")) << r.message;
  r = Run({.pid = 12});
  EXPECT_EQ(r.status, vigil::Status::kUnhealthy);
  EXPECT_TRUE(absl::StrContains(r.message, "stopped")) << r.message;
  r = Run({.pid = 13});
  EXPECT_EQ(r.status, vigil::Status::kUnhealthy);
  EXPECT_TRUE(absl::StrContains(r.message, "not running")) << r.message;
}

TEST_F(ProcessCheckTest, PidfileIsReadAtEveryRun) {
  Stat(10, "10 (node) S 1");
  const std::string pidfile = dir_->path() + "/app.pid";
  ProcessCheckOptions o;
  o.pidfile = pidfile;
  o.proc_root = dir_->path();
  auto check = ProcessCheck(o);
  ASSERT_TRUE(check.ok());
  vigil::CheckContext ctx;
  EXPECT_EQ(check->function(ctx).status, vigil::Status::kUnhealthy);
  ASSERT_TRUE(WriteFile(pidfile, "10\n").ok());
  EXPECT_EQ(check->function(ctx).status, vigil::Status::kHealthy);
  ASSERT_TRUE(WriteFile(pidfile, "garbage").ok());
  EXPECT_EQ(check->function(ctx).status, vigil::Status::kUnhealthy);
}

TEST(ProcessCheckValidationTest, NeedsExactlyOneOfPidAndPidfile) {
  EXPECT_FALSE(ProcessCheck({}).ok());
  EXPECT_FALSE(ProcessCheck({.pid = 1, .pidfile = "/x"}).ok());
  EXPECT_FALSE(ProcessCheck({.pid = 1, .proc_root = "rel"}).ok());
  EXPECT_TRUE(ProcessCheck({.pid = 1}).ok());
}

// A loopback server answering /readyz with a status the test sets.
class ReadyServer {
 public:
  ReadyServer() {
    server_.Get("/readyz",
                [this](const httplib::Request&, httplib::Response& res) {
                  res.status = status_.load();
                  res.set_content("{\"status\":\"x\"}", "application/json");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitFor([this] { return server_.is_running(); }, absl::Seconds(10));
  }
  ~ReadyServer() {
    server_.stop();
    thread_.join();
  }
  void set_status(int s) { status_.store(s); }
  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/readyz");
  }

 private:
  httplib::Server server_;
  std::atomic<int> status_{200};
  int port_ = 0;
  std::thread thread_;
};

GateOptions Quick(const std::string& url) {
  GateOptions o;
  o.url = url;
  o.timeout = absl::Seconds(1);
  o.interval = absl::Milliseconds(50);
  o.successes = 3;
  o.request_timeout = absl::Milliseconds(300);
  return o;
}

TEST(GateTest, ReadyAfterConsecutiveSuccesses) {
  ReadyServer server;
  GateResult r = RunGate(Quick(server.url()), nullptr);
  EXPECT_EQ(r.exit, GateExit::kReady);
  EXPECT_EQ(r.attempts, 3);
  const std::string json = GateResultJson(Quick(server.url()), r);
  EXPECT_TRUE(absl::StrContains(json, "\"result\":\"ready\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"report\":{\"status\":\"x\"}")) << json;
}

TEST(GateTest, NotReadyAtDeadline) {
  ReadyServer server;
  server.set_status(503);
  GateResult r = RunGate(Quick(server.url()), nullptr);
  EXPECT_EQ(r.exit, GateExit::kNotReady);
  EXPECT_EQ(r.last_http_status, 503);
  EXPECT_EQ(static_cast<int>(r.exit), 3);
}

TEST(GateTest, Unreachable) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  GateResult r = RunGate(
      Quick(absl::StrCat("http://127.0.0.1:", *port, "/readyz")), nullptr);
  EXPECT_EQ(r.exit, GateExit::kUnreachable);
  EXPECT_EQ(static_cast<int>(r.exit), 4);
}

TEST(GateTest, HungTargetTimesOut) {
  auto silent = vigil::checks::testing::SilentListener::Start();
  ASSERT_TRUE(silent.ok());
  GateResult r = RunGate(
      Quick(absl::StrCat("http://127.0.0.1:", (*silent)->port(), "/readyz")),
      nullptr);
  EXPECT_EQ(r.exit, GateExit::kTimedOut);
  EXPECT_EQ(static_cast<int>(r.exit), 5);
}

TEST(GateTest, BadUrlIsUsage) {
  EXPECT_EQ(RunGate(Quick("ftp://x/"), nullptr).exit, GateExit::kUsage);
  EXPECT_FALSE(ParseUrl("http://:80/").ok());
  auto u = ParseUrl("http://[::1]:8080/readyz?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/readyz?x=1");
}

// The binary: bad config, reload, drain.
class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = ScopedTempDir::Create("vigil-sidecar-");
    ASSERT_TRUE(dir.ok());
    dir_ = *std::move(dir);
    config_ = dir_->path() + "/sidecar.textproto";
    log_ = dir_->path() + "/sidecar.log";
  }
  std::unique_ptr<Subprocess> Start(std::vector<std::string> args) {
    SubprocessOptions o;
    o.argv = {RunfilePath("examples/sidecar/vigil-sidecar")};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.log_path = log_;
    auto p = Subprocess::Start(o);
    EXPECT_TRUE(p.ok());
    return p.ok() ? *std::move(p) : nullptr;
  }
  int Readyz(int port) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(1, 0);
    auto r = c.Get("/readyz");
    return r ? r->status : 0;
  }
  std::unique_ptr<ScopedTempDir> dir_;
  std::string config_;
  std::string log_;
};

TEST_F(BinaryTest, HelpListsTheSidecarsOwnFlags) {
  auto p = Start({"--help"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->WaitForExit(absl::Seconds(30)).has_value());
  const std::string help = LogTail(log_);
  EXPECT_TRUE(absl::StrContains(help, "--drain_delay")) << help;
  EXPECT_TRUE(absl::StrContains(help, "--target")) << help;
  EXPECT_FALSE(absl::StrContains(help, "No flags matched")) << help;
}

TEST_F(BinaryTest, BadConfigFailsWithFileLineField) {
  ASSERT_TRUE(WriteFile(config_,
                        "port: 1\ntcp {\n  address: \"127.0.0.1:1\"\n"
                        "  check { timeout: \"soon\" }\n}\n")
                  .ok());
  auto p = Start({"--config=" + config_});
  ASSERT_NE(p, nullptr);
  std::optional<int> s = p->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(WIFEXITED(*s));
  EXPECT_EQ(WEXITSTATUS(*s), 2);
  EXPECT_TRUE(absl::StrContains(LogTail(log_),
                                config_ + ":4: tcp[0].check.timeout: bad "
                                          "duration \"soon\""))
      << LogTail(log_);
}

TEST_F(BinaryTest, ReloadKeepsOldConfigOnErrorAndDrainOnSigterm) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  auto up = vigil::checks::testing::SilentListener::Start();
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE(WriteFile(config_, absl::StrCat("tcp { name: \"one\" address: "
                                              "\"127.0.0.1:",
                                              (*up)->port(), "\" }\n"))
                  .ok());
  auto p = Start({"--config=" + config_, absl::StrCat("--port=", *port),
                  "--no_pressure", "--drain_delay=1s"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Readyz(*port) == 200; }, absl::Seconds(30)))
      << LogTail(log_);
  // The banner is printed after the probe server starts answering, so
  // /readyz can be 200 a moment before the line reaches the log.
  EXPECT_TRUE(
      WaitFor([&] { return absl::StrContains(LogTail(log_), "checks=one"); },
              absl::Seconds(30)))
      << LogTail(log_);
  {
    // The sidecar serves the status page too.
    httplib::Client c("127.0.0.1", *port);
    auto page = c.Get("/statusz");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_TRUE(absl::StrContains(page->body, "data-check=\"one\""));
  }

  ASSERT_TRUE(WriteFile(config_, "tcp { name: \"two\" address: 5 }\n").ok());
  p->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(LogTail(log_),
                                 "reload failed, keeping the previous");
      },
      absl::Seconds(30)))
      << LogTail(log_);
  EXPECT_EQ(Readyz(*port), 200);

  ASSERT_TRUE(WriteFile(config_, absl::StrCat("tcp { name: \"two\" address: "
                                              "\"127.0.0.1:",
                                              (*up)->port(), "\" }\n"))
                  .ok());
  p->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(LogTail(log_), "reloaded: checks=two"); },
      absl::Seconds(30)))
      << LogTail(log_);

  p->Signal(SIGTERM);
  ASSERT_TRUE(WaitFor([&] { return Readyz(*port) == 503; }, absl::Seconds(5)))
      << LogTail(log_);
  std::optional<int> s = p->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(WIFEXITED(*s) && WEXITSTATUS(*s) == 0) << LogTail(log_);
}

// A check that never returns -- a process check whose pidfile is a FIFO no
// one writes, so opening it blocks as on a hung NFS mount -- holds up
// neither a SIGHUP reload (it replaces the stuck check while its run is
// still blocked) nor the exit after SIGTERM (drain delay + the registry's
// shutdown bound, 1 s by default). Real binary, real signals, measured.
TEST_F(BinaryTest, ReloadAndExitStayBoundedWithACheckThatNeverReturns) {
  constexpr absl::Duration kBound = absl::Seconds(1);  // shutdown_timeout
  constexpr absl::Duration kDrain = absl::Seconds(1);
  // Scheduling on a loaded machine: a sanity margin, not a speed target.
  constexpr absl::Duration kSlack = absl::Seconds(4);
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  auto up = vigil::checks::testing::SilentListener::Start();
  ASSERT_TRUE(up.ok());
  const std::string fifo = dir_->path() + "/target.pid";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  auto config = [&](const char* tcp_name) {
    return absl::StrCat("process {\n  name: \"stuck\"\n  pidfile: \"", fifo,
                        "\"\n  check { interval: \"1s\" timeout: \"500ms\" "
                        "failure_threshold: 1 critical: false }\n}\n"
                        "tcp { name: \"",
                        tcp_name, "\" address: \"127.0.0.1:", (*up)->port(),
                        "\" }\n");
  };
  ASSERT_TRUE(WriteFile(config_, config("one")).ok());
  auto p = Start({"--config=" + config_, absl::StrCat("--port=", *port),
                  "--no_pressure", "--drain_delay=1s"});
  ASSERT_NE(p, nullptr);
  auto verbose = [&] {
    httplib::Client c("127.0.0.1", *port);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(1, 0);
    auto r = c.Get("/readyz?verbose");
    return r ? r->body : std::string();
  };
  // Stuck: past its deadline and still running (the open() never returns).
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(verbose(),
                                 "timed out after 500ms (running for");
      },
      absl::Seconds(30)))
      << verbose() << LogTail(log_);
  EXPECT_EQ(Readyz(*port), 200) << verbose();  // Non-critical: degraded.

  ASSERT_TRUE(WriteFile(config_, config("two")).ok());
  const absl::Time hup = absl::Now();
  p->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(LogTail(log_), "reloaded: checks="); },
      absl::Seconds(30)))
      << LogTail(log_);
  const absl::Duration reload = absl::Now() - hup;
  EXPECT_TRUE(absl::StrContains(LogTail(log_), "two")) << LogTail(log_);
  EXPECT_LT(reload, kBound + kSlack);
  // The reloaded checks start "not evaluated yet"; then "two" passes while
  // the new "stuck" blocks like the old one (non-critical: degraded).
  EXPECT_TRUE(WaitFor([&] { return Readyz(*port) == 200; }, absl::Seconds(30)))
      << verbose();

  const absl::Time term = absl::Now();
  p->Signal(SIGTERM);
  std::optional<int> s = p->WaitForExit(kDrain + kBound + absl::Seconds(30));
  const absl::Duration exit = absl::Now() - term;
  ASSERT_TRUE(s.has_value())
      << "still running after " << absl::FormatDuration(exit) << LogTail(log_);
  EXPECT_TRUE(WIFEXITED(*s) && WEXITSTATUS(*s) == 0) << LogTail(log_);
  std::printf(
      "with a never-returning check: SIGHUP -> reloaded in %s (bound %s); "
      "SIGTERM -> exit in %s (drain %s + bound %s)\n",
      absl::FormatDuration(reload).c_str(),
      absl::FormatDuration(kBound).c_str(), absl::FormatDuration(exit).c_str(),
      absl::FormatDuration(kDrain).c_str(),
      absl::FormatDuration(kBound).c_str());
  EXPECT_GE(exit, kDrain);
  EXPECT_LT(exit, kDrain + kBound + kSlack);
}

TEST_F(BinaryTest, WaitJsonAndExitCode) {
  ReadyServer server;
  server.set_status(503);
  auto p = Start({"wait", "--url=" + server.url(), "--timeout=500ms",
                  "--interval=50ms", "--json"});
  ASSERT_NE(p, nullptr);
  std::optional<int> s = p->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(WEXITSTATUS(*s), 3);
  EXPECT_TRUE(absl::StrContains(LogTail(log_), "\"result\":\"not_ready\""))
      << LogTail(log_);
}

}  // namespace
}  // namespace vigil_sidecar
