// HealthHistory: what happened before "now" — a bounded journal of status
// transitions and a ring of recent observed values per check.
//
// A snapshot says what the service looks like now; the history answers
// "since when, how often, why, and what was the trend before". It attaches
// to a registry's listeners and keeps, in fixed memory:
//   - the journal: every transition of every check and group (time, from,
//     to, message, consecutive counts), the start of drain, and any event
//     recorded from outside (the watchdog's misses, kills and recoveries,
//     see watchdog/history.h), oldest dropped first;
//   - per check with an observed value (pressure detectors, gauges), the
//     last `samples_per_check` values with their time, thresholds, status
//     and time-to-exhaustion estimate.
// HTTP (/statusz, /statusz/history) and any other transport read it from
// here, so they all tell the same story.
//
//   vigil::HealthRegistry registry;
//   auto history = vigil::HealthHistory::Create(&registry).value();
//   ... registry.Start() ...
//   for (const vigil::HistoryEvent& e : history->Events()) ...
//
// Cost: recording runs on the registry's publishing thread after the
// registry's own lock is released, and takes this object's lock for a copy
// into a preallocated ring slot. Each check gets its own result listener
// (HealthRegistry::AddResultListenerFactory), which finds the check's
// series by name once, not per run; checks without an observed value cost
// one branch per run (benchmarks/history_cost.sh: about 1.03x the
// instructions of a completion without history).
//
// Thread safety: every method may be called from any thread.

#ifndef VIGIL_HEALTH_HISTORY_H_
#define VIGIL_HEALTH_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/registry.h"
#include "health/status.h"

namespace vigil {

struct HistoryOptions {
  // Journal capacity in events; the oldest is dropped first. Must be >= 1.
  size_t max_events = 1000;
  // Samples kept per check with an observed value. Must be >= 2.
  size_t samples_per_check = 120;
  // Checks with samples kept: the first this many to report a value; the
  // values of further checks are not kept. Must be >= 1.
  size_t max_series = 1000;
};

// One entry of the journal. Plain value type.
struct HistoryEvent {
  enum class Kind {
    // A check's reported status changed.
    kCheck,
    // A group's status changed (message: its reason, if any).
    kGroup,
    // A watchdog event; `watchdog_event` says which.
    kWatchdog,
    // BeginShutdown(): readiness is draining.
    kDrain,
  };
  // Assigned by the history: 1, 2, 3, ... in recording order.
  uint64_t sequence = 0;
  Kind kind = Kind::kCheck;
  // The check, group or heartbeat name ("" for kDrain).
  std::string subject;
  Status from = Status::kUnknown;
  Status to = Status::kUnknown;
  // The check's message, the group's reason, the watchdog's summary.
  // Subject to the details policy like every message.
  std::string message;
  // kCheck: the raw runs in a row that failed / passed at the transition.
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  // kWatchdog: "miss", "long miss", "kill", "kill suppressed", "recovered".
  std::string watchdog_event;
  // On the registry's clock. Record() fills it in when InfinitePast().
  absl::Time time = absl::InfinitePast();
};

// "check", "group", "watchdog", "drain".
absl::string_view HistoryEventKindName(HistoryEvent::Kind kind);

// One observed value of a check.
struct Sample {
  // End of the run that observed it.
  absl::Time time;
  double value = 0;
  std::optional<double> warn_threshold;
  std::optional<double> critical_threshold;
  std::optional<absl::Duration> time_to_exhaustion;
  // The check's reported status after that run.
  Status status = Status::kUnknown;
};

// The recent values of one check, oldest first.
struct SampleSeries {
  std::string check;
  std::string unit;
  std::vector<Sample> samples;
};

// What a heartbeat source (the watchdog) reports now, for status pages.
struct HeartbeatView {
  std::string name;
  // "ok", "miss", "long miss", "kill".
  std::string stage;
  absl::Duration silent_for = absl::ZeroDuration();
  absl::Duration miss_after = absl::ZeroDuration();
  absl::Duration kill_after = absl::ZeroDuration();
  bool paused = false;
};

class HealthHistory {
 public:
  // Validates `options` (InvalidArgument "field: must be ...") and attaches
  // to `registry`, which is not owned and must outlive the history. Only
  // later transitions and runs are recorded. The listeners it adds stay
  // with the registry but record nothing once the history is destroyed
  // (what they keep of it is emptied then).
  static absl::StatusOr<std::unique_ptr<HealthHistory>> Create(
      HealthRegistry* registry, HistoryOptions options = {});
  ~HealthHistory();

  HealthHistory(const HealthHistory&) = delete;
  HealthHistory& operator=(const HealthHistory&) = delete;

  // Appends an event from outside the registry (the watchdog). Assigns its
  // sequence, and its time from the registry's clock if unset.
  void Record(HistoryEvent event);

  // Journal entries with sequence > `after` and time >= `since`, oldest
  // first; only those about `subject` unless it is empty.
  std::vector<HistoryEvent> Events(uint64_t after = 0,
                                   absl::Time since = absl::InfinitePast(),
                                   absl::string_view subject = "") const;
  // The sequence of the latest event (0 before any).
  uint64_t last_sequence() const;
  // Events dropped from the journal's front so far.
  uint64_t dropped_events() const;

  // Waits (bounded by `timeout` of real time) until an event with sequence
  // > `after` exists or Wake() is called. Returns last_sequence().
  uint64_t WaitForEvent(uint64_t after, absl::Duration timeout) const;
  // Releases every WaitForEvent, now and from then on (for shutting down
  // stream servers).
  void Wake();

  // Sample series with samples at or after `since`, by check name; only
  // `check`'s unless it is empty.
  std::vector<SampleSeries> Samples(
      absl::string_view check = "",
      absl::Time since = absl::InfinitePast()) const;

  // Heartbeat status for status pages: set by whoever owns the heartbeats
  // (see watchdog/history.h). The source is called on the reading thread
  // and must be quick.
  void SetHeartbeatSource(std::function<std::vector<HeartbeatView>()> source);
  std::vector<HeartbeatView> Heartbeats() const;

  const HistoryOptions& options() const { return options_; }
  HealthRegistry* registry() const { return registry_; }

 private:
  struct Journal;
  HealthHistory(HealthRegistry* registry, HistoryOptions options);

  HealthRegistry* const registry_;
  const HistoryOptions options_;
  // Shared with the registry's listeners, which may outlive this object.
  std::shared_ptr<Journal> journal_;
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_HISTORY_H_
