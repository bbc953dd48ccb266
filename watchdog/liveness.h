// The watchdog as a liveness check in a HealthRegistry.
//
// A heartbeat past its kill threshold means the process is not doing its
// job: liveness turns UNHEALTHY naming the thread, so an orchestrator that
// probes /livez (Kubernetes, a load balancer, systemd through
// SystemdNotifier) sees the same verdict as the watchdog.
//
//   vigil::Watchdog watchdog;
//   vigil::HealthRegistry registry;
//   if (absl::Status s = vigil::RegisterWatchdogLiveness(registry, watchdog);
//       !s.ok()) ...

#ifndef VIGIL_WATCHDOG_LIVENESS_H_
#define VIGIL_WATCHDOG_LIVENESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/registry.h"
#include "watchdog/watchdog.h"

namespace vigil {

struct WatchdogLivenessOptions {
  std::string name = "watchdog";
  // How often the registry re-reads the watchdog (a cheap copy under a
  // lock; no I/O). Also the check's timeout.
  absl::Duration interval = absl::Seconds(1);
};

// A `Check` (kind self, group liveness, critical, failure threshold 1: the
// watchdog already waited out the kill threshold) that is UNHEALTHY while any
// heartbeat of `watchdog` is at its kill stage:
//   "heartbeat \"worker\" (thread 1234 \"worker\") silent for 5.2s, past its
//    kill threshold 5s"
// with observed_value = the longest silence in seconds and
// critical_threshold = that heartbeat's kill threshold. HEALTHY otherwise,
// with "3 heartbeats within their deadlines" (details name any heartbeat in
// a lesser stage). `watchdog` is not owned and must outlive the check (and so
// the registry it is registered with).
Check WatchdogLivenessCheck(const Watchdog& watchdog,
                            WatchdogLivenessOptions options = {});

// Registers WatchdogLivenessCheck with `registry`. Errors as
// HealthRegistry::Register.
absl::Status RegisterWatchdogLiveness(HealthRegistry& registry,
                                      const Watchdog& watchdog,
                                      WatchdogLivenessOptions options = {});

}  // namespace vigil

#endif  // VIGIL_WATCHDOG_LIVENESS_H_
