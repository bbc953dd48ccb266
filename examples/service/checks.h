// The example service's checks: what "alive", "ready" and "started" mean for
// it.
//
//   (main.cc adds "watchdog" (self, liveness): the main loop's heartbeat,
//    vigil::Watchdog + vigil::RegisterWatchdogLiveness)
//   warmup       (self, startup)        a simulated cache warm-up finished
//   upstream     (dependency, readiness, critical) TCP connect to a
//                host:port (a local Redis by default), vigil::checks::TcpCheck
//   scratch-dir  (self, readiness, non-critical) a directory is writable
//   app-port     (self, liveness; main.cc registers it once the port is
//                known) the application's own port accepts TCP connections

#ifndef VIGIL_EXAMPLES_SERVICE_CHECKS_H_
#define VIGIL_EXAMPLES_SERVICE_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "health/registry.h"

namespace vigil_example {

struct CheckConfig {
  // Before this time the service is still warming up.
  absl::Time warm_at;
  std::string upstream;  // host:port
  std::string scratch_dir;
};

// Registers the three checks. Errors name the check.
absl::Status RegisterChecks(vigil::HealthRegistry& registry,
                            const CheckConfig& config);

// The self-probe: a TCP connect to `host_port`, the application's own port,
// in liveness (kind self: it is this process's own socket). A connect, not a
// request: while every application thread is busy the kernel still accepts
// into the backlog, so load never fails liveness; a closed listening socket
// does (refused). Two failures in a row, one per second.
absl::Status RegisterAppPortCheck(vigil::HealthRegistry& registry,
                                  const std::string& host_port);

// A demonstration (--demo_stuck_check): "stuck" (self, readiness,
// non-critical, timeout 500 ms, every second) whose function never returns,
// as a check that ignores its deadline would (a call with no timeout, a
// callback into a wedged library). The registry reports it UNHEALTHY when
// its deadline passes and does not run it again while it is stuck; the
// service still drains and exits on SIGTERM within the drain delay plus the
// registry's shutdown bound (the stuck run is left on its thread).
absl::Status RegisterStuckCheck(vigil::HealthRegistry& registry);

}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_CHECKS_H_
