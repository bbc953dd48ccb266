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
//   - connections are admitted so that neither a crowd nor one peer can
//     lock probes out (see "Admission" below), and descriptors are never
//     exhausted;
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
// Admission. At most `max_connections` connections are open at once, and
// at most `max_connections_per_peer` from one remote address:
//   - a new connection from a peer at its cap closes that peer's oldest
//     connection that has not sent a byte in the 1 s since it opened, or,
//     if it has none, is itself closed at once (a refusal): one peer,
//     however many connections it opens and holds, leaves max_connections
//     - max_connections_per_peer slots (1/8 by default) to all the others;
//   - at max_connections, to admit a new connection the server closes the
//     oldest connection silent for 1 s since it opened of the peer holding
//     the most connections (or of the next busiest that has one), else the
//     longest idle keep-alive connection idle for 1 s. A connection with a
//     request in progress, being answered or streaming, one active in the
//     last second, or one opened less than 1 s ago, is never closed to
//     make room; with nothing to close the server stops accepting, and new
//     connections wait in the kernel's listen backlog (SOMAXCONN) until one
//     closes.
// Each decision is counted on /metrics
// (vigil_probe_server_admission_decisions_total{decision=...}).
// Measured (probe_server_test ConnectFloodFromOnePeerDoesNotFailDelayedProbes):
// while 127.0.0.2 opens and holds new connections at thousands per second,
// a prober on 127.0.0.1 that sends its request 300 ms after connecting is
// answered. The peer is its IP address: a flood from the same address as
// the prober (or from behind the same NAT or proxy) cannot be told apart
// from it, and the prober's connections may be the ones closed.
//
// Memory: a connection costs about 300 bytes of state plus its buffers,
// which keep their size between requests: about the largest request read
// (at most max_request_line_bytes + max_header_bytes + max_body_bytes +
// 1 KiB, about 29 KiB by default) and the largest answer written; a probe
// connection holds well under 2 KiB. The kernel's socket buffers come on
// top (allocated as data is queued).
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
  // Most threads running /metrics and the status page (user collectors);
  // they are started as needed. Probes are answered on the server's
  // event-loop thread and never wait for these. >= 1.
  int worker_threads = 2;
  // Connections open at once (see "Admission"). 0 (default): half the
  // process's soft RLIMIT_NOFILE when the server starts, within [128,
  // 32768] (512 with the common limit of 1024); read it back in
  // ProbeServerStats::max_connections.
  int max_connections = 0;
  // Connections open at once from one remote address, at most
  // max_connections. 0 (default): max_connections minus an eighth (kept
  // for other peers).
  int max_connections_per_peer = 0;
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
  // Closed to admit a new connection (all eviction decisions below).
  uint64_t evicted = 0;
  // Closed by request_timeout or write_timeout.
  uint64_t timed_out = 0;
  // Idle keep-alive connections closed by idle_timeout.
  uint64_t idle_closed = 0;
  // New connections closed at once: their peer was at
  // max_connections_per_peer with no silent connection to close.
  uint64_t rejected = 0;
  // The limits in force (max_connections resolved when it was 0).
  int max_connections = 0;
  int max_connections_per_peer = 0;
  // Admission decisions (see "Admission"): closed a silent connection of a
  // peer at its cap / refused a peer at its cap; at max_connections, closed
  // a silent connection of the busiest peer / of another peer / an idle
  // one; paused accepting.
  uint64_t peer_cap_evicted = 0;
  uint64_t peer_cap_refused = 0;
  uint64_t evicted_silent_busiest_peer = 0;
  uint64_t evicted_silent = 0;
  uint64_t evicted_idle = 0;
  uint64_t paused_full = 0;
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
  // Binds, listens and starts the server's event-loop thread (workers are
  // started on first use). `endpoints` is not
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
  // server's threads. Returns within about 1 s: a /metrics or status page
  // request still inside a collector (user code) is waited for at most
  // 900 ms, then its thread is left running detached and exits when the
  // collector returns; it references only state it shares ownership of,
  // and the endpoints (which must then outlive it: see
  // AbandonedRequests()). Queued requests are dropped. Idempotent.
  void Stop();

  // Requests (of every ProbeServer in the process) still running in user
  // code after their server stopped. The HealthEndpoints they use must
  // stay alive until they return; a test destroying its endpoints after a
  // blocked collector waits for 0.
  static int AbandonedRequests();

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
