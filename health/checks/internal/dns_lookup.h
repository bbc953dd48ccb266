// Internal: DnsCheck with an injected lookup function, for tests that need
// a resolver that fails or hangs on demand.

#ifndef VIGIL_HEALTH_CHECKS_INTERNAL_DNS_LOOKUP_H_
#define VIGIL_HEALTH_CHECKS_INTERNAL_DNS_LOOKUP_H_

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/dns.h"
#include "health/checks/internal/net.h"

namespace vigil {
namespace checks {
namespace internal {

absl::StatusOr<Check> DnsCheckWithLookup(DnsCheckOptions options,
                                         LookupFunction lookup);

}  // namespace internal
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_INTERNAL_DNS_LOOKUP_H_
