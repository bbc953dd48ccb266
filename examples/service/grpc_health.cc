#include "examples/service/grpc_health.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace vigil_example {

std::unique_ptr<vigil::grpc_health::HealthServer> StartGrpcHealth(
    vigil::HealthRegistry& registry, const std::string& address, int port) {
  if (port < 0) return nullptr;
  vigil::grpc_health::HealthServerOptions options;
  options.address = address;
  options.port = port;
  auto server = vigil::grpc_health::HealthServer::Start(&registry, options);
  if (!server.ok()) {
    std::fprintf(stderr, "vigil-example: --grpc_port: %s\n",
                 server.status().ToString().c_str());
    std::exit(1);
  }
  const bool v6 = address.find(':') != std::string::npos;
  std::printf("vigil-example: grpc=%s%s%s:%d\n", v6 ? "[" : "", address.c_str(),
              v6 ? "]" : "", (*server)->port());
  std::printf(
      "gRPC health (grpc.health.v1) -- e.g. grpc_health_probe "
      "-addr=%s%s%s:%d -service=readiness\n",
      v6 ? "[" : "", address.c_str(), v6 ? "]" : "", (*server)->port());
  std::fflush(stdout);
  return *std::move(server);
}

}  // namespace vigil_example
