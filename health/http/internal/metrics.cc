#include "health/http/internal/metrics.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/str_join.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

constexpr Status kAllStates[] = {Status::kUnknown, Status::kHealthy,
                                 Status::kDegraded, Status::kUnhealthy};

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }
double UnixSeconds(absl::Time t) {
  return absl::ToDoubleSeconds(t - absl::UnixEpoch());
}

void WriteProcess(const Snapshot& snapshot, const ServiceIdentity& service,
                  const HealthMetricsOptions& options, PrometheusWriter& w) {
  if (w.BeginFamily("vigil_build_info", MetricType::kGauge,
                    "Identity of the reporting service; always 1.")) {
    w.Add({{"service", service.name},
           {"version", service.version},
           {"instance", service.instance},
           {"vigil_version", options.vigil_version}},
          1);
  }
  if (service.start_time != absl::InfinitePast()) {
    w.Gauge("vigil_process_start_time_seconds",
            "Start time of the service since the Unix epoch, in seconds.",
            UnixSeconds(service.start_time));
  }
  w.Gauge("vigil_startup_complete",
          "1 once every startup check has passed once, else 0.",
          snapshot.startup_complete ? 1 : 0);
  w.Gauge("vigil_shutting_down",
          "1 after BeginShutdown(): readiness fails while the process drains.",
          snapshot.shutting_down ? 1 : 0);
  if (snapshot.time != absl::InfinitePast()) {
    w.Gauge("vigil_snapshot_timestamp_seconds",
            "When the health snapshot was last published, Unix seconds.",
            UnixSeconds(snapshot.time));
  }
}

void WriteGroups(const Snapshot& snapshot, PrometheusWriter& w) {
  if (w.BeginFamily("vigil_group_status", MetricType::kGauge,
                    "Status of a group of checks: 1 for its current state "
                    "(unknown, healthy, degraded, unhealthy), 0 for the "
                    "others.")) {
    for (const GroupSnapshot& g : snapshot.groups) {
      for (Status s : kAllStates) {
        w.Add({{"group", g.name}, {"state", StatusName(s)}},
              g.status == s ? 1 : 0);
      }
    }
  }
  if (w.BeginFamily("vigil_group_passing", MetricType::kGauge,
                    "1 when the group passes (its probe answers 200), else "
                    "0.")) {
    for (const GroupSnapshot& g : snapshot.groups) {
      w.Add({{"group", g.name}}, IsPassing(g.status) ? 1 : 0);
    }
  }
}

// One family with a sample per check for which `value` returns a number.
void PerCheck(
    const Snapshot& snapshot, PrometheusWriter& w, absl::string_view name,
    MetricType type, absl::string_view help,
    const std::function<std::optional<double>(const CheckSnapshot&)>& value) {
  bool begun = false;
  for (const CheckSnapshot& c : snapshot.checks) {
    std::optional<double> v = value(c);
    if (!v) continue;
    if (!begun && !w.BeginFamily(name, type, help)) return;
    begun = true;
    w.Add({{"check", c.name}}, *v);
  }
}

// Like PerCheck, with the check's observed unit as a `unit` label.
void PerCheckWithUnit(
    const Snapshot& snapshot, PrometheusWriter& w, absl::string_view name,
    absl::string_view help,
    const std::function<std::optional<double>(const CheckSnapshot&)>& value) {
  bool begun = false;
  for (const CheckSnapshot& c : snapshot.checks) {
    std::optional<double> v = value(c);
    if (!v) continue;
    if (!begun && !w.BeginFamily(name, MetricType::kGauge, help)) return;
    begun = true;
    w.Add({{"check", c.name}, {"unit", c.result.observed_unit}}, *v);
  }
}

