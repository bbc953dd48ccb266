// The example's "application": an httplib::Server with its own worker
// threads, serving the service's real traffic.
//
//   GET /            a greeting
//   GET /work?ms=N   burns N ms of CPU on one worker thread (N <= 10000)
//
// Its busy-thread count is exported through vigil's /metrics, so a test can
// watch every application thread become busy and check that the dedicated
// probe server still answers.

#ifndef VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_
#define VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "health/http/prometheus.h"
#include "httplib.h"

namespace vigil_example {

class AppServer {
 public:
  explicit AppServer(int threads);
  ~AppServer();  // Stop()

  // The underlying server, to mount more routes before Start().
  httplib::Server& server() { return server_; }

  // Binds (port 0 picks one) and serves on a background thread.
  absl::Status Start(const std::string& address, int port);
  // Stops accepting and joins. Idempotent.
  void Stop();

  int port() const { return port_; }
  int threads() const { return threads_; }
  int busy() const { return busy_.load(); }

  // Writes example_app_* families (a vigil MetricsCollector body).
  void WriteMetrics(vigil::http::PrometheusWriter& w) const;

 private:
  void HandleWork(const httplib::Request& req, httplib::Response& res);

  const int threads_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> busy_{0};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_
