// Scenario S8 behind a real HAProxy: two instances behind active /readyz
// health checks under steady loopback load; one is made not ready (its
// critical upstream closes) and must be taken out of rotation; then both are
// restarted one after the other (SIGTERM -> drain -> exit -> start -> deploy
// gate -> next) with zero failed requests. Runs the shipped
// examples/deploy/haproxy.cfg verbatim (addresses come from the environment).
//
// Two kinds of instance: the example service (links vigil), and a plain
// `python3 -m http.server` that does not, with vigil-sidecar in front of it
// serving /readyz for HAProxy.

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/service/testing/service_process.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/subprocess.h"
#include "health/checks/testing/temp_dir.h"
#include "health/checks/testing/wait.h"
#include "health/sync.h"
#include "health/testing/require.h"
#include "httplib.h"

namespace {

using vigil::checks::testing::PickFreePort;
using vigil::checks::testing::ScopedTempDir;
using vigil::checks::testing::Subprocess;
using vigil::checks::testing::SubprocessOptions;
using vigil::checks::testing::WaitFor;
using vigil_example::testing::ServiceProcess;

constexpr absl::Duration kDrainDelay = absl::Seconds(2);
constexpr absl::Duration kInter = absl::Milliseconds(200);  // haproxy.cfg
constexpr int kFall = 2;                                    // haproxy.cfg

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/",
                      workspace != nullptr ? workspace : "vigil", "/", path);
}

// A TCP listener owned by the test standing for an instance's critical
// dependency: Close() makes the instance's readiness fail, Open() restores
// it on the same port. A thread accepts and closes connections.
class Upstream {
 public:
  Upstream() { Open(); }
  ~Upstream() { Close(); }

