#include "examples/service/app_server.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigil_example {
namespace {

// Keeps one core busy for `d`.
void BurnCpu(absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  volatile uint64_t x = 0;
  while (absl::Now() < end) {
    for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005ULL + 1;
  }
}

// The demonstration hang: blocks the calling worker for `d` or until the
// server stops. Not inlined, so the watchdog's stack names it.
ABSL_ATTRIBUTE_NOINLINE void HangForDemo(absl::Duration d,
                                         const std::atomic<bool>& stopping) {
  const absl::Time end = absl::Now() + d;
  while (absl::Now() < end && !stopping.load()) {
    absl::SleepFor(absl::Milliseconds(100));
  }
}

// A worker's heartbeat thresholds: a WatchScope of D scales them to D, 2D
// and 4D (watchdog.h).
vigil::HeartbeatOptions WorkerHeartbeatOptions() {
  vigil::HeartbeatOptions hb;
  hb.miss_after = absl::Seconds(1);
  hb.long_miss_after = absl::Seconds(2);
  hb.kill_after = absl::Seconds(4);
  return hb;
}

}  // namespace

AppServer::AppServer(AppServerOptions options)
    : options_([&] {
        options.threads = std::max(1, options.threads);
        return options;
      }()) {
  const int n = options_.threads;
  server_.new_task_queue = [n] { return new httplib::ThreadPool(n); };
  server_.set_tcp_nodelay(true);
  server_.Get("/", Watched("GET /", [this](const httplib::Request&,
                                           httplib::Response& res) {
                ++requests_;
                res.set_content("hello from vigil-example\n", "text/plain");
              }));
  server_.Get("/work", Watched("GET /work", [this](const httplib::Request& req,
                                                   httplib::Response& res) {
                HandleWork(req, res);
              }));
  if (options_.demo_endpoints) {
    server_.Get("/demo/hang",
                Watched("GET /demo/hang", [this](const httplib::Request& req,
                                                 httplib::Response& res) {
                  HandleHang(req, res);
                }));
    server_.Get("/demo/close-listener",
                [this](const httplib::Request&, httplib::Response& res) {
                  ++requests_;
                  std::printf(
                      "demo: closing the application's listening socket "
                      "(port %d); the process keeps running\n",
                      port_);
                  std::fflush(stdout);
                  server_.stop();  // the listener thread exits; Stop() joins
                  res.set_content("listening socket closed\n", "text/plain");
                });
  }
}

AppServer::~AppServer() { Stop(); }

vigil::Heartbeat* AppServer::ThreadHeartbeat() {
  // One per worker thread, destroyed when the thread exits (the pool's
  // threads are joined by Stop(), before the watchdog goes away).
  thread_local vigil::Heartbeat heartbeat;
  if (heartbeat.empty()) {
    absl::StatusOr<vigil::Heartbeat> h = options_.watchdog->Register(
        absl::StrCat("app-worker-", workers_seen_.fetch_add(1)),
        WorkerHeartbeatOptions());
    if (!h.ok()) return nullptr;
    heartbeat = *std::move(h);
    heartbeat.Pause();  // idle between requests
  }
  return &heartbeat;
}

httplib::Server::Handler AppServer::Watched(const char* label,
                                            httplib::Server::Handler handler) {
  if (options_.watchdog == nullptr) return handler;
  return [this, label, handler = std::move(handler)](
             const httplib::Request& req, httplib::Response& res) {
    vigil::Heartbeat* heartbeat = ThreadHeartbeat();
    if (heartbeat == nullptr) return handler(req, res);
    heartbeat->Resume();
    {
      vigil::WatchScope scope(*heartbeat, options_.handler_deadline, label);
      handler(req, res);
    }
    heartbeat->Pause();
  };
}

void AppServer::HandleWork(const httplib::Request& req,
                           httplib::Response& res) {
  ++requests_;
  int ms = 100;
  if (req.has_param("ms") &&
      !absl::SimpleAtoi(req.get_param_value("ms"), &ms)) {
    res.status = 400;
    res.set_content("ms: not a number\n", "text/plain");
    return;
  }
  ms = std::clamp(ms, 0, 10000);
  ++busy_;
  BurnCpu(absl::Milliseconds(ms));
  --busy_;
  res.set_content(absl::StrCat("worked ", ms, " ms\n"), "text/plain");
}

void AppServer::HandleHang(const httplib::Request& req,
                           httplib::Response& res) {
  ++requests_;
  int seconds = 3600;
  if (req.has_param("s") &&
      !absl::SimpleAtoi(req.get_param_value("s"), &seconds)) {
    res.status = 400;
    res.set_content("s: not a number\n", "text/plain");
    return;
  }
  seconds = std::clamp(seconds, 0, 3600);
  std::printf("demo: GET /demo/hang blocks an application thread for %d s\n",
              seconds);
  std::fflush(stdout);
  HangForDemo(absl::Seconds(seconds), stopping_);
  res.set_content(absl::StrCat("hung for ", seconds, " s\n"), "text/plain");
}

absl::Status AppServer::Start(const std::string& address, int port) {
  if (port == 0) {
    port_ = server_.bind_to_any_port(address);
  } else {
    port_ = server_.bind_to_port(address, port) ? port : -1;
  }
  if (port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("application server: cannot bind ", address, ":", port));
  }
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  return absl::OkStatus();
}

void AppServer::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  server_.stop();
  thread_.join();
}

void AppServer::WriteMetrics(vigil::http::PrometheusWriter& w) const {
  w.Gauge("example_app_threads", "Worker threads of the application server.",
          options_.threads);
  w.Gauge("example_app_busy_threads",
          "Application threads currently burning CPU in /work.", busy());
  w.Counter("example_app_requests_total",
            "Requests handled by the application server.",
            static_cast<double>(requests_.load()));
}

}  // namespace vigil_example
