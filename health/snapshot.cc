#include "health/snapshot.h"

#include <algorithm>

namespace vigil {

bool CheckSnapshot::InGroup(absl::string_view group) const {
  if (group == kAllGroup) return true;
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

Status Aggregate(const std::vector<const CheckSnapshot*>& checks) {
  Status worst = Status::kHealthy;
  for (const CheckSnapshot* c : checks) {
    const Status s = c->result.status;
    if (c->critical) {
      worst = Worse(worst, s);
    } else if (s == Status::kDegraded || s == Status::kUnhealthy) {
      worst = Worse(worst, Status::kDegraded);
    }
  }
  return worst;
}

const CheckSnapshot* Snapshot::FindCheck(absl::string_view name) const {
  auto it = std::lower_bound(
      checks.begin(), checks.end(), name,
      [](const CheckSnapshot& c, absl::string_view n) { return c.name < n; });
  if (it == checks.end() || it->name != name) return nullptr;
  return &*it;
}

const GroupSnapshot* Snapshot::FindGroup(absl::string_view name) const {
  auto it = std::lower_bound(
      groups.begin(), groups.end(), name,
      [](const GroupSnapshot& g, absl::string_view n) { return g.name < n; });
  if (it == groups.end() || it->name != name) return nullptr;
  return &*it;
}

Status Snapshot::overall() const {
  const GroupSnapshot* all = FindGroup(kAllGroup);
  return all == nullptr ? Status::kUnknown : all->status;
}

GroupSnapshot Snapshot::AggregateGroup(
    absl::string_view group,
    const absl::flat_hash_set<std::string>& exclude) const {
  GroupSnapshot out;
  out.name = std::string(group);
  std::vector<const CheckSnapshot*> members;
  for (const CheckSnapshot& c : checks) {
    if (!c.InGroup(group) || exclude.contains(c.name)) continue;
    members.push_back(&c);
    out.checks.push_back(c.name);
  }
  out.status = GateGroup(group, Aggregate(members), startup_complete,
                         shutting_down, &out.reason);
  return out;
}

Status GateGroup(absl::string_view group, Status aggregated,
                 bool startup_complete, bool shutting_down,
                 std::string* reason) {
  if (group != kReadiness) return aggregated;
  const char* why = nullptr;
  if (shutting_down) {
    why = "shutting down";
  } else if (!startup_complete) {
    why = "startup not complete";
  }
  if (why == nullptr) return aggregated;
  if (reason != nullptr) *reason = why;
  return Status::kUnhealthy;
}

}  // namespace vigil
