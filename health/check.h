// Checks: what "alive", "ready" and "started" mean for a service.
//
// A check is a name, a function that inspects something and returns a
// `CheckResult`, and `CheckOptions` saying how often it runs, how long it may
// take, how its failures are damped, whether it is critical and which groups
// it belongs to. Register checks with a `HealthRegistry` (registry.h).
//
//   vigil::Check check;
//   check.name = "queue-depth";
//   check.options.groups = {std::string(vigil::kReadiness)};
//   check.function = [&](const vigil::CheckContext&) {
//     size_t depth = queue.size();
//     if (depth > 10000) return vigil::CheckResult::Unhealthy("queue full");
//     return vigil::CheckResult::Healthy();
//   };
//
// Ready-made checks live in health/checks/ and pressure detectors in
// health/pressure/; both return `Check` values like this one.

#ifndef VIGIL_HEALTH_CHECK_H_
#define VIGIL_HEALTH_CHECK_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/status.h"

namespace vigil {

// What one run of a check found. A plain value type.
struct CheckResult {
  Status status = Status::kUnknown;
  // Why, in a few words: "connection refused", "87% of limit".
  std::string message;
  // The measured quantity behind the status, if any, and its unit
  // ("bytes", "ratio", "seconds", "count").
  std::optional<double> observed_value;
  std::string observed_unit;
  // The thresholds the observed value is compared against, if any.
  std::optional<double> warn_threshold;
  std::optional<double> critical_threshold;
  // Estimated time until the observed resource runs out (pressure trends).
  std::optional<absl::Duration> time_to_exhaustion;
  // Free-form facts, e.g. {"sqlstate", "53300"}.
  std::map<std::string, std::string> details;

  static CheckResult Healthy(std::string message = "");
  static CheckResult Degraded(std::string message);
  static CheckResult Unhealthy(std::string message);
  // HEALTHY when `status.ok()`, otherwise UNHEALTHY with its message.
  static CheckResult FromStatus(const absl::Status& status);
};

// Passed to every run of a check.
struct CheckContext {
  // The check's name.
  absl::string_view name;
  // When the run started and by when it must finish (start + timeout), on
  // the registry's clock. I/O inside a check should be bounded by this
  // deadline; a run that overruns is reported UNHEALTHY by the registry
  // whether or not the check notices.
  absl::Time start;
  absl::Time deadline;
};

// The check's body. It may block (up to its timeout) and may throw: an
// exception is caught and reported as UNHEALTHY with its what(). Called on a
// registry worker thread, never concurrently with itself.
using CheckFunction = std::function<CheckResult(const CheckContext&)>;

// What a check looks at.
enum class CheckKind {
  // The process itself: event loop, memory, disk, file descriptors.
  kSelf,
  // Another service: database, cache, upstream. Not allowed in liveness
  // unless `CheckOptions::allow_dependency_in_liveness` is set, because
  // restarting a process does not repair its dependency, and a liveness probe
  // that follows dependencies turns one outage into a restart storm.
  kDependency,
};

// How a check is run and aggregated. Defaults are those of Kubernetes'
// probes where one exists (period 10 s, failure threshold 3, success 1).
struct CheckOptions {
  // Time between the starts of two runs. Must be > 0.
  absl::Duration interval = absl::Seconds(10);
  // A run that takes longer is reported UNHEALTHY ("timed out after ...").
  // Must be > 0.
  absl::Duration timeout = absl::Seconds(5);
  // Delay before the first run, counted from registration. Must be >= 0.
  absl::Duration initial_delay = absl::ZeroDuration();
  // Consecutive failing runs (UNHEALTHY) before a passing check is reported
  // UNHEALTHY. Must be >= 1. The first result of a check is reported as is.
  int failure_threshold = 3;
  // Consecutive passing runs (HEALTHY or DEGRADED) before an UNHEALTHY check
  // is reported passing again. Must be >= 1.
  int success_threshold = 1;
  // A failing critical check fails its groups; a failing non-critical check
  // only makes them DEGRADED.
  bool critical = true;
  // Groups this check belongs to: kLiveness, kReadiness, kStartup, or any
  // custom tag ([a-z0-9_.-]+). Must not be empty.
  std::vector<std::string> groups = {std::string(kReadiness)};
  CheckKind kind = CheckKind::kSelf;
  // Lets a kDependency check join the liveness group. Think twice.
  bool allow_dependency_in_liveness = false;
};

// A complete check definition: what a registry needs to run it.
struct Check {
  // Unique within a registry; [A-Za-z0-9_.:/@-]+, at most 128 characters.
  std::string name;
  CheckFunction function;
  CheckOptions options;
};

// Returns OK if `check` could be registered, else InvalidArgument naming the
// offending field (empty or malformed name, missing function, non-positive
// interval or timeout, negative initial delay, thresholds below 1, no or
// malformed groups, a dependency in liveness without the override).
absl::Status ValidateCheck(const Check& check);

}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECK_H_
