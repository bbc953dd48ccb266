// PrometheusWriter: builds a Prometheus text exposition (format 0.0.4).
//
// vigil's /metrics endpoint writes its own families with it, and any other
// module (pressure detectors, the watchdog, your service) appends families
// through `HealthEndpoints::AddMetricsCollector` (endpoints.h). The writer
// does the parts that are easy to get wrong: metric and label name syntax,
// one HELP and TYPE line per family, samples of a family kept together,
// escaping of label values and help text, and float formatting (shortest
// round-trip digits, `NaN`, `+Inf`, `-Inf`).
//
//   vigil::http::PrometheusWriter w;
//   w.BeginFamily("myapp_queue_depth", vigil::http::MetricType::kGauge,
//                 "Items waiting in the work queue.");
//   w.Add({{"queue", "ingest"}}, 42);
//   w.Add({{"queue", "export"}}, 0);
//   w.BeginFamily("myapp_jobs_total", vigil::http::MetricType::kCounter,
//                 "Jobs completed since start.");
//   w.Add(1234);
//   std::string body = w.text();
//
// Rules it enforces (a rejected family or sample is left out and recorded
// in errors(); the rest of the exposition stays valid):
// - metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
//   [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__";
// - a family name is written at most once per exposition;
// - a counter's name ends in "_total" (Prometheus convention; promtool's
//   linter rejects other counters);
// - label values must be valid UTF-8 (invalid bytes become U+FFFD).
//
// Thread-compatible: one writer per exposition, used by one thread at a time.

#ifndef VIGIL_HEALTH_HTTP_PROMETHEUS_H_
#define VIGIL_HEALTH_HTTP_PROMETHEUS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigil {
namespace http {

// The metric types of the 0.0.4 text format that vigil writes.
enum class MetricType { kGauge, kCounter, kUntyped };

// The content type of the exposition this writer produces.
inline constexpr absl::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// One label: name and (unescaped) value.
using Label = std::pair<absl::string_view, absl::string_view>;

class PrometheusWriter {
 public:
  PrometheusWriter() = default;
  PrometheusWriter(const PrometheusWriter&) = delete;
  PrometheusWriter& operator=(const PrometheusWriter&) = delete;

  // Starts a metric family: writes its HELP and TYPE lines. Later Add()
  // calls belong to it until the next BeginFamily(). Returns false, and
  // drops the family's samples, if `name` is malformed, already written, or
  // a counter not ending in "_total". `help` may be any text (escaped).
  bool BeginFamily(absl::string_view name, MetricType type,
                   absl::string_view help);

  // Adds a sample to the current family. Returns false (sample dropped) if
  // no family is open, the family was rejected, or a label name is
  // malformed or repeated.
  bool Add(absl::Span<const Label> labels, double value);
  bool Add(double value) { return Add({}, value); }

  // Shorthand for a family with a single unlabelled sample.
  bool Gauge(absl::string_view name, absl::string_view help, double value);
  bool Counter(absl::string_view name, absl::string_view help, double value);

  // Records a problem found outside the writer (e.g. a collector threw);
  // it is reported like the writer's own errors.
  void AddError(std::string error);

  // The exposition so far. Each line ends in '\n'.
  const std::string& text() const { return out_; }
  // Problems found (rejected families and samples), in order.
  const std::vector<std::string>& errors() const { return errors_; }

  // Whether `name` is a valid metric / label name.
  static bool IsValidMetricName(absl::string_view name);
  static bool IsValidLabelName(absl::string_view name);

 private:
  std::string out_;
  std::string family_;
  bool family_ok_ = false;
  absl::flat_hash_set<std::string> written_;
  std::vector<std::string> errors_;
};

namespace internal {

// Shortest decimal text that parses back to `v` ("0.25", "1e-09",
// "1767225600.5"); "NaN", "+Inf", "-Inf" for the special values.
std::string FormatPrometheusValue(double v);

// Escapes a label value: backslash, double quote and newline; invalid UTF-8
// bytes become U+FFFD.
std::string EscapeLabelValue(absl::string_view value);

// Escapes HELP text: backslash and newline; invalid UTF-8 bytes become
// U+FFFD.
std::string EscapeHelp(absl::string_view help);

}  // namespace internal
}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_PROMETHEUS_H_
