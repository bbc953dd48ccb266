#include "watchdog/liveness.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigil {

Check WatchdogLivenessCheck(const Watchdog& watchdog,
                            WatchdogLivenessOptions options) {
  Check check;
  check.name = options.name;
  check.options.groups = {std::string(kLiveness)};
  check.options.kind = CheckKind::kSelf;
  check.options.critical = true;
  check.options.interval = options.interval;
  check.options.timeout = options.interval;
  check.options.failure_threshold = 1;
  check.options.success_threshold = 1;
  const Watchdog* wd = &watchdog;
  check.function = [wd](const CheckContext&) {
    const std::vector<HeartbeatStatus> all = wd->Statuses();
    std::vector<std::string> hung;
    const HeartbeatStatus* worst = nullptr;
    CheckResult result;
    for (const HeartbeatStatus& s : all) {
      if (s.stage != WatchdogStage::kOk) {
        result.details[s.name] =
            absl::StrCat(StageName(s.stage), ", silent for ",
                         absl::FormatDuration(s.silent_for),
                         s.kill_suppressed.empty() ? "" : "; kill deferred: ",
                         s.kill_suppressed);
      }
      if (s.stage != WatchdogStage::kKill) continue;
      std::string who = absl::StrCat("heartbeat \"", s.name, "\"");
      if (s.tid != 0) {
        absl::StrAppend(&who, " (thread ", s.tid, " \"", s.thread_name, "\")");
      }
      if (!s.scope.empty())
        absl::StrAppend(&who, " in scope \"", s.scope, "\"");
      hung.push_back(absl::StrCat(
          who, " silent for ", absl::FormatDuration(s.silent_for),
          ", past its kill threshold ", absl::FormatDuration(s.kill_after)));
      if (worst == nullptr || s.silent_for > worst->silent_for) worst = &s;
    }
    if (worst == nullptr) {
      result.status = Status::kHealthy;
      result.message =
          absl::StrCat(all.size(), " heartbeat", all.size() == 1 ? "" : "s",
                       " within their deadlines");
      return result;
    }
    result.status = Status::kUnhealthy;
    result.message = absl::StrJoin(hung, "; ");
    result.observed_value = absl::ToDoubleSeconds(worst->silent_for);
    result.observed_unit = "seconds";
    result.critical_threshold = absl::ToDoubleSeconds(worst->kill_after);
    return result;
  };
  return check;
}

absl::Status RegisterWatchdogLiveness(HealthRegistry& registry,
                                      const Watchdog& watchdog,
                                      WatchdogLivenessOptions options) {
  return registry.Register(WatchdogLivenessCheck(watchdog, std::move(options)));
}

}  // namespace vigil
