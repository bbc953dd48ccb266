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

namespace {

absl::StatusOr<std::string> MessageToJson(
    const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = pretty;
  opts.preserve_proto_field_names = false;
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, opts);
  if (!status.ok()) {
    return absl::InternalError(message.GetTypeName() +
                               " to JSON: " + status.ToString());
  }
  return out;
}

v1::HistoryEvent::Kind ToProto(HistoryEvent::Kind kind) {
  switch (kind) {
    case HistoryEvent::Kind::kCheck:
      return v1::HistoryEvent::KIND_CHECK;
    case HistoryEvent::Kind::kGroup:
      return v1::HistoryEvent::KIND_GROUP;
    case HistoryEvent::Kind::kWatchdog:
      return v1::HistoryEvent::KIND_WATCHDOG;
    case HistoryEvent::Kind::kDrain:
      return v1::HistoryEvent::KIND_DRAIN;
  }
  return v1::HistoryEvent::KIND_UNSPECIFIED;
}

void AddEvent(const HistoryEvent& e, bool details, v1::HealthHistory& out) {
  *out.add_events() = ToProto(e, details);
}

void AddSeries(const SampleSeries& s, bool details, v1::HealthHistory& out) {
  v1::SampleSeries* p = out.add_series();
  p->set_check(s.check);
  if (details) p->set_unit(s.unit);
  for (const Sample& sample : s.samples) {
    v1::Sample* q = p->add_samples();
    *q->mutable_time() = ToTimestamp(sample.time);
    q->set_status(ToProto(sample.status));
    if (!details) continue;
    q->set_value(sample.value);
    if (sample.warn_threshold) q->set_warn_threshold(*sample.warn_threshold);
    if (sample.critical_threshold) {
      q->set_critical_threshold(*sample.critical_threshold);
    }
    if (sample.time_to_exhaustion) {
      *q->mutable_time_to_exhaustion() =
          ToDurationProto(*sample.time_to_exhaustion);
    }
  }
}

}  // namespace

absl::StatusOr<std::string> ToJson(const v1::HealthReport& report,
                                   bool pretty) {
  return MessageToJson(report, pretty);
}

absl::StatusOr<std::string> ToJson(const v1::HealthHistory& history,
                                   bool pretty) {
  return MessageToJson(history, pretty);
}

absl::StatusOr<std::string> ToJson(const v1::HistoryEvent& event) {
  return MessageToJson(event, false);
}

v1::HistoryEvent ToProto(const HistoryEvent& e, bool include_details) {
  v1::HistoryEvent p;
  p.set_sequence(e.sequence);
  p.set_kind(ToProto(e.kind));
  p.set_subject(e.subject);
  p.set_from(ToProto(e.from));
  p.set_to(ToProto(e.to));
  if (include_details) p.set_message(e.message);
  p.set_consecutive_failures(e.consecutive_failures);
  p.set_consecutive_successes(e.consecutive_successes);
  p.set_watchdog_event(e.watchdog_event);
  *p.mutable_time() = ToTimestamp(e.time);
  return p;
}

v1::HealthHistory ToHealthHistory(const HealthHistory& history,
                                  const HistoryQuery& query) {
  v1::HealthHistory out;
  const HealthRegistry& registry = *history.registry();
  const ServiceIdentity& service = registry.service();
  v1::ServiceInfo* info = out.mutable_service();
  info->set_name(service.name);
  info->set_version(service.version);
  info->set_instance(service.instance);
  if (service.start_time != absl::InfinitePast()) {
    *info->mutable_start_time() = ToTimestamp(service.start_time);
  }
  *out.mutable_time() = ToTimestamp(registry.clock()->Now());
  const bool details = query.include_details;
  for (const HistoryEvent& e :
       history.Events(query.after, query.since, query.subject)) {
    AddEvent(e, details, out);
  }
  for (const SampleSeries& s : history.Samples(query.subject, query.since)) {
    AddSeries(s, details, out);
  }
  for (const HeartbeatView& h : history.Heartbeats()) {
    v1::HeartbeatState* p = out.add_heartbeats();
    p->set_name(h.name);
    p->set_stage(h.stage);
    *p->mutable_silent_for() = ToDurationProto(h.silent_for);
    *p->mutable_miss_after() = ToDurationProto(h.miss_after);
    *p->mutable_kill_after() = ToDurationProto(h.kill_after);
    p->set_paused(h.paused);
  }
  out.set_dropped_events(history.dropped_events());
  out.set_capacity(static_cast<uint32_t>(history.options().max_events));
  out.set_details_withheld(!details);
  out.set_last_sequence(history.last_sequence());
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
