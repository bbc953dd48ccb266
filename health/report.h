// Report: a Snapshot as a vigil.v1.HealthReport, a HealthHistory as a
// vigil.v1.HealthHistory, and their JSON forms.
//
// Every output format (protobuf, JSON, text, metrics) is derived from the same
// snapshot, so they always agree.
//
//   vigil::v1::HealthReport report =
//       vigil::ToHealthReport(*registry.snapshot(), registry.service());
//   std::string json = vigil::ToJson(report).value();

#ifndef VIGIL_HEALTH_REPORT_H_
#define VIGIL_HEALTH_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "health/history.h"
#include "health/proto/health.pb.h"
#include "health/registry.h"
#include "health/snapshot.h"

namespace vigil {

struct ReportOptions {
  // When false, messages, observed values, thresholds and details are left
  // out: names and statuses only (safe for anonymous clients).
  bool include_details = true;
};

// Converts a snapshot. Thread-compatible; pure.
v1::HealthReport ToHealthReport(const Snapshot& snapshot,
                                const ServiceIdentity& service,
                                const ReportOptions& options = {});

// proto3 JSON mapping of `report` (field names in lowerCamelCase, enums as
// names, durations as "1.5s"). Errors only on internal serialisation failure.
absl::StatusOr<std::string> ToJson(const v1::HealthReport& report,
                                   bool pretty = false);

// Parses JSON produced by ToJson (unknown fields rejected).
absl::StatusOr<v1::HealthReport> HealthReportFromJson(absl::string_view json);

// Which part of a history to convert.
struct HistoryQuery {
  // Only events about, and samples of, this check (or group) if not empty.
  std::string subject;
  // Only events with a larger sequence.
  uint64_t after = 0;
  // Only events and samples at or after this time.
  absl::Time since = absl::InfinitePast();
  // When false, event messages and sample values are left out (times,
  // subjects and statuses stay), and details_withheld is set.
  bool include_details = true;
};

// Converts the part of `history` that `query` selects, with the heartbeat
// states (not filtered). Thread-safe (HealthHistory is).
v1::HealthHistory ToHealthHistory(const HealthHistory& history,
                                  const HistoryQuery& query = {});
absl::StatusOr<std::string> ToJson(const v1::HealthHistory& history,
                                   bool pretty = false);
// One journal entry (the message only with `include_details`), and its
// JSON: what each Server-Sent Event of <statusz>/events carries.
v1::HistoryEvent ToProto(const HistoryEvent& event, bool include_details);
absl::StatusOr<std::string> ToJson(const v1::HistoryEvent& event);

// Enum conversions between the C++ and protobuf types.
v1::Status ToProto(Status status);
Status FromProto(v1::Status status);

}  // namespace vigil

#endif  // VIGIL_HEALTH_REPORT_H_
