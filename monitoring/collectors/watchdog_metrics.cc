#include "monitoring/collectors/watchdog_metrics.h"

#include <cstdint>
#include <utility>

#include "absl/time/time.h"

namespace vigil {

void WriteWatchdogMetrics(const Watchdog& watchdog,
                          http::PrometheusWriter& writer) {
  const WatchdogCounters c = watchdog.counters();
  if (writer.BeginFamily("vigil_watchdog_events_total",
                         http::MetricType::kCounter,
                         "Watchdog escalations and recoveries since start.")) {
    const std::pair<const char*, uint64_t> events[] = {
        {"miss", c.misses},
        {"long_miss", c.long_misses},
        {"kill", c.kills},
        {"kill_suppressed", c.kills_suppressed},
        {"recovered", c.recoveries}};
    for (const auto& [event, count] : events) {
      writer.Add({{"event", event}}, static_cast<double>(count));
    }
  }
  if (writer.BeginFamily("vigil_watchdog_heartbeat_silence_seconds",
                         http::MetricType::kGauge,
                         "How long each heartbeat has been silent.")) {
    for (const HeartbeatStatus& h : watchdog.Statuses()) {
      writer.Add({{"heartbeat", h.name}}, absl::ToDoubleSeconds(h.silent_for));
    }
  }
}

}  // namespace vigil
