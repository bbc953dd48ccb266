// WatchdogHistory: the watchdog's events in a HealthHistory.
//
// Links a Watchdog to a HealthHistory without either depending on the
// other: misses, long misses, kills, suppressed kills and recoveries become
// journal entries (kind "watchdog"), and the history's heartbeat source
// reports each heartbeat's silence against its thresholds, so /statusz and
// /statusz/history show them beside the checks.
//
//   vigil::Watchdog watchdog;
//   auto history = vigil::HealthHistory::Create(&registry).value();
//   vigil::WatchdogHistory link(&watchdog, history.get());
//
// Lifetime: neither object is owned. Destroy the link before either of
// them; once destroyed it records nothing more and the history reports no
// heartbeats (the watchdog keeps the now inert listener).
//
// Thread safety: the listener runs on the watchdog's monitor thread and
// takes the history's lock for one copy.

#ifndef VIGIL_WATCHDOG_HISTORY_H_
#define VIGIL_WATCHDOG_HISTORY_H_

#include <atomic>
#include <memory>

#include "health/history.h"
#include "watchdog/watchdog.h"

namespace vigil {

// One journal entry for `event` (kind kWatchdog, subject the heartbeat).
HistoryEvent ToHistoryEvent(const WatchdogEvent& event);

class WatchdogHistory {
 public:
  WatchdogHistory(Watchdog* watchdog, HealthHistory* history);
  ~WatchdogHistory();

  WatchdogHistory(const WatchdogHistory&) = delete;
  WatchdogHistory& operator=(const WatchdogHistory&) = delete;

 private:
  HealthHistory* const history_;
  // Shared with the watchdog's listener, which outlives this object.
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace vigil

#endif  // VIGIL_WATCHDOG_HISTORY_H_
