// The example's "application": an httplib::Server with its own worker
// threads, serving the service's real traffic.
//
//   GET /            a greeting
//   GET /work?ms=N   burns N ms of CPU on one worker thread (N <= 10000)
//
// Its busy-thread count is exported through vigil's /metrics, so a test can
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
//   AppServer app(4);
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
#include "health/http/prometheus.h"
#include "httplib.h"

namespace vigil_example {
namespace internal {
class DrainingServer;
}  // namespace internal

class AppServer {
 public:
  static constexpr int kDefaultListenBacklog = 1024;

  explicit AppServer(int threads, int listen_backlog = kDefaultListenBacklog);
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
  // and joins. Idempotent.
  void Stop();

  int port() const { return port_; }
  int threads() const { return threads_; }
  int listen_backlog() const { return listen_backlog_; }
  int busy() const { return busy_.load(); }
  bool draining() const;

  // Writes example_app_* families (a vigil MetricsCollector body).
  void WriteMetrics(vigil::http::PrometheusWriter& w) const;

 private:
  void HandleWork(const httplib::Request& req, httplib::Response& res);

  const int threads_;
  const int listen_backlog_;
  std::unique_ptr<internal::DrainingServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> busy_{0};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_APP_SERVER_H_
