#include "health/grpc/health_server.h"

#include <arpa/inet.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "health/clock.h"

namespace vigil {
namespace grpc_health {
namespace {

// "host:port" as gRPC wants it: IPv6 in brackets. InvalidArgument for a
// non-numeric address.
absl::StatusOr<std::string> ListenAddress(const std::string& address,
                                          int port) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, address.c_str(), buf) == 1) {
    return absl::StrCat(address, ":", port);
  }
  if (inet_pton(AF_INET6, address.c_str(), buf) == 1) {
    return absl::StrCat("[", address, "]:", port);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("address: must be a numeric IPv4 or IPv6 address, got \"",
                   address, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(
    HealthRegistry* registry, HealthServerOptions options) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port: must be in [0, 65535], got ", options.port));
  }
  if (options.stop_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("stop_grace: must not be negative");
  }
  absl::StatusOr<std::string> listen =
      ListenAddress(options.address, options.port);
  if (!listen.ok()) return listen.status();
  absl::StatusOr<std::unique_ptr<HealthService>> service =
      HealthService::Create(registry, options.service);
  if (!service.ok()) return service.status();

  std::unique_ptr<HealthServer> server(
      new HealthServer(registry, options, *std::move(service)));
  ::grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(*listen, ::grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterService(server->service_.get());
  // A second server on a port in use must fail, not share it (grpc++
  // sets SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Health requests are a service name: refuse anything large.
  builder.SetMaxReceiveMessageSize(16 * 1024);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || bound == 0) {
    if (server->server_ != nullptr) server->server_->Shutdown();
    server->server_.reset();
    MutexLock lock(&server->mu_);
    server->stopped_ = true;
    return absl::UnavailableError(
        absl::StrCat("address: cannot listen on ", *listen));
  }
  server->port_ = bound;
  return server;
}

HealthServer::HealthServer(HealthRegistry* registry,
                           HealthServerOptions options,
                           std::unique_ptr<HealthService> service)
    : registry_(registry),
      options_(std::move(options)),
      service_(std::move(service)) {}

HealthServer::~HealthServer() { Stop(); }

void HealthServer::Shutdown(absl::Duration drain_delay) {
  registry_->BeginShutdown();
  // BeginShutdown() makes "" NOT_SERVING even when no group changes (then
  // there is no transition for the listener to push).
  service_->RefreshWatches();
  Clock* clock = registry_->clock();
  const absl::Time until = clock->Now() + drain_delay;
  {
    MutexLock lock(&mu_);
    clock->AwaitWithDeadline(
        &mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopped_; },
        until);
  }
  Stop();
}

void HealthServer::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  // Watch streams first: grpc::Server::Shutdown() waits for every call in
  // progress, and a Watch stream never ends on its own.
  service_->CompleteWatches(options_.stop_grace);
  server_->Shutdown(
      // gRPC takes a system_clock (wall) deadline.
      absl::ToChronoTime(Clock::Real()->WallNow() + options_.stop_grace));
  server_->Wait();
}

}  // namespace grpc_health
}  // namespace vigil
