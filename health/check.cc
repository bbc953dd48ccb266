#include "health/check.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '@' || c == '-';
}

bool IsGroupChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

constexpr size_t kMaxNameLength = 128;

}  // namespace

CheckResult CheckResult::Healthy(std::string message) {
  CheckResult r;
  r.status = Status::kHealthy;
  r.message = std::move(message);
  return r;
}

CheckResult CheckResult::Degraded(std::string message) {
  CheckResult r;
  r.status = Status::kDegraded;
  r.message = std::move(message);
  return r;
}

CheckResult CheckResult::Unhealthy(std::string message) {
  CheckResult r;
  r.status = Status::kUnhealthy;
  r.message = std::move(message);
  return r;
}

CheckResult CheckResult::FromStatus(const absl::Status& status) {
  if (status.ok()) return Healthy();
  return Unhealthy(std::string(status.message()));
}

absl::Status ValidateCheck(const Check& check) {
  if (check.name.empty()) {
    return absl::InvalidArgumentError("check name: must not be empty");
  }
  if (check.name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("check name: longer than ", kMaxNameLength,
                     " characters: \"", check.name.substr(0, 32), "...\""));
  }
  for (char c : check.name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("check name \"", check.name,
                       "\": only letters, digits and _.:/@- are allowed"));
    }
  }
  const std::string where = absl::StrCat("check \"", check.name, "\": ");
  if (!check.function) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "function: must be set"));
  }
  const CheckOptions& o = check.options;
  if (o.interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "interval: must be positive, got ",
                     absl::FormatDuration(o.interval)));
  }
  if (o.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "timeout: must be positive, got ",
                     absl::FormatDuration(o.timeout)));
  }
  if (o.initial_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "initial_delay: must not be negative, got ",
                     absl::FormatDuration(o.initial_delay)));
  }
  if (o.failure_threshold < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "failure_threshold: must be at least 1, got ",
                     o.failure_threshold));
  }
  if (o.success_threshold < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "success_threshold: must be at least 1, got ",
                     o.success_threshold));
  }
  if (o.groups.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "groups: must name at least one group"));
  }
  for (const std::string& g : o.groups) {
    if (g.empty() || g.size() > kMaxNameLength) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "groups: \"", g, "\" is not a valid group name"));
    }
    if (g == kAllGroup) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "groups: \"all\" is reserved for the group of every check"));
    }
    for (char c : g) {
      if (!IsGroupChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "groups: \"", g,
            "\": only lowercase letters, digits and _.- are allowed"));
      }
    }
    if (g == kLiveness && o.kind == CheckKind::kDependency &&
        !o.allow_dependency_in_liveness) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          "groups: a dependency check may not be part of liveness (restarting "
          "this process does not repair a dependency, and a liveness probe "
          "that follows dependencies turns one outage into a restart storm); "
          "put it in readiness, or set allow_dependency_in_liveness"));
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil
