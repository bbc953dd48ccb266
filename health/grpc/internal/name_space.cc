#include "health/grpc/internal/name_space.h"

namespace vigil {
namespace grpc_health {
namespace internal {

std::optional<Serving> Resolve(const Snapshot& snapshot,
                               absl::string_view service) {
  if (service.empty() || service == kAllGroup) {
    return OverallServing(snapshot.overall(), snapshot.shutting_down);
  }
  if (const GroupSnapshot* g = snapshot.FindGroup(service)) {
    return ToServing(g->status);
  }
  if (const CheckSnapshot* c = snapshot.FindCheck(service)) {
    return ToServing(c->result.status);
  }
  return std::nullopt;
}

size_t ListSize(const Snapshot& snapshot) {
  const bool has_all = snapshot.FindGroup(kAllGroup) != nullptr;
  return 1 + snapshot.groups.size() - (has_all ? 1 : 0) +
         snapshot.checks.size();
}

std::vector<std::pair<std::string, Serving>> ListAll(const Snapshot& snapshot) {
  std::vector<std::pair<std::string, Serving>> out;
  out.reserve(ListSize(snapshot));
  out.emplace_back("",
                   OverallServing(snapshot.overall(), snapshot.shutting_down));
  for (const GroupSnapshot& g : snapshot.groups) {
    if (g.name != kAllGroup) out.emplace_back(g.name, ToServing(g.status));
  }
  for (const CheckSnapshot& c : snapshot.checks) {
    out.emplace_back(c.name, ToServing(c.result.status));
  }
  return out;
}

}  // namespace internal
}  // namespace grpc_health
}  // namespace vigil