  void Open() {
    Close();
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(fd_, 64) != 0) {
      ADD_FAILURE() << "upstream listen on port " << port_;
      return;
    }
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    stop_.store(false);
    const int fd = fd_;
    thread_ = std::thread([this, fd] {
      while (!stop_.load()) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
          const int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) close(c);
        }
      }
    });
  }

  void Close() {
    if (fd_ < 0) return;
    stop_.store(true);
    thread_.join();
    close(fd_);
    fd_ = -1;
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One backend instance as HAProxy sees it: an application port and a probe
// port whose /readyz HAProxy checks.
class Instance {
 public:
  virtual ~Instance() = default;
  virtual int app_port() const = 0;
  virtual int probe_port() const = 0;
  // SIGTERM (drain), then waits for a clean exit. Returns false if it did
  // not exit with 0 in time.
  virtual bool Terminate() = 0;
  virtual std::string Output() const = 0;
};

// The example service, which links vigil.
class ExampleInstance : public Instance {
 public:
  static std::unique_ptr<Instance> Start(const std::string& upstream,
                                         int probe_port, int app_port) {
    // A port freed a moment ago can still be taken by the previous process's
    // last connections: retry a few times.
    for (int attempt = 0; attempt < 10; ++attempt) {
      auto p = ServiceProcess::Start({
          absl::StrCat("--port=", probe_port),
          absl::StrCat("--app_port=", app_port),
          absl::StrCat("--upstream=", upstream),
          "--warmup=0s",
          absl::StrCat("--drain_delay=", absl::FormatDuration(kDrainDelay)),
      });
      if (p.ok()) {
        auto i = std::make_unique<ExampleInstance>();
        i->process_ = *std::move(p);
        return i;
      }
      std::fprintf(stderr, "start attempt %d: %s\n", attempt,
                   std::string(p.status().message()).c_str());
    }
    return nullptr;
  }
  int app_port() const override { return process_->app_port(); }
  int probe_port() const override { return process_->probe_port(); }
  bool Terminate() override {
    process_->Signal(SIGTERM);
    return process_->WaitForExit(absl::Seconds(30)) == std::optional<int>(0);
  }
  std::string Output() const override { return process_->Output(); }

 private:
  std::unique_ptr<ServiceProcess> process_;
};

// A plain HTTP server that knows nothing of vigil (python3 -m http.server),
// with vigil-sidecar in front: the sidecar probes the server and the
// upstream and serves /readyz for HAProxy.
class SidecarInstance : public Instance {
 public:
  static std::unique_ptr<Instance> Start(const std::string& upstream,
                                         int probe_port, int app_port,
                                         const std::string& dir) {
    auto i = std::make_unique<SidecarInstance>();
    i->probe_port_ = probe_port;
    i->app_port_ = app_port;
    i->log_ = absl::StrCat(dir, "/instance-", probe_port, ".log");
    SubprocessOptions app;
    app.argv = {"/usr/bin/python3", "-m",        "http.server",
                "--bind",           "127.0.0.1", absl::StrCat(app_port)};
    app.cwd = dir;
    app.log_path = i->log_;
    for (int attempt = 0; attempt < 10 && i->app_ == nullptr; ++attempt) {
      auto p = Subprocess::Start(app);
      if (!p.ok()) return nullptr;
      if (WaitFor(
              [&] {
                return vigil::checks::testing::CanConnect("127.0.0.1", app_port,
                                                          200) ||
                       !(*p)->Running();
              },
              absl::Seconds(20)) &&
          (*p)->Running()) {
        i->app_ = *std::move(p);
      }
    }
    if (i->app_ == nullptr) return nullptr;
    SubprocessOptions sidecar;
    sidecar.argv = {
        Runfile("examples/sidecar/vigil-sidecar"),
        "--address=127.0.0.1",
        absl::StrCat("--port=", probe_port),
        absl::StrCat("--target=http://127.0.0.1:", app_port, "/"),
        absl::StrCat("--tcp=", upstream),
        absl::StrCat("--pid=", i->app_->pid()),
        "--no_pressure",
        "--check_interval=200ms",
        absl::StrCat("--drain_delay=", absl::FormatDuration(kDrainDelay)),
    };
    sidecar.log_path = i->log_;
    for (int attempt = 0; attempt < 10 && i->sidecar_ == nullptr; ++attempt) {
      auto p = Subprocess::Start(sidecar);
      if (!p.ok()) return nullptr;
      if (WaitFor(
              [&] {
                return vigil::checks::testing::CanConnect("127.0.0.1",
                                                          probe_port, 200) ||
                       !(*p)->Running();
              },
              absl::Seconds(20)) &&
          (*p)->Running()) {
        i->sidecar_ = *std::move(p);
      }
    }
    if (i->sidecar_ == nullptr) return nullptr;
    return i;
  }
  int app_port() const override { return app_port_; }
  int probe_port() const override { return probe_port_; }
  bool Terminate() override {
    // The sidecar drains (readiness 503 while the app keeps serving), exits;
    // only then is the application stopped.
    sidecar_->Signal(SIGTERM);
    const std::optional<int> s = sidecar_->WaitForExit(absl::Seconds(30));
    const bool clean = s.has_value() && WIFEXITED(*s) && WEXITSTATUS(*s) == 0;
    app_->Stop(SIGTERM, absl::Seconds(10));
    return clean;
  }
  std::string Output() const override {
    return vigil::checks::testing::LogTail(log_);
  }

 private:
  int probe_port_ = 0;
  int app_port_ = 0;
  std::string log_;
  std::unique_ptr<Subprocess> app_;
  std::unique_ptr<Subprocess> sidecar_;
};

// Steady keep-alive load through HAProxy from a few client threads, every
// response recorded with its start time and the server that answered.
class Load {
 public:
  struct Record {
    absl::Time start;
    std::string served_by;  // "" for a failure
  };

  Load(int port, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, port] { Run(port); });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  int64_t total() const { return total_.load(); }
  int64_t failures() const { return failures_.load(); }
  std::vector<std::string> failure_samples() const {
    vigil::MutexLock lock(&mu_);
    return failure_samples_;
  }
  // The latest start time of a request `server` answered, or InfinitePast.
  absl::Time LastServedBy(const std::string& server) const {
    vigil::MutexLock lock(&mu_);
    auto it = last_.find(server);
    return it == last_.end() ? absl::InfinitePast() : it->second;
  }
  // Requests `server` answered that started at or after `since`.
  int64_t CountSince(const std::string& server, absl::Time since) const {
    vigil::MutexLock lock(&mu_);
    int64_t n = 0;
    for (const Record& r : records_) {
      if (r.served_by == server && r.start >= since) ++n;
    }
    return n;
  }

 private:
  // Bounded: at most 2 million requests per thread, or until Stop().
  void Run(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_keep_alive(true);
    client.set_read_timeout(10, 0);
    client.set_connection_timeout(5, 0);
    for (int i = 0; i < 2000000 && !stop_.load(); ++i) {
      const absl::Time start = absl::Now();
      httplib::Result res = client.Get("/");
      total_.fetch_add(1);
      std::string served_by;
      std::string failure;
      if (!res) {
        failure = absl::StrCat("transport: ", httplib::to_string(res.error()));
      } else if (res->status != 200) {
        failure = absl::StrCat("HTTP ", res->status, ": ", res->body);
      } else {
        served_by = res->get_header_value("X-Served-By");
      }
      vigil::MutexLock lock(&mu_);
      if (!failure.empty()) {
        failures_.fetch_add(1);
        if (failure_samples_.size() < 10) {
          failure_samples_.push_back(
              absl::StrCat(absl::FormatTime(start), " ", failure));
        }
      } else {
        last_[served_by] = std::max(last_[served_by], start);
      }
      records_.push_back({start, served_by});
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> total_{0};
  std::atomic<int64_t> failures_{0};
  mutable vigil::Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failure_samples_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// Exit code of `vigil-sidecar wait --url URL` (the deploy gate), or -1.
int RunGate(const std::string& url, const std::string& log) {
  SubprocessOptions o;
  o.argv = {Runfile("examples/sidecar/vigil-sidecar"),
            "wait",
            absl::StrCat("--url=", url),
            "--timeout=30s",
            "--interval=200ms",
            "--successes=3"};
  o.log_path = log;
  auto p = Subprocess::Start(o);
  if (!p.ok()) return -1;
  std::optional<int> s = (*p)->WaitForExit(absl::Seconds(40));
  if (!s.has_value() || !WIFEXITED(*s)) return -1;
  return WEXITSTATUS(*s);
}

enum class Kind { kExample, kSidecar };

class S8Test : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(
        access("/usr/sbin/haproxy", X_OK) == 0,
        "haproxy not installed (scripts/setup.sh installs it)");
    VIGIL_REQUIRE_OR_SKIP(
        GetParam() != Kind::kSidecar || access("/usr/bin/python3", X_OK) == 0,
        "python3 not installed");
    auto dir = ScopedTempDir::Create("vigil-s8-", "/tmp");  // short socket path
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    for (int i = 0; i < 2; ++i) {
      upstreams_[i] = std::make_unique<Upstream>();
      auto probe = PickFreePort();
      auto app = PickFreePort();
      ASSERT_TRUE(probe.ok() && app.ok());
      probe_ports_[i] = *probe;
      app_ports_[i] = *app;
      instances_[i] = StartInstance(i);
      ASSERT_NE(instances_[i], nullptr) << "instance " << i;
    }
    auto front = PickFreePort();
    ASSERT_TRUE(front.ok());
    front_port_ = *front;
    setenv("FRONTEND_ADDR", absl::StrCat("127.0.0.1:", front_port_).c_str(), 1);
    setenv("STATS_SOCKET", (dir_->path() + "/haproxy.sock").c_str(), 1);
    for (int i = 0; i < 2; ++i) {
      setenv(absl::StrCat("APP", i + 1, "_ADDR").c_str(),
             absl::StrCat("127.0.0.1:", app_ports_[i]).c_str(), 1);
      setenv(absl::StrCat("APP", i + 1, "_PROBE").c_str(),
             absl::StrCat(probe_ports_[i]).c_str(), 1);
    }
    SubprocessOptions o;
    o.argv = {"/usr/sbin/haproxy", "-db", "-f",
              Runfile("examples/deploy/haproxy.cfg")};
    haproxy_log_ = dir_->path() + "/haproxy.log";
    o.log_path = haproxy_log_;
    auto haproxy = Subprocess::Start(o);
    ASSERT_TRUE(haproxy.ok()) << haproxy.status();
    haproxy_ = *std::move(haproxy);
    ASSERT_TRUE(WaitFor(
        [&] {
          return vigil::checks::testing::CanConnect("127.0.0.1", front_port_,
                                                    200);
        },
        absl::Seconds(20)))
        << vigil::checks::testing::LogTail(haproxy_log_);
    // Both instances ready and in rotation before the load starts.
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(RunGate(ReadyzUrl(i), dir_->path() + "/gate.log"), 0)
          << vigil::checks::testing::LogTail(dir_->path() + "/gate.log");
    }
    load_ = std::make_unique<Load>(front_port_, 3);
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(WaitFor(
          [&] { return load_->LastServedBy(Name(i)) != absl::InfinitePast(); },
          absl::Seconds(20)))
          << Name(i) << " never served; haproxy log:\n"
          << vigil::checks::testing::LogTail(haproxy_log_);
    }
  }

  void TearDown() override {
    if (load_ != nullptr) load_->Stop();
    if (haproxy_ != nullptr) haproxy_->Stop(SIGTERM, absl::Seconds(10));
  }

  std::unique_ptr<Instance> StartInstance(int i) {
    if (GetParam() == Kind::kExample) {
      return ExampleInstance::Start(upstreams_[i]->address(), probe_ports_[i],
                                    app_ports_[i]);
    }
    return SidecarInstance::Start(upstreams_[i]->address(), probe_ports_[i],
                                  app_ports_[i], dir_->path());
  }

  static std::string Name(int i) { return absl::StrCat("app", i + 1); }
  std::string ReadyzUrl(int i) const {
    return absl::StrCat("http://127.0.0.1:", probe_ports_[i], "/readyz");
  }
  int ReadyzStatus(int i) const {
    httplib::Client c("127.0.0.1", probe_ports_[i]);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(1, 0);
    httplib::Result r = c.Get("/readyz");
    return r ? r->status : 0;
  }
  std::string Failures() const {
    std::string out;
    for (const std::string& f : load_->failure_samples()) out += f + "\n";
    return out + "haproxy log:\n" +
           vigil::checks::testing::LogTail(haproxy_log_);
  }

  std::unique_ptr<ScopedTempDir> dir_;
  std::unique_ptr<Upstream> upstreams_[2];
  int probe_ports_[2] = {0, 0};
  int app_ports_[2] = {0, 0};
  std::unique_ptr<Instance> instances_[2];
  int front_port_ = 0;
  std::string haproxy_log_;
  std::unique_ptr<Subprocess> haproxy_;
  std::unique_ptr<Load> load_;
};

