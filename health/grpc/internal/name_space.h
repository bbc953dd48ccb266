// The grpc.health.v1 name space over a Snapshot: which status a service
// name stands for. Internal to health/grpc; no gRPC dependency.
//
//   ""                         the overall status (the kAllGroup group), and
//                              NOT_SERVING from BeginShutdown() on;
//   "all"                      the same as "" (kAllGroup);
//   a group name               that group: liveness, readiness, startup, or a
//                              custom group of a registered check;
//   a check name               that check.
// Groups and checks never share a name: the registry refuses a collision at
// registration (HealthRegistry::Register). Status mapping (docs/DESIGN.md):
// HEALTHY and DEGRADED -> SERVING, UNHEALTHY -> NOT_SERVING, UNKNOWN ->
// UNKNOWN.

#ifndef VIGIL_HEALTH_GRPC_INTERNAL_NAME_SPACE_H_
#define VIGIL_HEALTH_GRPC_INTERNAL_NAME_SPACE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "health/snapshot.h"
#include "health/status.h"

namespace vigil {
namespace grpc_health {
namespace internal {

// grpc.health.v1.HealthCheckResponse.ServingStatus, by value.
enum class Serving : uint8_t {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3,
};

constexpr Serving ToServing(Status status) {
  switch (status) {
    case Status::kHealthy:
    case Status::kDegraded:
      return Serving::kServing;
    case Status::kUnhealthy:
      return Serving::kNotServing;
    case Status::kUnknown:
      break;
  }
  return Serving::kUnknown;
}

// The overall status as served for "": NOT_SERVING while shutting down.
constexpr Serving OverallServing(Status overall, bool shutting_down) {
  return shutting_down ? Serving::kNotServing : ToServing(overall);
}

// The status `service` stands for in `snapshot`; nullopt when no group or
// check has that name.
std::optional<Serving> Resolve(const Snapshot& snapshot,
                               absl::string_view service);

// List's published limit on the number of services returned.
inline constexpr size_t kMaxListEntries = 100;

// How many names List would return: "", every group but kAllGroup (an
// alias of ""), every check.
size_t ListSize(const Snapshot& snapshot);

// Those names with their statuses, in that order.
std::vector<std::pair<std::string, Serving>> ListAll(const Snapshot& snapshot);

}  // namespace internal
}  // namespace grpc_health
}  // namespace vigil

#endif  // VIGIL_HEALTH_GRPC_INTERNAL_NAME_SPACE_H_
