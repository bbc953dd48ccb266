// The example service's gRPC health port: grpc.health.v1 (Check, Watch,
// List) from the same registry as the HTTP probes, on a dedicated
// vigil::grpc_health::HealthServer (--grpc_port; off by default).

#ifndef VIGIL_EXAMPLES_SERVICE_GRPC_HEALTH_H_
#define VIGIL_EXAMPLES_SERVICE_GRPC_HEALTH_H_

#include <memory>
#include <string>

#include "health/grpc/health_server.h"
#include "health/registry.h"

namespace vigil_example {

// Starts the gRPC health server on `address`:`port` and prints
// "vigil-example: grpc=HOST:PORT" (tests read the port from it). nullptr
// when `port` is negative (disabled). Exits the process (status 1) when it
// cannot listen.
std::unique_ptr<vigil::grpc_health::HealthServer> StartGrpcHealth(
    vigil::HealthRegistry& registry, const std::string& address, int port);

}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_GRPC_HEALTH_H_
