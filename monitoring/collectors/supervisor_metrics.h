// Supervisor metrics: the restart history that watchdog/supervisor.h keeps
// in shared memory, as Prometheus families for /metrics, so the shipped
// alerts (monitoring/rules/vigil.rules.yml: VigilSupervisorRestarted,
// VigilCrashLoop, VigilSupervisorGaveUp) can see restarts across children.
//
//   vigil_supervisor_supervised                       1 under a supervisor
//   vigil_supervisor_restarts_total                   restarts before this
//                                                     child (counter: each
//                                                     child starts where the
//                                                     last one stopped)
//   vigil_supervisor_last_incident_timestamp_seconds  when the previous child
//     {cause="crashed|exited|hung|unresponsive"}      died (only after one)
//
// This is its own target because it joins two packages that must not depend
// on each other (watchdog/ and health/http/).
//
//   endpoints->AddMetricsCollector(
//       [](vigil::http::PrometheusWriter& w, bool) {
//         vigil::WriteSupervisorMetrics(w);
//       });
#ifndef VIGIL_MONITORING_COLLECTORS_SUPERVISOR_METRICS_H_
#define VIGIL_MONITORING_COLLECTORS_SUPERVISOR_METRICS_H_

#include "health/http/prometheus.h"

namespace vigil {

// Appends the families above to `writer`. Reads the supervisor's shared
// memory without a lock (RestartCount(), LastIncident()): cheap, and safe
// from any thread, before or after Supervise().
void WriteSupervisorMetrics(http::PrometheusWriter& writer);

}  // namespace vigil

#endif  // VIGIL_MONITORING_COLLECTORS_SUPERVISOR_METRICS_H_
