// SelfProbeCheck: does the service's own listening port still answer?
//
// The answer to "the process is up but the port is dead" (S4: the process
// manager showed the API online while port 3000 accepted nothing). It
// connects to the service's own port on loopback and, when `path` is set,
// sends GET <path> and expects a status in [min_status, max_status]. A
// listener whose accept queue is full (serving threads stuck) or that
// accepts but never answers shows up as "timed out"; a closed listener as
// "connection refused".
//
// Defaults: name "self-probe", kind kSelf, group liveness (it probes the
// process itself, so it may join liveness; keep its timeout and
// failure_threshold forgiving so a burst of load does not restart the
// process). Results and details are those of TcpCheck or HttpCheck.
//
//   // The port is known only after the server bound port 0:
//   absl::StatusOr<vigil::Check> c = vigil::checks::SelfProbeCheck({
//       .port_fn = [&] { return server.port(); }, .path = "/ping"});

#ifndef VIGIL_HEALTH_CHECKS_SELF_PROBE_H_
#define VIGIL_HEALTH_CHECKS_SELF_PROBE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

// CheckOptions for a self-probe: kind kSelf, groups {liveness}.
CheckOptions SelfProbeDefaults();

struct SelfProbeCheckOptions {
  // The port: `port_fn` if set (called on every run; a value outside
  // 1..65535 means "not listening yet" and is UNHEALTHY), else `port`.
  int port = 0;
  std::function<int()> port_fn = {};
  // Loopback address to connect to: "127.0.0.1" or "::1" (or another local
  // address the service listens on).
  std::string host = "127.0.0.1";
  // Empty: connect only. Otherwise an HTTP path ("/ping") to GET.
  std::string path = {};
  int min_status = 200;
  int max_status = 399;
  // HTTP over TLS. Verification is off by default (a service's own
  // certificate is usually not issued for 127.0.0.1).
  bool https = false;
  bool verify_tls = false;
  std::string ca_file = {};
  std::string name = "self-probe";
  CheckOptions check = SelfProbeDefaults();
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming "port" (neither port nor
// port_fn, or port out of range), "host", "path" (must start with '/'),
// "min_status"/"max_status", "ca_file", or a CheckOptions field.
absl::StatusOr<Check> SelfProbeCheck(SelfProbeCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_SELF_PROBE_H_
