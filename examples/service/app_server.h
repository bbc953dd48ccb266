// The example's "application": an httplib::Server with its own worker
// threads, serving the service's real traffic.
//
//   GET /                     a greeting
//   GET /work?ms=N            burns N ms of CPU on one worker thread
//                             (N <= 10000)
//   GET /demo/hang?s=N        (demo_endpoints) blocks its worker thread for
//                             N s (default 3600): the watchdog reports the
//                             stuck handler with its stack and fails
//                             liveness; under the supervisor the process is
//                             restarted
//   GET /demo/close-listener  (demo_endpoints) closes the listening socket:
//                             the process lives on, its port refuses
//                             connections, and the self-probe fails liveness
//
// With a Watchdog, every request handler runs under a WatchScope of
// `handler_deadline` on a heartbeat of its worker thread ("app-worker-N",
// registered on the thread's first request and paused between requests), so
// a handler that deadlocks or spins is reported with its stack. Its
// busy-thread count is exported through vigil's /metrics, so a test can
// watch every application thread become busy and check that the dedicated
// probe server still answers.
//
// Behind a load balancer it accepts bursts and drains without closing races:
//
//   - The listen backlog is `listen_backlog` (default 1024; the kernel caps
//     it at net.core.somaxconn). cpp-httplib listens with 5, compiled into
//     Debian's shared library; Start() raises it on the bound socket.
//   - BeginDrain() (on SIGTERM, while /readyz answers 503): every response
//     from then on carries `Connection: close` and the connection is closed
//     after it is written, so a keep-alive peer never sends its next request
//     into a connection that is about to close. Idle keep-alive connections
//     stay open (a peer may still use one, and gets `Connection: close`).
//   - Stop() (at the end of the drain delay): stops accepting, closes idle
//     keep-alive connections, lets requests in flight finish (their responses
//     carry `Connection: close`), and returns once every connection is closed.
//
//   AppServer app(AppServerOptions{});
//   app.Start("127.0.0.1", 8081);
//   ...                  // SIGTERM
//   app.BeginDrain();    // readiness fails at the same moment
//   ...                  // the drain delay: the load balancer takes it out
//   app.Stop();
//
// Connections are closed gracefully: FIN after the last response, then the
// peer's remaining bytes are read (up to 500 ms) before the socket closes, so
// the response is never cut by a reset.
//
// Thread-safe: BeginDrain(), Stop() and the accessors may be called from any
// thread; mount routes on server() before Start().

#ifndef VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_
#define VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "health/http/prometheus.h"
#include "httplib.h"
#include "watchdog/watchdog.h"

namespace vigil_example {
namespace internal {
class DrainingServer;
}  // namespace internal

struct AppServerOptions {
  static constexpr int kDefaultListenBacklog = 1024;

  // Worker threads (at least 1).
  int threads = 4;
  // The listen backlog (at least 1; the kernel caps it at somaxconn).
  int listen_backlog = kDefaultListenBacklog;
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
  httplib::Server& server();

  // Binds (port 0 picks one), raises the listen backlog and serves on a
  // background thread.
  absl::Status Start(const std::string& address, int port);
  // From now on every response carries `Connection: close` and ends its
  // connection. Idempotent.
  void BeginDrain();
  // Stops accepting, closes idle connections, finishes requests in flight
  // (a /demo/hang ends) and joins. Idempotent.
  void Stop();

  int port() const { return port_; }
  int threads() const { return options_.threads; }
  int listen_backlog() const { return options_.listen_backlog; }
  int busy() const { return busy_.load(); }
  bool draining() const;

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
  std::unique_ptr<internal::DrainingServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> busy_{0};
  std::atomic<int> workers_seen_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_
