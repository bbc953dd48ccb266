#include "examples/sidecar/testing/s8_harness.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/service/testing/raw_http.h"
#include "gtest/gtest.h"
#include "health/checks/testing/ports.h"
#include "health/testing/require.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil_example {
namespace testing {
namespace {

using vigil::checks::testing::CanConnect;
using vigil::checks::testing::PickFreePort;
using vigil::testing::LogTail;
using vigil::testing::RunfilePath;
using vigil::testing::ScopedTempDir;
using vigil::testing::Subprocess;
using vigil::testing::SubprocessOptions;
using vigil::testing::WaitFor;

// `python3 -m http.server --bind 127.0.0.1 PORT` with a backlog of 1024.
constexpr char kPythonServer[] =
    "import http.server as h, sys\n"
    "class Server(h.ThreadingHTTPServer):\n"
    "    request_queue_size = 1024\n"
    "h.test(HandlerClass=h.SimpleHTTPRequestHandler, ServerClass=Server,\n"
    "       port=int(sys.argv[1]), bind='127.0.0.1')\n";

// Starts `options` until the child accepts on `port` (a port freed a moment
// ago can still be held by the previous process's last connections: a few
// attempts). nullptr if it never does.
std::unique_ptr<Subprocess> StartListening(const SubprocessOptions& options,
                                           int port) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto p = Subprocess::Start(options);
    if (!p.ok()) return nullptr;
    if (WaitFor(
            [&] {
              return CanConnect("127.0.0.1", port, 200) || !(*p)->Running();
            },
            absl::Seconds(20)) &&
        (*p)->Running()) {
      return *std::move(p);
    }
  }
  return nullptr;
}

class ExampleInstance : public Instance {
 public:
  explicit ExampleInstance(std::unique_ptr<ServiceProcess> process)
      : process_(std::move(process)) {}
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

class SidecarInstance : public Instance {
 public:
  SidecarInstance(int probe_port, int app_port, std::string log)
      : probe_port_(probe_port), app_port_(app_port), log_(std::move(log)) {}

  bool Start(const std::string& upstream, const std::string& dir) {
    SubprocessOptions app;
    // python's http.server, with its listen backlog raised from
    // socketserver's 5 (there is no flag for it): with 16 clients behind
    // a load balancer that does not retry, 5 dropped SYNs (HAProxy econ,
    // nginx "connect() timed out").
    app.argv = {"/usr/bin/python3", "-c", kPythonServer,
                absl::StrCat(app_port_)};
    app.cwd = dir;
    app.log_path = log_;
    app_ = StartListening(app, app_port_);
    if (app_ == nullptr) return false;
    SubprocessOptions sidecar;
    sidecar.argv = {
        RunfilePath("examples/sidecar/vigil-sidecar"),
        "--address=127.0.0.1",
        absl::StrCat("--port=", probe_port_),
        absl::StrCat("--target=http://127.0.0.1:", app_port_, "/"),
        absl::StrCat("--tcp=", upstream),
        absl::StrCat("--pid=", app_->pid()),
        "--no_pressure",
        "--check_interval=200ms",
        absl::StrCat("--drain_delay=", absl::FormatDuration(kDrainDelay)),
    };
    sidecar.log_path = log_;
    sidecar_ = StartListening(sidecar, probe_port_);
    return sidecar_ != nullptr;
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
  std::string Output() const override { return LogTail(log_); }

 private:
  const int probe_port_;
  const int app_port_;
  const std::string log_;
  std::unique_ptr<Subprocess> app_;
  std::unique_ptr<Subprocess> sidecar_;
};

}  // namespace

std::unique_ptr<Instance> StartExampleInstance(const std::string& upstream,
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
    if (p.ok()) return std::make_unique<ExampleInstance>(*std::move(p));
    std::fprintf(stderr, "start attempt %d: %s\n", attempt,
                 std::string(p.status().message()).c_str());
  }
  return nullptr;
}

std::unique_ptr<Instance> StartSidecarInstance(const std::string& upstream,
                                               int probe_port, int app_port,
                                               const std::string& dir) {
  auto i = std::make_unique<SidecarInstance>(
      probe_port, app_port,
      absl::StrCat(dir, "/instance-", probe_port, ".log"));
  if (!i->Start(upstream, dir)) return nullptr;
  return i;
}

Load::Load(int port, int threads, int max_per_thread) {
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back(
        [this, port, max_per_thread] { Run(port, max_per_thread); });
  }
}