// A critical dependency of app1 goes away: its /readyz fails and HAProxy
// stops sending it traffic within about fall x inter of the first 503,
// while every request keeps succeeding on app2.
TEST_P(S8Test, NotReadyInstanceIsTakenOutWithoutFailures) {
  upstreams_[0]->Close();
  ASSERT_TRUE(
      WaitFor([&] { return ReadyzStatus(0) == 503; }, absl::Seconds(30)))
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
      "S8 take-out (%s): last request to app1 %s after its first /readyz "
      "503 (fall x inter = %s; checks run every inter); app2 served %lld "
      "requests meanwhile\n",
      GetParam() == Kind::kExample ? "example service" : "sidecar",
      absl::FormatDuration(take_out).c_str(),
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
  load_->Stop();
  std::printf("S8 take-out run: %lld requests, %lld failed\n",
              static_cast<long long>(load_->total()),
              static_cast<long long>(load_->failures()));
  EXPECT_EQ(load_->failures(), 0) << Failures();
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
    // Drained before exit: nothing reached it in its last moments.
    EXPECT_LT(load_->LastServedBy(Name(i)), exited) << Name(i);
    EXPECT_GE(exited - term, kDrainDelay);
    instances_[i] = StartInstance(i);
    ASSERT_NE(instances_[i], nullptr) << "restart " << Name(i);
    const std::string gate_log =
        absl::StrCat(dir_->path(), "/gate-", i, ".log");
    ASSERT_EQ(RunGate(ReadyzUrl(i), gate_log), 0)
        << vigil::checks::testing::LogTail(gate_log);
    const absl::Time gated = absl::Now();
    // HAProxy's own view (rise 2) before the next instance goes down.
    ASSERT_TRUE(WaitFor([&] { return load_->LastServedBy(Name(i)) > gated; },
                        absl::Seconds(30)))
        << Name(i) << " not back in rotation\n"
        << Failures();
    std::printf(
        "S8 restart %s: drained+exited in %s, ready and back in "
        "rotation %s later\n",
        Name(i).c_str(), absl::FormatDuration(exited - term).c_str(),
        absl::FormatDuration(absl::Now() - exited).c_str());
  }
  const int64_t during = load_->total() - before;
  const absl::Duration restart_time = absl::Now() - begin;
  // Keep the load going until several thousand requests in all (bounded).
  WaitFor([&] { return load_->total() >= 5000; }, absl::Seconds(60));
  load_->Stop();
  std::printf(
      "S8 rolling restart (%s): %lld requests during the %s restart, %lld in "
      "all, %lld failed\n",
      GetParam() == Kind::kExample ? "example service" : "sidecar",
      static_cast<long long>(during),
      absl::FormatDuration(restart_time).c_str(),
      static_cast<long long>(load_->total()),
      static_cast<long long>(load_->failures()));
  EXPECT_EQ(load_->failures(), 0) << Failures();
  EXPECT_GE(load_->total(), 5000);
}

INSTANTIATE_TEST_SUITE_P(Backends, S8Test,
                         ::testing::Values(Kind::kExample, Kind::kSidecar),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kExample
                                      ? std::string("ExampleService")
                                      : std::string("SidecarPlainProcess");
                         });

}  // namespace
