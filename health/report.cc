#include "health/report.h"

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace vigil {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

google::protobuf::Duration ToDurationProto(absl::Duration d) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

v1::CheckKind ToProto(CheckKind kind) {
  switch (kind) {
    case CheckKind::kSelf:
      return v1::CHECK_KIND_SELF;
    case CheckKind::kDependency:
      return v1::CHECK_KIND_DEPENDENCY;
  }
  return v1::CHECK_KIND_UNSPECIFIED;
}

}  // namespace

v1::Status ToProto(Status status) {
  switch (status) {
    case Status::kUnknown:
      return v1::STATUS_UNKNOWN;
    case Status::kHealthy:
      return v1::STATUS_HEALTHY;
    case Status::kDegraded:
      return v1::STATUS_DEGRADED;
    case Status::kUnhealthy:
      return v1::STATUS_UNHEALTHY;
  }
  return v1::STATUS_UNKNOWN;
}

Status FromProto(v1::Status status) {
  switch (status) {
    case v1::STATUS_HEALTHY:
      return Status::kHealthy;
    case v1::STATUS_DEGRADED:
      return Status::kDegraded;
    case v1::STATUS_UNHEALTHY:
      return Status::kUnhealthy;
    default:
      return Status::kUnknown;
  }
}

v1::HealthReport ToHealthReport(const Snapshot& snapshot,
                                const ServiceIdentity& service,
                                const ReportOptions& options) {
  v1::HealthReport report;
  report.set_status(ToProto(snapshot.overall()));
  v1::ServiceInfo* info = report.mutable_service();
  info->set_name(service.name);
  info->set_version(service.version);
  info->set_instance(service.instance);
  if (service.start_time != absl::InfinitePast()) {
    *info->mutable_start_time() = ToTimestamp(service.start_time);
  }
  if (snapshot.time != absl::InfinitePast()) {
    *report.mutable_time() = ToTimestamp(snapshot.time);
  }
  report.set_startup_complete(snapshot.startup_complete);
  report.set_shutting_down(snapshot.shutting_down);
  report.set_generation(snapshot.generation);
  for (const GroupSnapshot& g : snapshot.groups) {
    v1::GroupStatus* out = report.add_groups();
    out->set_name(g.name);
    out->set_status(ToProto(g.status));
    out->set_reason(g.reason);
    for (const std::string& c : g.checks) out->add_checks(c);
  }
  for (const CheckSnapshot& c : snapshot.checks) {
    v1::CheckResult* out = report.add_checks();
    out->set_name(c.name);
    out->set_status(ToProto(c.result.status));
    out->set_kind(ToProto(c.kind));
    out->set_critical(c.critical);
    for (const std::string& g : c.groups) out->add_groups(g);
    if (c.last_run_time != absl::InfinitePast()) {
      *out->mutable_last_run_time() = ToTimestamp(c.last_run_time);
    }
    *out->mutable_last_duration() = ToDurationProto(c.last_duration);
    out->set_consecutive_failures(c.consecutive_failures);
    out->set_consecutive_successes(c.consecutive_successes);
    if (c.state_since != absl::InfinitePast() &&
        snapshot.time >= c.state_since) {
      *out->mutable_time_in_state() =
          ToDurationProto(snapshot.time - c.state_since);
    }
    out->set_timed_out(c.timed_out);
    if (!options.include_details) continue;
    out->set_message(c.result.message);
    if (c.result.observed_value) {
      out->set_observed_value(*c.result.observed_value);
    }
    out->set_observed_unit(c.result.observed_unit);
    if (c.result.warn_threshold) {
      out->set_warn_threshold(*c.result.warn_threshold);
    }
    if (c.result.critical_threshold) {
      out->set_critical_threshold(*c.result.critical_threshold);
    }
    if (c.result.time_to_exhaustion) {
      *out->mutable_time_to_exhaustion() =
          ToDurationProto(*c.result.time_to_exhaustion);
    }
    for (const auto& [k, v] : c.result.details) {
      (*out->mutable_details())[k] = v;
    }
  }
  return report;
}

absl::StatusOr<std::string> ToJson(const v1::HealthReport& report,
                                   bool pretty) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = pretty;
  opts.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(report, &out, opts);
  if (!status.ok()) {
    return absl::InternalError(std::string("HealthReport to JSON: ") +
                               status.ToString());
  }
  return out;
}

absl::StatusOr<v1::HealthReport> HealthReportFromJson(absl::string_view json) {
  v1::HealthReport report;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json),
                                                            &report, opts);
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string("HealthReport from JSON: ") +
                                      status.ToString());
  }
  return report;
}

}  // namespace vigil
