// The example's "application": an httplib::Server with its own worker
// threads, serving the service's real traffic.
//
//   GET /                    a greeting
//   GET /work?ms=N           burns N ms of CPU on one worker thread (N <=
//   10000) GET /demo/hang?s=N       (demo_endpoints) blocks its worker thread
//   for N s
//                            (default 3600): the watchdog reports the stuck
//                            handler with its stack and fails liveness; under
//                            the supervisor the process is restarted
//   GET /demo/close-listener (demo_endpoints) closes the listening socket:
//                            the process lives on, its port refuses
//                            connections, and the self-probe fails liveness
//
// With a Watchdog, every request handler runs under a WatchScope of
// `handler_deadline` on a heartbeat of its worker thread ("app-worker-N",
// registered on the thread's first request and paused between requests), so
// a handler that deadlocks or spins is reported with its stack. Its
// busy-thread count is exported through vigil's /metrics, so a test can
// watch every application thread become busy and check that the dedicated
// probe server still answers.

#ifndef VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_
#define VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "health/http/prometheus.h"
#include "httplib.h"
#include "watchdog/watchdog.h"

namespace vigil_example {

struct AppServerOptions {
  // Worker threads (at least 1).
  int threads = 4;
  // Watches every request handler; nullptr: unwatched. Not owned; must
  // outlive the server.
  vigil::Watchdog* watchdog = nullptr;
  // A handler silent this long is reported (a miss); its stack is captured
  // at 2x and its heartbeat counts as hung (liveness fails, the supervisor
  // restarts the process) at 4x.
  absl::Duration handler_deadline = absl::Seconds(15);
  // Serve /demo/hang and /demo/close-listener.
  bool demo_endpoints = false;
};

class AppServer {
 public:
  explicit AppServer(AppServerOptions options);
  ~AppServer();  // Stop()

  // The underlying server, to mount more routes before Start().
  httplib::Server& server() { return server_; }

  // Binds (port 0 picks one) and serves on a background thread.
  absl::Status Start(const std::string& address, int port);
  // Stops accepting and joins. Idempotent.
  void Stop();

  int port() const { return port_; }
  int threads() const { return options_.threads; }
  int busy() const { return busy_.load(); }

  // Writes example_app_* families (a vigil MetricsCollector body).
  void WriteMetrics(vigil::http::PrometheusWriter& w) const;

 private:
  // `handler` wrapped so that it runs under the calling worker thread's
  // heartbeat with a WatchScope of handler_deadline labelled `label` (a
  // string literal).
  httplib::Server::Handler Watched(const char* label,
                                   httplib::Server::Handler handler);
  vigil::Heartbeat* ThreadHeartbeat();
  void HandleWork(const httplib::Request& req, httplib::Response& res);
  void HandleHang(const httplib::Request& req, httplib::Response& res);

  const AppServerOptions options_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> busy_{0};
  std::atomic<int> workers_seen_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_
