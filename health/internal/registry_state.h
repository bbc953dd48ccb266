// Pieces of HealthRegistry's private state, kept out of health/registry.h
// so that the public header shows the API. Not part of vigil's API.

#ifndef VIGIL_HEALTH_INTERNAL_REGISTRY_STATE_H_
#define VIGIL_HEALTH_INTERNAL_REGISTRY_STATE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "health/snapshot.h"
#include "health/status.h"

namespace vigil {
namespace internal {

// A group's members, cached between registrations.
struct GroupIndex {
  std::string name;
  std::vector<std::string> names;
  // Members by [critical][status] as last published, so the aggregate is
  // recomputed in O(1) when a member changes.
  int counts[2][4] = {};
  // Last published aggregate (nullptr after a membership change) and
  // status (kept across membership changes, for transitions).
  std::shared_ptr<const GroupSnapshot> last;
  Status last_status = Status::kUnknown;
};

// Orders the scheduler's events by time (ties by address: due runs are
// sorted by name before they are queued).
template <typename CheckState>
struct EventOrder {
  bool operator()(const std::pair<absl::Time, CheckState*>& a,
                  const std::pair<absl::Time, CheckState*>& b) const {
    if (a.first != b.first) return a.first < b.first;
    return std::less<CheckState*>()(a.second, b.second);
  }
};

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_REGISTRY_STATE_H_
