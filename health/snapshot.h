// Snapshot: an immutable picture of every check and group at one moment.
//
// A `HealthRegistry` publishes a new Snapshot whenever a result changes;
// readers take a `std::shared_ptr<const Snapshot>` and may keep it as long as
// they like. Everything in it is plain data: no locks, no callbacks.
//
//   std::shared_ptr<const vigil::Snapshot> s = registry.snapshot();
//   if (const vigil::CheckSnapshot* c = s->FindCheck("postgres")) {
//     std::cout << vigil::StatusName(c->result.status) << " " <<
//         c->result.message;
//   }

#ifndef VIGIL_HEALTH_SNAPSHOT_H_
#define VIGIL_HEALTH_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/internal/shared_list.h"
#include "health/status.h"

namespace vigil {

// The published state of one check.
struct CheckSnapshot {
  std::string name;
  CheckKind kind = CheckKind::kSelf;
  bool critical = true;
  std::vector<std::string> groups;
  // The reported result: after flap damping, so `result.status` is what the
  // groups aggregate. UNKNOWN until the first run completes.
  CheckResult result;
  // End of the last completed run (or when a timeout was declared);
  // absl::InfinitePast() before the first.
  absl::Time last_run_time = absl::InfinitePast();
  absl::Duration last_duration = absl::ZeroDuration();
  // Raw runs in a row that failed (UNHEALTHY) / passed, latest included.
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  // Since when `result.status` has been what it is.
  absl::Time state_since = absl::InfinitePast();
  // True while a run is still in flight past its timeout.
  bool timed_out = false;
  // Completed runs since registration.
  uint64_t run_count = 0;
  // The check's configured thresholds, for reports.
  int failure_threshold = 1;
  int success_threshold = 1;
  absl::Duration interval = absl::ZeroDuration();
  absl::Duration timeout = absl::ZeroDuration();

  bool InGroup(absl::string_view group) const;
};

// The aggregate of one group.
struct GroupSnapshot {
  std::string name;
  Status status = Status::kHealthy;
  // Non-empty when the group fails for a reason beyond its checks:
  // "startup not complete", "shutting down".
  std::string reason;
  // Names of the checks aggregated, sorted.
  std::vector<std::string> checks;
};

// Aggregates `checks` the vigil way: the worst status of the critical checks
// (UNKNOWN counts as worse than DEGRADED: a check that never ran does not
// pass); a non-critical check that is DEGRADED or UNHEALTHY makes the result
// at least DEGRADED, never UNHEALTHY. No checks at all is HEALTHY.
Status Aggregate(const std::vector<const CheckSnapshot*>& checks);

// Readiness's extra rules on top of Aggregate(): it fails while shutting down
// ("shutting down") and until startup is complete ("startup not complete").
// Other groups are returned unchanged. Sets `*reason` (may be nullptr).
Status GateGroup(absl::string_view group, Status aggregated,
                 bool startup_complete, bool shutting_down,
                 std::string* reason);

// Every check and group as published at one moment, immutable once
// published: HealthRegistry::snapshot() returns the latest as a
// `std::shared_ptr<const Snapshot>`, which the reader owns a share of and may
// keep, and read from any thread without a lock, for as long as it likes
// (later publications do not change it). Successive snapshots share the
// entries that did not change, so holding an old one costs little.
//
// `checks` and `groups` are read-only random-access lists of `const
// CheckSnapshot&` / `const GroupSnapshot&`: iterate them (range-for,
// begin()/end()), index them (operator[], size(), empty(), front(), back()),
// or look up by name with FindCheck() / FindGroup(). Their type is an
// implementation detail (spell it `auto`); push_back() on them is for code
// that assembles a Snapshot itself, such as tests.
struct Snapshot {
  // When this snapshot was published, on the registry's clock.
  absl::Time time = absl::InfinitePast();
  // Increases by one with every publication.
  uint64_t generation = 0;
  // Every startup check has passed at least once (latched).
  bool startup_complete = false;
  // BeginShutdown() was called: readiness fails while the process drains.
  bool shutting_down = false;
  // Every registered check, sorted by name.
  internal::SharedList<CheckSnapshot> checks;
  // kLiveness, kReadiness, kStartup, kAllGroup and every custom group that
  // has checks, sorted by name.
  internal::SharedList<GroupSnapshot> groups;

  // nullptr when absent. O(log n).
  const CheckSnapshot* FindCheck(absl::string_view name) const;
  const GroupSnapshot* FindGroup(absl::string_view name) const;

  // The status of the kAllGroup pseudo-group: what /healthz reports.
  Status overall() const;

  // Recomputes `group` leaving out the checks named in `exclude`, with the
  // same readiness gating (startup, drain) as the published groups.
  // Excluded names that are not in the group are ignored here; callers that
  // must report them (the HTTP layer) compare against `checks`.
  GroupSnapshot AggregateGroup(
      absl::string_view group,
      const absl::flat_hash_set<std::string>& exclude = {}) const;
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_SNAPSHOT_H_
