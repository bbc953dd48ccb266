#include "health/status.h"

namespace vigil {

absl::string_view StatusName(Status status) {
  switch (status) {
    case Status::kUnknown:
      return "unknown";
    case Status::kHealthy:
      return "healthy";
    case Status::kDegraded:
      return "degraded";
    case Status::kUnhealthy:
      return "unhealthy";
  }
  return "invalid";
}

}  // namespace vigil
