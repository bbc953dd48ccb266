// TcpCheck: can a TCP connection to host:port be opened in time?
//
// The simplest dependency check: it resolves the host (IPv4 and IPv6, names
// included, resolution bounded by the run's deadline), connects, and closes
// the connection at once. It tells apart:
//   - "connection refused"   (nothing listens; details["reason"] = "refused")
//   - "network/host unreachable"          (reason "unreachable")
//   - "timed out after ... connecting"    (reason "timed_out": a firewall
//     dropping packets, a full accept queue, a hung host)
//   - "name not found" / "temporary failure resolving"
//     (reasons "resolve", "resolve_again"), resolution "timed out".
// On success: HEALTHY "connected to 127.0.0.1:5432 in 0.4ms", the connect
// latency as observed value (seconds) and details["address"] (the address
// that answered) and ["latency_ms"].
//
//   absl::StatusOr<vigil::Check> c = vigil::checks::TcpCheck(
//       {.address = "db.internal:5432"});
//
// Thread safety: the returned Check may be copied; copies share one resolver
// helper thread (started on the first name lookup, joined when the last copy
// is destroyed, which waits for a lookup in progress).

#ifndef VIGIL_HEALTH_CHECKS_TCP_H_
#define VIGIL_HEALTH_CHECKS_TCP_H_

#include <string>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

struct TcpCheckOptions {
  // Required. "host:port": a DNS name, an IPv4 address, or an IPv6 address
  // in brackets ("[::1]:6379").
  std::string address = {};
  // The check's name; default "tcp:<address>".
  std::string name = {};
  // Restrict resolution to IPv4 or IPv6.
  AddressFamily family = AddressFamily::kAny;
  // Schedule, timeout, groups, criticality. The connect is bounded by
  // `check.timeout` (via CheckContext::deadline).
  CheckOptions check = DependencyCheckOptions();
  // Time source for deadlines and latency. Not owned; nullptr = Clock::Real().
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming "address" (missing port, bad
// host, port out of range), "name" or a CheckOptions field.
absl::StatusOr<Check> TcpCheck(TcpCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TCP_H_