void Load::Stop() {
  stop_.store(true);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::string Load::FailureSamples() const {
  vigil::MutexLock lock(&mu_);
  std::string out;
  for (const std::string& f : failure_samples_) out += f + "\n";
  for (const std::string& r : retry_samples_) out += r + "\n";
  return out;
}

absl::Time Load::LastServedBy(const std::string& server) const {
  vigil::MutexLock lock(&mu_);
  auto it = last_.find(server);
  return it == last_.end() ? absl::InfinitePast() : it->second;
}

int64_t Load::CountSince(const std::string& server, absl::Time since) const {
  vigil::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const Record& r : records_) {
    if (r.served_by == server && r.start >= since) ++n;
  }
  return n;
}

void Load::Run(int port, int max_requests) {
  std::unique_ptr<RawHttpConnection> conn;
  for (int i = 0; i < max_requests && !stop_.load(); ++i) {
    const absl::Time start = absl::Now();
    if (conn == nullptr) conn = std::make_unique<RawHttpConnection>(port);
    RawHttpConnection::Response res = conn->Get("/");
    std::string retry;
    if (!res.ok && res.bytes_read == 0 && conn->responses() > 0) {
      retry = absl::StrCat(absl::FormatTime(start), " retried after ",
                           conn->responses(),
                           " responses on the connection: ", res.error);
      conn = std::make_unique<RawHttpConnection>(port);
      res = conn->Get("/");
    }
    if (!res.ok || res.closes()) conn.reset();
    total_.fetch_add(1);
    std::string served_by;
    std::string failure;
    if (!res.ok) {
      failure = absl::StrCat("transport: ", res.error, " (", res.bytes_read,
                             " bytes of response)");
    } else if (res.status != 200) {
      failure = absl::StrCat("HTTP ", res.status, ": ", res.body);
    } else {
      served_by = res.Header("X-Served-By");
    }
    vigil::MutexLock lock(&mu_);
    if (!retry.empty()) {
      retried_.fetch_add(1);
      if (retry_samples_.size() < 10) retry_samples_.push_back(retry);
    }
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

int RunGate(const std::string& url, const std::string& log) {
  SubprocessOptions o;
  o.argv = {RunfilePath("examples/sidecar/vigil-sidecar"),
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

int ReadyzStatus(int probe_port) {
  httplib::Client c("127.0.0.1", probe_port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(1, 0);
  httplib::Result r = c.Get("/readyz");
  return r ? r->status : 0;
}

const char* KindName(Kind kind) {
  return kind == Kind::kExample ? "example service" : "sidecar";
}

void S8Fixture::StartInstances(const std::string& dir_prefix, bool gate_each) {
  VIGIL_REQUIRE_OR_SKIP(
      GetParam() != Kind::kSidecar || access("/usr/bin/python3", X_OK) == 0,
      "python3 not installed");
  auto dir = ScopedTempDir::Create(dir_prefix, "/tmp");  // short socket path
  ASSERT_TRUE(dir.ok()) << dir.status();
  dir_ = *std::move(dir);
  auto front = PickFreePort();
  ASSERT_TRUE(front.ok());
  front_port_ = *front;
  for (int i = 0; i < 2; ++i) {
    upstreams_[i] = std::make_unique<vigil::testing::Upstream>();
    auto probe = PickFreePort();
    auto app = PickFreePort();
    ASSERT_TRUE(probe.ok() && app.ok());
    probe_ports_[i] = *probe;
    app_ports_[i] = *app;
    instances_[i] = StartInstance(i);
    ASSERT_NE(instances_[i], nullptr) << "instance " << i;
    if (gate_each) {
      ASSERT_EQ(RunGate(ReadyzUrl(i), GateLog()), 0) << LogTail(GateLog());
    }
  }
}

void S8Fixture::TearDown() {
  if (load_ != nullptr) load_->Stop();
}

std::unique_ptr<Instance> S8Fixture::StartInstance(int i) {
  if (GetParam() == Kind::kExample) {
    return StartExampleInstance(upstreams_[i]->address(), probe_ports_[i],
                                app_ports_[i]);
  }
  return StartSidecarInstance(upstreams_[i]->address(), probe_ports_[i],
                              app_ports_[i], dir_->path());
}

void S8Fixture::StartLoad(int clients) {
  load_ = std::make_unique<Load>(front_port_, clients);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor(
        [&] { return load_->LastServedBy(Name(i)) != absl::InfinitePast(); },
        absl::Seconds(20)))
        << Name(i) << " never served\n"
        << Diagnostics();
  }
}

std::string S8Fixture::ReadyzUrl(int i) const {
  return absl::StrCat("http://127.0.0.1:", probe_ports_[i], "/readyz");
}

}  // namespace testing
}  // namespace vigil_example
