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
  out.status = Aggregate(members);
  if (group == kReadiness) {
    if (shutting_down) {
      out.status = Status::kUnhealthy;
      out.reason = "shutting down";
    } else if (!startup_complete) {
      out.status = Status::kUnhealthy;
      out.reason = "startup not complete";
    }
  }
  return out;
}

}  // namespace vigil
