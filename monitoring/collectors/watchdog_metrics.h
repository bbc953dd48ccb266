// Watchdog metrics: a Watchdog's event counters and each heartbeat's
// silence (watchdog/watchdog.h) as Prometheus families for /metrics.
//
//   vigil_watchdog_events_total              events delivered since the
//     {event="miss|long_miss|kill|            Watchdog started (counter)
//             kill_suppressed|recovered"}
//   vigil_watchdog_heartbeat_silence_seconds how long each registered
//     {heartbeat="<name>"}                    heartbeat has been silent, as
//                                             the monitor last measured it
//
// Its own target because it joins two packages that must not depend on
// each other (watchdog/ and health/http/).
//
//   vigil::Watchdog watchdog;
//   endpoints->AddMetricsCollector(
//       [&watchdog](vigil::http::PrometheusWriter& w, bool) {
//         vigil::WriteWatchdogMetrics(watchdog, w);
//       });

#ifndef VIGIL_MONITORING_COLLECTORS_WATCHDOG_METRICS_H_
#define VIGIL_MONITORING_COLLECTORS_WATCHDOG_METRICS_H_

#include "health/http/prometheus.h"
#include "watchdog/watchdog.h"

namespace vigil {

// Appends the families above to `writer`. Reads Watchdog::counters()
// (lock-free) and Watchdog::Statuses() (one short lock of the watchdog,
// never held by its listeners or stack captures): safe from any thread, and
// cheap enough for every scrape. `watchdog` is only read during the call.
void WriteWatchdogMetrics(const Watchdog& watchdog,
                          http::PrometheusWriter& writer);

}  // namespace vigil

#endif  // VIGIL_MONITORING_COLLECTORS_WATCHDOG_METRICS_H_
