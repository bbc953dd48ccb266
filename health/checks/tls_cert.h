// TlsCertCheck: is a TLS certificate far enough from expiry, and does its
// chain verify?
//
// Two sources:
//   - `pem_file`: a PEM file holding the certificate first, then any
//     intermediates (a key block in the same file is ignored). Read on every
//     run, so a renewed certificate is picked up.
//   - `address`: "host:port" of a TLS server; the check connects, sends SNI
//     (`server_name`, default the host when it is a name) and inspects the
//     chain the server presents.
// Then, with `now` from the injected clock:
//   UNHEALTHY "certificate expired 3 days ago (not after 2026-...)"
//   UNHEALTHY "certificate not valid before ..."
//   UNHEALTHY "chain does not verify: unable to get local issuer certificate"
//             (reason "verify"; against `ca_file` or the system store; also
//             host name mismatch when a name is checked)
//   DEGRADED  "certificate expires in 5 days (not after ...)" within
//             `warn_before`
//   HEALTHY   "certificate expires in 89 days (not after ...)"
// The soonest expiry of any certificate in the presented chain counts (an
// intermediate expiring first is named in the message). Network failures
// while fetching a remote chain are UNHEALTHY with the usual reasons
// (refused, timed_out, ...).
// observed value: days left (fractional; unit "days"), warn_threshold =
// warn_before in days, critical_threshold = 0. details: "subject",
// "issuer", "not_after" (RFC 3339), "days_left" (whole days, truncated),
// "chain_length", and "expiring" (subject of the soonest-expiring
// certificate).
//
//   absl::StatusOr<vigil::Check> c = vigil::checks::TlsCertCheck(
//       {.address = "example.internal:443", .warn_before = absl::Hours(24 *
//       21)});
//   absl::StatusOr<vigil::Check> f = vigil::checks::TlsCertCheck(
//       {.pem_file = "/etc/ssl/private/site.pem"});

#ifndef VIGIL_HEALTH_CHECKS_TLS_CERT_H_
#define VIGIL_HEALTH_CHECKS_TLS_CERT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

struct TlsCertCheckOptions {
  // Exactly one of `pem_file` and `address`.
  std::string pem_file = {};
  std::string address = {};
  // Remote: the SNI name, and the name the certificate must match when
  // `verify_chain` is on. Default: the host of `address` (IP literals are
  // matched as IP addresses and send no SNI). File: the name to match, if
  // any (empty = no name check).
  std::string server_name = {};
  // DEGRADED when the soonest expiry is closer than this. >= 0.
  absl::Duration warn_before = absl::Hours(24 * 14);
  // Verify the chain (and name) against `ca_file` or the system store.
  bool verify_chain = true;
  // PEM file of trusted CAs; empty = the system's store. Must load at
  // construction.
  std::string ca_file = {};
  // The check's name; default "tls:<address>" or "tls:<pem_file>" (the end
  // of the path when it is long).
  std::string name = {};
  AddressFamily family = AddressFamily::kAny;
  CheckOptions check = DependencyCheckOptions();
  // Time source for expiry arithmetic, verification time, and deadlines.
  // Not owned; nullptr = real.
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming the field: "pem_file/address"
// (neither or both), "pem_file" (unreadable, no certificate, malformed
// PEM), "address", "server_name", "warn_before", "ca_file", or a
// CheckOptions field.
absl::StatusOr<Check> TlsCertCheck(TlsCertCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TLS_CERT_H_
