#include "examples/service/app_server.h"

#include <algorithm>

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

}  // namespace

AppServer::AppServer(int threads) : threads_(std::max(1, threads)) {
  const int n = threads_;
  server_.new_task_queue = [n] { return new httplib::ThreadPool(n); };
  server_.set_tcp_nodelay(true);
  server_.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    ++requests_;
    res.set_content("hello from vigil-example\n", "text/plain");
  });
  server_.Get("/work",
              [this](const httplib::Request& req, httplib::Response& res) {
                HandleWork(req, res);
              });
}

AppServer::~AppServer() { Stop(); }

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
  server_.stop();
  thread_.join();
}

void AppServer::WriteMetrics(vigil::http::PrometheusWriter& w) const {
  w.Gauge("example_app_threads", "Worker threads of the application server.",
          threads_);
  w.Gauge("example_app_busy_threads",
          "Application threads currently burning CPU in /work.", busy());
  w.Counter("example_app_requests_total",
            "Requests handled by the application server.",
            static_cast<double>(requests_.load()));
}

}  // namespace vigil_example
