#include "watchdog/history.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace {

// The status a heartbeat's stage stands for on a status page.
Status StageStatus(WatchdogEvent::Kind kind) {
  switch (kind) {
    case WatchdogEvent::Kind::kMiss:
      return Status::kDegraded;
    case WatchdogEvent::Kind::kRecovered:
      return Status::kHealthy;
    default:
      return Status::kUnhealthy;
  }
}

}  // namespace

HistoryEvent ToHistoryEvent(const WatchdogEvent& event) {
  HistoryEvent e;
  e.kind = HistoryEvent::Kind::kWatchdog;
  e.subject = event.heartbeat;
  e.watchdog_event = std::string(EventKindName(event.kind));
  e.to = StageStatus(event.kind);
  e.time = event.time;
  if (event.kind == WatchdogEvent::Kind::kRecovered) {
    e.message =
        absl::StrCat("silent for ", absl::FormatDuration(event.silent_for));
  } else {
    e.message = absl::StrCat(
        "silent for ", absl::FormatDuration(event.silent_for), " (threshold ",
        absl::FormatDuration(event.threshold), ")");
  }
  if (!event.thread_name.empty()) {
    absl::StrAppend(&e.message, ", thread \"", event.thread_name, "\"");
  }
  if (!event.scope.empty()) absl::StrAppend(&e.message, ", in ", event.scope);
  if (!event.starvation.empty()) {
    absl::StrAppend(&e.message, ", starved: ", event.starvation);
  }
  if (!event.stack.empty()) {
    absl::StrAppend(&e.message, ", at ", event.stack.front());
  }
  return e;
}

WatchdogHistory::WatchdogHistory(Watchdog* watchdog, HealthHistory* history)
    : history_(history), alive_(std::make_shared<std::atomic<bool>>(true)) {
  std::shared_ptr<std::atomic<bool>> alive = alive_;
  watchdog->AddListener([alive, history](const WatchdogEvent& event) {
    if (alive->load(std::memory_order_acquire)) {
      history->Record(ToHistoryEvent(event));
    }
  });
  history->SetHeartbeatSource([watchdog] {
    std::vector<HeartbeatView> out;
    for (const HeartbeatStatus& s : watchdog->Statuses()) {
      HeartbeatView v;
      v.name = s.name;
      v.stage = std::string(StageName(s.stage));
      v.silent_for = s.silent_for;
      v.miss_after = s.miss_after;
      v.kill_after = s.kill_after;
      v.paused = s.paused;
      out.push_back(std::move(v));
    }
    return out;
  });
}

WatchdogHistory::~WatchdogHistory() {
  alive_->store(false, std::memory_order_release);
  history_->SetHeartbeatSource(nullptr);
}

}  // namespace vigil
