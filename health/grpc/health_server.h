// HealthServer: a dedicated gRPC server for grpc.health.v1 on its own port,
// backed by a HealthRegistry (the gRPC twin of http::ProbeServer).
//
// Use it when the application's own gRPC server may be saturated, or when
// the application has no gRPC server at all but its orchestrator probes
// gRPC (Kubernetes `grpc:` probes, grpc_health_probe). It shares nothing
// with the application's server: its own port, its own gRPC threads.
//
//   vigil::grpc_health::HealthServerOptions options;
//   options.address = "0.0.0.0";
//   options.port = 8081;              // 0 picks a free port: see port()
//   auto server = vigil::grpc_health::HealthServer::Start(&registry, options);
//   if (!server.ok()) ...             // e.g. port in use
//   ...
//   // On SIGTERM: readiness and "" turn NOT_SERVING at once (on HTTP too,
//   // both read the registry); after the drain delay every Watch stream is
//   // completed and the server stops.
//   (*server)->Shutdown(absl::Seconds(5));
//
// Thread safety: all methods may be called from any thread.

#ifndef VIGIL_HEALTH_GRPC_HEALTH_SERVER_H_
#define VIGIL_HEALTH_GRPC_HEALTH_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/grpc/health_service.h"
#include "health/registry.h"
#include "health/sync.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace vigil {
namespace grpc_health {

struct HealthServerOptions {
  // Numeric IPv4 or IPv6 address: "127.0.0.1" (default), "0.0.0.0", "::",
  // "::1".
  std::string address = "127.0.0.1";
  // TCP port; 0 picks a free one (read it back with port()).
  int port = 0;
  HealthServiceOptions service;
  // How long Stop() lets calls in progress finish before cancelling them.
  absl::Duration stop_grace = absl::Seconds(1);
};

class HealthServer {
 public:
  // Binds and starts serving. `registry` is not owned and must outlive the
  // server. InvalidArgument for bad options; Unavailable when the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(
      HealthRegistry* registry, HealthServerOptions options = {});

  // Stop().
  ~HealthServer();

  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Graceful drain: registry->BeginShutdown() at once (readiness and ""
  // answer NOT_SERVING on gRPC and on HTTP, and Watch streams are told),
  // keeps answering for `drain_delay` on the registry's clock, then Stop().
  // Returns within about drain_delay + stop_grace, however many Watch
  // streams are open.
  void Shutdown(absl::Duration drain_delay);

  // Completes every Watch stream (each gets its latest status, then OK),
  // lets other calls finish for up to stop_grace, and stops. Idempotent.
  void Stop();

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }
  HealthService* service() const { return service_.get(); }

 private:
  HealthServer(HealthRegistry* registry, HealthServerOptions options,
               std::unique_ptr<HealthService> service);

  HealthRegistry* const registry_;
  const HealthServerOptions options_;
  std::unique_ptr<HealthService> service_;
  std::unique_ptr<::grpc::Server> server_;
  int port_ = 0;
  Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace grpc_health
}  // namespace vigil

#endif  // VIGIL_HEALTH_GRPC_HEALTH_SERVER_H_