void WriteCheckIdentity(const Snapshot& snapshot, PrometheusWriter& w) {
  if (w.BeginFamily("vigil_check_info", MetricType::kGauge,
                    "Static facts about a check; always 1.")) {
    for (const CheckSnapshot& c : snapshot.checks) {
      w.Add({{"check", c.name},
             {"kind", c.kind == CheckKind::kDependency ? "dependency" : "self"},
             {"critical", c.critical ? "true" : "false"},
             {"groups", absl::StrJoin(c.groups, ",")}},
            1);
    }
  }
  if (w.BeginFamily("vigil_check_status", MetricType::kGauge,
                    "Reported status of a check: 1 for its current state "
                    "(unknown, healthy, degraded, unhealthy), 0 for the "
                    "others.")) {
    for (const CheckSnapshot& c : snapshot.checks) {
      for (Status s : kAllStates) {
        w.Add({{"check", c.name}, {"state", StatusName(s)}},
              c.result.status == s ? 1 : 0);
      }
    }
  }
}

void WriteCheckRuns(const Snapshot& snapshot, absl::Time now,
                    PrometheusWriter& w) {
  using C = const CheckSnapshot&;
  PerCheck(snapshot, w, "vigil_check_passing", MetricType::kGauge,
           "1 when the check passes (healthy or degraded), else 0.",
           [](C c) { return IsPassing(c.result.status) ? 1.0 : 0.0; });
  PerCheck(snapshot, w, "vigil_check_last_duration_seconds", MetricType::kGauge,
           "Duration of the check's last completed run.",
           [](C c) { return Seconds(c.last_duration); });
  PerCheck(snapshot, w, "vigil_check_last_run_timestamp_seconds",
           MetricType::kGauge,
           "When the check's last run ended (or timed out), Unix seconds.",
           [](C c) -> std::optional<double> {
             if (c.last_run_time == absl::InfinitePast()) return {};
             return UnixSeconds(c.last_run_time);
           });
  PerCheck(snapshot, w, "vigil_check_consecutive_failures", MetricType::kGauge,
           "Failing runs of the check in a row, latest included.",
           [](C c) { return static_cast<double>(c.consecutive_failures); });
  PerCheck(
      snapshot, w, "vigil_check_time_in_state_seconds", MetricType::kGauge,
      "Time since the check's reported status last changed.",
      [now](C c) -> std::optional<double> {
        if (c.state_since == absl::InfinitePast()) return {};
        return Seconds(std::max(absl::ZeroDuration(), now - c.state_since));
      });
  PerCheck(snapshot, w, "vigil_check_timed_out", MetricType::kGauge,
           "1 while a run of the check is still in flight past its timeout.",
           [](C c) { return c.timed_out ? 1.0 : 0.0; });
  PerCheck(snapshot, w, "vigil_check_runs_total", MetricType::kCounter,
           "Completed runs of the check since it was registered.",
           [](C c) { return static_cast<double>(c.run_count); });
}

void WriteCheckDetails(const Snapshot& snapshot, PrometheusWriter& w) {
  using C = const CheckSnapshot&;
  PerCheckWithUnit(snapshot, w, "vigil_check_observed_value",
                   "The quantity behind the check's status, in `unit`.",
                   [](C c) { return c.result.observed_value; });
  PerCheckWithUnit(snapshot, w, "vigil_check_warn_threshold",
                   "Observed value at which the check turns degraded.",
                   [](C c) { return c.result.warn_threshold; });
  PerCheckWithUnit(snapshot, w, "vigil_check_critical_threshold",
                   "Observed value at which the check turns unhealthy.",
                   [](C c) { return c.result.critical_threshold; });
  PerCheck(snapshot, w, "vigil_check_time_to_exhaustion_seconds",
           MetricType::kGauge,
           "Estimated time until the observed resource runs out.",
           [](C c) -> std::optional<double> {
             if (!c.result.time_to_exhaustion) return {};
             return Seconds(*c.result.time_to_exhaustion);
           });
}

}  // namespace

void WriteHealthMetrics(const Snapshot& snapshot,
                        const ServiceIdentity& service, absl::Time now,
                        const HealthMetricsOptions& options,
                        PrometheusWriter& writer) {
  WriteProcess(snapshot, service, options, writer);
  WriteGroups(snapshot, writer);
  WriteCheckIdentity(snapshot, writer);
  WriteCheckRuns(snapshot, now, writer);
  if (options.details) WriteCheckDetails(snapshot, writer);
}

}  // namespace internal
}  // namespace http
}  // namespace vigil
