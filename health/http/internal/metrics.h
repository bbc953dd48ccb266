// vigil's own Prometheus metric families, written from a Snapshot.
//
// /metrics (HealthEndpoints) calls this, then the registered collectors.
// Not part of vigil's API: users get these families from
// HealthEndpoints::RenderMetrics() (README "/metrics" lists them).
//
// Families (all gauges unless marked counter; every check sample carries a
// `check` label, every group sample a `group` label):
//
//   vigil_build_info{service,version,instance,vigil_version}   always 1
//   vigil_process_start_time_seconds      service start, Unix seconds
//   vigil_startup_complete                1 once every startup check passed
//   vigil_shutting_down                   1 after BeginShutdown() (draining)
//   vigil_snapshot_timestamp_seconds      when the snapshot was published
//   vigil_group_status{group,state}       1 for the group's current state,
//                                         0 for the other three
//   vigil_group_passing{group}            1 when a probe of it answers 200
//   vigil_check_info{check,kind,critical,groups}   always 1
//   vigil_check_status{check,state}       1 for the current state, 0 others
//   vigil_check_passing{check}            1 for HEALTHY or DEGRADED
//   vigil_check_last_duration_seconds     duration of the last completed run
//   vigil_check_last_run_timestamp_seconds   end of the last run (once run)
//   vigil_check_consecutive_failures      failing runs in a row
//   vigil_check_time_in_state_seconds     time since the status last changed
//   vigil_check_timed_out                 1 while a run is stuck past timeout
//   vigil_check_runs_total (counter)      completed runs since registration
// With details allowed (see DetailsAllowed), when the check reports them:
//   vigil_check_observed_value{check,unit}
//   vigil_check_warn_threshold{check,unit}
//   vigil_check_critical_threshold{check,unit}
//   vigil_check_time_to_exhaustion_seconds
//
// Status encoding: `state` is one of "unknown", "healthy", "degraded",
// "unhealthy" (a state set: exactly one of the four is 1), so alerts read
// `vigil_check_status{state="unhealthy"} == 1` with no magic numbers;
// `*_passing` is what a probe answers (200 = 1, 503 = 0).

#ifndef VIGIL_HEALTH_HTTP_INTERNAL_METRICS_H_
#define VIGIL_HEALTH_HTTP_INTERNAL_METRICS_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/http/prometheus.h"
#include "health/registry.h"
#include "health/snapshot.h"
#include "health/version.h"

namespace vigil {
namespace http {
namespace internal {

struct HealthMetricsOptions {
  // Include the detail families (observed values, thresholds, time to
  // exhaustion).
  bool details = false;
  // The vigil_version label of vigil_build_info.
  absl::string_view vigil_version = kVersion;
};

// Writes the families above for `snapshot`. `now` (on the registry's clock)
// is used for time in state. Pure; thread-compatible.
void WriteHealthMetrics(const Snapshot& snapshot,
                        const ServiceIdentity& service, absl::Time now,
                        const HealthMetricsOptions& options,
                        PrometheusWriter& writer);

}  // namespace internal
}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_INTERNAL_METRICS_H_
