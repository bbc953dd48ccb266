// ProbeServer: a dedicated HTTP server for health probes and /metrics, on
// its own port and its own threads.
//
// Why a separate server: when an application's request threads are all
// busy (a slow database, a traffic spike), probes mounted on the same server
// queue behind the traffic; the orchestrator's probe times out and a healthy
// but busy instance is restarted or pulled from rotation. The probe server
// shares nothing with the application's server, and is built so that no
// client can starve it:
//   - one event-loop thread owns every connection (non-blocking sockets,
//     epoll): an idle keep-alive connection, a client that trickles bytes or
//     one that vanished holds no thread, only a file descriptor;
//   - probe answers are computed on that thread from the registry's latest
//     snapshot (microseconds, never a check, never user code), and the
//     serialized answer is reused for equal requests until the registry
//     publishes a new snapshot (at most 64 answers, 1 MiB); /metrics,
//     which runs metrics collectors (user code), runs on a small worker pool
//     so a slow collector cannot delay a probe;
//   - at most `max_connections` connections are kept: a new connection over
//     the limit closes the least recently active one, so a flood of idle or
//     slow connections cannot lock probes out, nor exhaust descriptors;
//   - requests are bounded (request line, header bytes and count, body) and
//     timed (a request must arrive within `request_timeout` of its first
//     byte, keep-alive connections idle out after `idle_timeout`); over-limit
//     requests get 414 / 431 / 413 / 408 and the connection is closed.
//
//   auto endpoints = vigil::http::HealthEndpoints::Create(&registry).value();
//   vigil::http::ProbeServerOptions options;
//   options.address = "0.0.0.0";
//   options.port = 8080;             // 0 picks a free port: see port()
//   absl::StatusOr<std::unique_ptr<vigil::http::ProbeServer>> server =
//       vigil::http::ProbeServer::Start(endpoints.get(), options);
//   if (!server.ok()) ...            // e.g. port in use
//   ... (*server)->port() ...
//   server->reset();                 // or let it go out of scope: stops
//
// Thread safety: all methods may be called from any thread.

#ifndef VIGIL_HEALTH_HTTP_PROBE_SERVER_H_
#define VIGIL_HEALTH_HTTP_PROBE_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/clock.h"
#include "health/http/endpoints.h"

namespace vigil {
namespace http {

struct ProbeServerOptions {
  // Numeric IPv4 or IPv6 address to listen on: "127.0.0.1" (default: probes
  // from this host only), "0.0.0.0", "::" (dual-stack), "::1".
  std::string address = "127.0.0.1";
  // TCP port; 0 picks a free one (read it back with port()).
  int port = 0;
  // Served paths are prefixed with this: "" (default) or e.g. "/internal"
  // (then /internal/readyz). Any other path answers 404.
  std::string path_prefix;
  // Threads running /metrics (collectors). Probes are answered on the
  // server's event-loop thread and never wait for these. >= 1.
  int worker_threads = 2;
  // Connections kept open at once; over it, the least recently active
  // connection is closed to admit a new one. >= 1.
  int max_connections = 128;
  // A request must be complete this long after its first byte (or after the
  // connection opened, for the first request): slow clients get 408.
  absl::Duration request_timeout = absl::Seconds(5);
  // An idle keep-alive connection is closed after this long.
  absl::Duration idle_timeout = absl::Seconds(30);
  // A response must be accepted by the client within this long.
  absl::Duration write_timeout = absl::Seconds(5);
  // Server-Sent Events streams of the history (<statusz>/events, when the
  // endpoints have a history) open at once; more are answered 503. Each
  // holds one connection and at most 64 KiB of unsent events: a client
  // that falls further behind, or takes nothing for 15 s, is dropped.
  // Streams are written by the event loop without ever waiting for a
  // client, so they cannot delay probes.
  int max_event_streams = 16;
  // Request size limits: request line (414), all header lines (431), body
  // (413; it is read and ignored).
  size_t max_request_line_bytes = 8192;
  size_t max_header_bytes = 16384;
  size_t max_body_bytes = 4096;
  // Adds the server's vigil_probe_server_* families to the endpoints'
  // /metrics while it runs. Only one ProbeServer per HealthEndpoints may
  // export them (a second one's families are rejected as duplicates).
  bool export_metrics = true;
  // Time source for the timeouts. Not owned. nullptr means Clock::Real().
  // With another clock the event loop re-reads it at least every 100 ms of
  // real time, so tests can advance a FakeClock past a timeout.
  Clock* clock = nullptr;
};

// Counters since Start(), as exported on /metrics.
struct ProbeServerStats {
  int64_t open_connections = 0;
  uint64_t accepted = 0;
  // Closed to admit a new connection at max_connections.
  uint64_t evicted = 0;
  // Closed by request_timeout or write_timeout.
  uint64_t timed_out = 0;
  // Idle keep-alive connections closed by idle_timeout.
  uint64_t idle_closed = 0;
  // Refused at max_connections because no open connection could be closed
  // (all were waiting for a /metrics answer).
  uint64_t rejected = 0;
  // Event streams open now; refused at max_event_streams; dropped for
  // falling behind.
  int64_t event_streams = 0;
  uint64_t event_streams_refused = 0;
  uint64_t event_streams_dropped = 0;
  // Answers sent, by status code (including 4xx for bad requests).
  std::map<int, uint64_t> responses;
};

class ProbeServer {
 public:
  // Binds, listens and starts the server's threads. `endpoints` is not
  // owned and must outlive the server. Errors: InvalidArgument naming a bad
  // option (e.g. "address: ..."), Unavailable when the address cannot be
  // bound (in use, not local).
  static absl::StatusOr<std::unique_ptr<ProbeServer>> Start(
      HealthEndpoints* endpoints, ProbeServerOptions options = {});

  // Stops (see Stop()).
  ~ProbeServer();

  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  // Closes the listening socket and every connection, and joins the
  // server's threads. A /metrics request in progress finishes first.
  // Idempotent.
  void Stop();

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }
  // The address listened on, as given.
  const std::string& address() const { return address_; }

  ProbeServerStats stats() const;

 private:
  class Loop;

  ProbeServer(std::unique_ptr<Loop> loop, std::string address, int port);

  std::unique_ptr<Loop> loop_;
  const std::string address_;
  const int port_;
};

}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_PROBE_SERVER_H_
