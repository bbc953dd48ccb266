// Composition helpers: one check made of several, and making any check
// non-critical.
//
//   // Ready only if both the primary database and the cache answer.
//   auto all = vigil::checks::AllOf("storage", {*pg, *redis});
//   // Ready if at least one replica of the upstream answers.
//   auto any = vigil::checks::AnyOf("search", {*replica1, *replica2});
//   // A failing recommendation service degrades readiness but never fails it.
//   vigil::Check soft = vigil::checks::NonCritical(*recommendations);
//
// The children of a composite run one after another on the composite's
// worker, each bounded by the earlier of its own timeout and the composite's
// deadline (give the composite a timeout that covers them). Only a child's
// `function`, `name`, `options.timeout` and `options.critical` are used; its
// schedule and groups are the composite's. A child that throws counts as
// UNHEALTHY with the exception's message; the composite never throws.

#ifndef VIGIL_HEALTH_CHECKS_COMPOSE_H_
#define VIGIL_HEALTH_CHECKS_COMPOSE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/common.h"

namespace vigil {
namespace checks {

// Healthy when every child is. Aggregated like a group: the worst status of
// the critical children (UNKNOWN counts as UNHEALTHY); a failing
// non-critical child makes it DEGRADED at most. Message: "3 of 3 passing"
// or "1 of 3 failing: postgres: connection refused (...)". details
// "<child>.status" and "<child>.message" for each child.
//
// `options.kind` is raised to kDependency when any child is a dependency.
// InvalidArgument for an invalid name, no children, a child without name
// or function, duplicate child names, or an invalid `options` field.
absl::StatusOr<Check> AllOf(std::string name, std::vector<Check> checks,
                            CheckOptions options = DependencyCheckOptions());

// Healthy when at least one child is HEALTHY (children run in order until
// one is; later ones are skipped); otherwise DEGRADED if one is DEGRADED;
// UNHEALTHY when all fail ("all 2 failing: a: ...; b: ..."). Children's
// criticality is ignored. Errors as for AllOf.
absl::StatusOr<Check> AnyOf(std::string name, std::vector<Check> checks,
                            CheckOptions options = DependencyCheckOptions());

// `check` with `options.critical = false`: when it fails, its groups turn
// DEGRADED, never UNHEALTHY.
Check NonCritical(Check check);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_COMPOSE_H_
