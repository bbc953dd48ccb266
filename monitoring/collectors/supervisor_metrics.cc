#include "monitoring/collectors/supervisor_metrics.h"

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "watchdog/supervisor.h"

namespace vigil {

void WriteSupervisorMetrics(http::PrometheusWriter& writer) {
  writer.Gauge("vigil_supervisor_supervised",
               "1 when this process runs under vigil's supervisor, else 0.",
               IsSupervised() ? 1 : 0);
  writer.Counter("vigil_supervisor_restarts_total",
                 "Restarts of the service by its supervisor before this "
                 "process started.",
                 RestartCount());
  const std::optional<Incident> incident = LastIncident();
  if (!incident || incident->time == absl::InfinitePast()) return;
  if (writer.BeginFamily("vigil_supervisor_last_incident_timestamp_seconds",
                         http::MetricType::kGauge,
                         "When the previous child died, Unix seconds, by "
                         "cause.")) {
    const std::string cause(IncidentCauseName(incident->cause));
    writer.Add({{"cause", cause}},
               absl::ToDoubleSeconds(incident->time - absl::UnixEpoch()));
  }
}

}  // namespace vigil
