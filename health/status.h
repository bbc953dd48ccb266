// Health status: the four states every check, group and report is in.
//
// `Status` is ordered by how bad it is for aggregation purposes:
// HEALTHY < DEGRADED < UNKNOWN < UNHEALTHY. "Passing" (a probe answers 200)
// means HEALTHY or DEGRADED; UNKNOWN (never evaluated) does not pass, so a
// service is not ready before its checks have run once.
//
//   if (vigil::IsPassing(registry.GroupStatus(vigil::kReadiness))) ...

#ifndef VIGIL_HEALTH_STATUS_H_
#define VIGIL_HEALTH_STATUS_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace vigil {

// The health of a check, a group or a service. Values match vigil.v1.Status.
enum class Status : uint8_t {
  kUnknown = 0,    // Not evaluated yet. Not passing.
  kHealthy = 1,    // Working. Passing.
  kDegraded = 2,   // Working, but something optional fails. Passing.
  kUnhealthy = 3,  // Not working. Not passing.
};

// "unknown", "healthy", "degraded" or "unhealthy".
absl::string_view StatusName(Status status);

// True for kHealthy and kDegraded: the state in which a probe answers 200.
constexpr bool IsPassing(Status status) {
  return status == Status::kHealthy || status == Status::kDegraded;
}

// Rank used for "worst of": HEALTHY 0, DEGRADED 1, UNKNOWN 2, UNHEALTHY 3.
constexpr int Severity(Status status) {
  switch (status) {
    case Status::kHealthy:
      return 0;
    case Status::kDegraded:
      return 1;
    case Status::kUnknown:
      return 2;
    case Status::kUnhealthy:
      return 3;
  }
  return 3;
}

// The worse of two statuses by Severity().
constexpr Status Worse(Status a, Status b) {
  return Severity(a) >= Severity(b) ? a : b;
}

// The well-known groups. Any other string is a custom group.
inline constexpr absl::string_view kLiveness = "liveness";
inline constexpr absl::string_view kReadiness = "readiness";
inline constexpr absl::string_view kStartup = "startup";
// The pseudo-group of every check (what /healthz reports).
inline constexpr absl::string_view kAllGroup = "all";

}  // namespace vigil

#endif  // VIGIL_HEALTH_STATUS_H_
