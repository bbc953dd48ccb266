// DnsCheck: does a name resolve, to enough addresses, in time?
//
// Resolves `hostname` with the system resolver (getaddrinfo(3): /etc/hosts,
// DNS, whatever nsswitch.conf says). getaddrinfo cannot be cancelled, so the
// lookup runs on a helper thread owned by the check and the run gives up at
// its deadline: a DNS server that never answers makes the check report
// "timed out after ... resolving <name>" on time, never blocking the
// registry worker. A lookup still stuck from an earlier run is joined by the
// next run for the same name rather than started again, and at most a few
// lookups wait at once ("resolver busy").
//
// Results:
//   HEALTHY   "db.internal resolved to 2 addresses in 1.2ms"
//   UNHEALTHY "name not found: db.internal"           (reason "resolve")
//             "temporary failure resolving ..."        ("resolve_again")
//             "timed out after 900ms resolving ..."    ("timed_out")
//             "resolved to 1 address, expected at least 2" ("too_few")
// observed value: the number of addresses (unit "addresses"), with
// critical_threshold = min_addresses; details: "addresses" (up to 16,
// comma-separated), "latency_ms".
//
//   absl::StatusOr<vigil::Check> c = vigil::checks::DnsCheck(
//       {.hostname = "db.internal", .min_addresses = 2});

#ifndef VIGIL_HEALTH_CHECKS_DNS_H_
#define VIGIL_HEALTH_CHECKS_DNS_H_

#include <string>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

struct DnsCheckOptions {
  // Required. A DNS name (IP literals are accepted and resolve to
  // themselves).
  std::string hostname = {};
  // At least this many distinct addresses. >= 1.
  int min_addresses = 1;
  AddressFamily family = AddressFamily::kAny;
  // The check's name; default "dns:<hostname>".
  std::string name = {};
  CheckOptions check = DependencyCheckOptions();
  // Time source for deadlines and latency. Not owned; nullptr = real.
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming "hostname" or "min_addresses"
// or a CheckOptions field.
absl::StatusOr<Check> DnsCheck(DnsCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_DNS_H_
