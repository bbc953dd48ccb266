// Shared vocabulary of vigil's ready-made checks (health/checks/).
//
// Every ready-made check is a factory function that validates its options
// and returns `absl::StatusOr<vigil::Check>`: InvalidArgument naming the
// offending field for bad configuration, otherwise a `Check` ready to hand to
// `HealthRegistry::Register`. A check built this way never throws at run
// time; every failure becomes a `CheckResult` whose message says what went
// wrong in a few words ("connection refused", "timed out after 900ms
// connecting to 127.0.0.1:6379") and whose `details` carry the facts
// ("reason", "address", "latency_ms", ...). Secrets (passwords, tokens,
// request header values) never appear in names, messages or details.
//
// Options structs are plain aggregates meant for designated initializers
// (`{.address = "...", .password = ...}`); every member has a default, so
// omitted ones raise no -Wmissing-field-initializers warning.
//
// Each options struct carries a `CheckOptions check` member: the schedule,
// timeout, criticality, groups and kind of the resulting check. Checks of
// external things default to `DependencyCheckOptions()` (kind kDependency,
// group readiness: liveness must not follow dependencies).
//
// I/O inside a check is bounded by `CheckContext::deadline` (the run's start
// plus `check.timeout`), less a small margin so that the check reports its
// own, more precise, timeout before the registry declares the run stuck.
//
//   absl::StatusOr<vigil::Check> redis = vigil::checks::RedisCheck(
//       {.address = "127.0.0.1:6379"});
//   if (!redis.ok()) return redis.status();
//   registry.Register(*std::move(redis));

#ifndef VIGIL_HEALTH_CHECKS_COMMON_H_
#define VIGIL_HEALTH_CHECKS_COMMON_H_

#include "health/check.h"

namespace vigil {
namespace checks {

// CheckOptions for a check of something outside the process (a database, an
// upstream, a certificate presented by another host): kind kDependency,
// groups {readiness}, other fields at their CheckOptions defaults.
CheckOptions DependencyCheckOptions();

// CheckOptions for a check of the process itself: kind kSelf, groups
// {readiness}. Same as `CheckOptions{}`; spelled out for symmetry.
CheckOptions SelfCheckOptions();

// Which IP versions a name may resolve to.
enum class AddressFamily {
  kAny,   // IPv4 and IPv6, in the order the resolver returns them.
  kIpv4,  // A records only.
  kIpv6,  // AAAA records only.
};

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_COMMON_H_
