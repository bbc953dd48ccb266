// HealthService: grpc.health.v1.Health (Check, Watch, List) served from a
// HealthRegistry's snapshots.
//
// Unlike grpc++'s built-in health service (a boolean per name, set by hand),
// every answer here is what the registry's checks say, read from its latest
// snapshot: a call never runs a check, so a flood of probes costs nothing.
//
// Name space (see health/grpc/internal/name_space.h):
//   ""          overall status; NOT_SERVING from BeginShutdown() on;
//   "all"       alias of "";
//   group name  liveness, readiness, startup, or a custom group;
//   check name  one check.
// The registry refuses a check named like a group, or a group named like a
// check, at registration (AlreadyExists), so a name means one thing.
// Statuses: HEALTHY, DEGRADED -> SERVING; UNHEALTHY -> NOT_SERVING;
// UNKNOWN -> UNKNOWN. An unknown name: Check fails with NOT_FOUND; Watch
// sends SERVICE_UNKNOWN and keeps the stream open.
//
// Watch sends the current status at once, then every change, pushed by the
// registry's listener (no polling): the listener only wakes the service's
// notifier thread (owned by the service, joined by its destructor), which
// reads the latest snapshot and offers it to every stream, so open streams
// add nothing to the registry's publishing thread. Each stream has at most
// one write in flight and keeps only the latest unsent status, so a slow
// watcher holds one status, never blocks the registry, and always ends on
// the final status (intermediate statuses superseded before they were read
// or sent are skipped). List returns "", every group and every check, at most
// 100 (the published limit; more fail with RESOURCE_EXHAUSTED).
//
// Mount it on your own server (it uses grpc++'s callback API, so it answers
// on gRPC's callback threads even while your synchronous or completion-queue
// handlers are all busy), or run a dedicated HealthServer (health_server.h):
//
//   auto health = vigil::grpc_health::HealthService::Create(&registry);
//   grpc::ServerBuilder builder;
//   builder.RegisterService(health->get());
//   ... builder.BuildAndStart() ...
//   // Shutting down: end the Watch streams first, or grpc::Server::Shutdown()
//   // waits for them.
//   (*health)->CompleteWatches();
//   server->Shutdown();
//
// Lifetime: the registry must outlive the service; the service must outlive
// the grpc::Server it is registered with. Thread safety: all methods may be
// called from any thread.

#ifndef VIGIL_HEALTH_GRPC_HEALTH_SERVICE_H_
#define VIGIL_HEALTH_GRPC_HEALTH_SERVICE_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/grpc/proto/health.grpc.pb.h"
#include "health/registry.h"

namespace vigil {
namespace grpc_health {

namespace internal {
class WatchHub;
}  // namespace internal

struct HealthServiceOptions {
  // Watch streams open at once; one more is refused with
  // RESOURCE_EXHAUSTED. Bounds the memory watchers can take. >= 1.
  int max_watch_streams = 1000;
};

// Counters since Create().
struct HealthServiceStats {
  int64_t open_watches = 0;
  uint64_t checks = 0;
  uint64_t lists = 0;
  uint64_t watches = 0;          // Watch calls accepted.
  uint64_t watches_refused = 0;  // Over max_watch_streams.
  uint64_t watch_messages = 0;   // Statuses written on Watch streams.
  // Statuses replaced by a newer one before a slow stream could send them.
  uint64_t watch_coalesced = 0;
};

class HealthService final : public ::grpc::health::v1::Health::CallbackService {
 public:
  // `registry` is not owned. InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<HealthService>> Create(
      HealthRegistry* registry, HealthServiceOptions options = {});

  // Completes any Watch stream still open (CompleteWatches()) and joins the
  // notifier thread.
  ~HealthService() override;

  // Drain's last step: every open Watch stream is sent its latest status and
  // completed with OK, and every later Watch gets its status and is
  // completed at once; Check and List keep answering. Returns true when
  // every stream has finished, false after `timeout` (real time).
  bool CompleteWatches(absl::Duration timeout = absl::Seconds(1));

  // Re-reads the latest snapshot for every Watch stream. The registry's
  // listener does this on every transition; call it after something that
  // changes an answer without a transition (BeginShutdown() while readiness
  // already failed: "" turns NOT_SERVING). HealthServer::Shutdown() does.
  void RefreshWatches();

  HealthServiceStats stats() const;

  // grpc.health.v1.Health.
  ::grpc::ServerUnaryReactor* Check(
      ::grpc::CallbackServerContext* context,
      const ::grpc::health::v1::HealthCheckRequest* request,
      ::grpc::health::v1::HealthCheckResponse* response) override;
  ::grpc::ServerUnaryReactor* List(
      ::grpc::CallbackServerContext* context,
      const ::grpc::health::v1::HealthListRequest* request,
      ::grpc::health::v1::HealthListResponse* response) override;
  ::grpc::ServerWriteReactor<::grpc::health::v1::HealthCheckResponse>* Watch(
      ::grpc::CallbackServerContext* context,
      const ::grpc::health::v1::HealthCheckRequest* request) override;

 private:
  HealthService(HealthRegistry* registry, HealthServiceOptions options);

  HealthRegistry* const registry_;
  const HealthServiceOptions options_;
  // Shared with the registry's listener, which may outlive the service.
  const std::shared_ptr<internal::WatchHub> hub_;
};

}  // namespace grpc_health
}  // namespace vigil

#endif  // VIGIL_HEALTH_GRPC_HEALTH_SERVICE_H_
