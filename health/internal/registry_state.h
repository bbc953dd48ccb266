// HealthRegistry's private state: everything behind its pimpl. Included by
// health/registry.cc only (health/registry.h does not include it, so the SDK
// does not ship it). Not part of vigil's API.

#ifndef VIGIL_HEALTH_INTERNAL_REGISTRY_STATE_H_
#define VIGIL_HEALTH_INTERNAL_REGISTRY_STATE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/clock.h"
#include "health/internal/shared_list.h"
#include "health/registry.h"
#include "health/snapshot.h"
#include "health/status.h"
#include "health/sync.h"

namespace vigil {
namespace internal {

class WorkerPool;

// A group's members, cached between registrations.
struct GroupIndex {
  std::string name;
  std::vector<std::string> names;
  // Members by [critical][status] as last published, so the aggregate is
  // recomputed in O(1) when a member changes.
  int counts[2][4] = {};
  // Last published aggregate (nullptr after a membership change) and
  // status (kept across membership changes, for transitions).
  std::shared_ptr<const GroupSnapshot> last;
  Status last_status = Status::kUnknown;
};

// Orders the scheduler's events by time (ties by address: due runs are
// sorted by name before they are queued).
template <typename CheckState>
struct EventOrder {
  bool operator()(const std::pair<absl::Time, CheckState*>& a,
                  const std::pair<absl::Time, CheckState*>& b) const {
    if (a.first != b.first) return a.first < b.first;
    return std::less<CheckState*>()(a.second, b.second);
  }
};

}  // namespace internal

// The registry proper. HealthRegistry's methods forward to the ones of the
// same name here, with the same contracts (see health/registry.h); the
// registry's inline readers load `*fast_status`, which PublishLocked()
// stores.
class HealthRegistry::Impl {
 public:
  // `clock` is the registry's (already defaulted); `fast_status` is the
  // registry's packed well-known group statuses and outlives this object.
  Impl(Clock* clock, RegistryOptions options,
       std::atomic<uint32_t>* fast_status);
  // ~HealthRegistry's work, done once while the registry is whole: stops
  // the scheduler, closes the lifetime guard and joins (or leaves behind)
  // the workers as ~HealthRegistry documents.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  absl::Status Register(Check check) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Unregister(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RunNow(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  void BeginShutdown() ABSL_LOCKS_EXCLUDED(mu_);
  bool shutting_down() const;
  std::shared_ptr<const Snapshot> snapshot() const
      ABSL_LOCKS_EXCLUDED(snapshot_mu_);
  void AddListener(Listener listener) ABSL_LOCKS_EXCLUDED(mu_);
  void AddResultListener(ResultListener listener) ABSL_LOCKS_EXCLUDED(mu_);
  void AddResultListenerFactory(ResultListenerFactory factory)
      ABSL_LOCKS_EXCLUDED(mu_);
  const ServiceIdentity& service() const { return service_; }
  absl::Time RunOnceForTest() ABSL_LOCKS_EXCLUDED(mu_);
  bool WaitUntilIdleForTest(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  int worker_threads_for_test() const;

 private:
  struct CheckState;
  void RebuildGroupIndexLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AlreadyExists when `check`'s name is a group's or one of its groups is
  // a check's (see Register()).
  absl::Status CheckNameSpaceLocked(const Check& check)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts `state`'s next event (its next run, or its timeout deadline while
  // in flight) in the scheduler's queue.
  void ScheduleLocked(CheckState& state, absl::Time at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnscheduleLocked(CheckState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks `state`'s published view as changed for the next publication.
  void MarkDirtyLocked(CheckState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds `state`'s view if dirty and queues its transition if any.
  void RefreshViewLocked(CheckState& state, uint64_t generation, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountLocked(const CheckState& state, Status status, int delta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Time Tick() ABSL_LOCKS_EXCLUDED(mu_);
  void SchedulerLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the registry still exists, shared with the closures on the
  // worker pool (which may outlive it).
  struct Life;
  // Runs one check on a worker. Called inside `life` (Enter()ed); leaves it
  // while the user's function runs, and for good on return.
  void RunCheck(std::shared_ptr<Life> life, std::shared_ptr<CheckState> state,
                absl::Time queued_at) ABSL_LOCKS_EXCLUDED(mu_);
  // Applies a raw result through flap damping. `failure_counted`: the run
  // was declared timed out, which already counted it as one failure.
  void ApplyResult(CheckState& state, CheckResult raw, absl::Time now,
                   bool failure_counted = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds and installs a new snapshot, queueing transitions.
  void PublishLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers queued transitions unless another thread is already doing so;
  // then signals idle_ if IdleLocked().
  void DeliverTransitions() ABSL_LOCKS_EXCLUDED(mu_);
  // What WaitUntilIdleForTest() waits for: no untimed run in flight, no
  // result listener or transition being delivered or pending.
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  ServiceIdentity service_;

  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<CheckState>, std::less<>> checks_
      ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool startup_complete_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  // Set by the first Tick(): startup can only complete once checks run.
  bool ticked_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  // What the scheduler thread waits for (InfinitePast while it is not
  // waiting): an event scheduled before it wakes the thread.
  absl::Time waiting_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int in_flight_untimed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<internal::GroupIndex> group_index_ ABSL_GUARDED_BY(mu_);
  size_t startup_group_ ABSL_GUARDED_BY(mu_) = 0;  // In group_index_.
  bool membership_dirty_ ABSL_GUARDED_BY(mu_) = true;
  // Every registered check's next event, earliest first; checks whose run is
  // stuck past its timeout are in `stuck_` instead (refreshed every step).
  std::set<std::pair<absl::Time, CheckState*>, internal::EventOrder<CheckState>>
      events_ ABSL_GUARDED_BY(mu_);
  std::set<CheckState*> stuck_ ABSL_GUARDED_BY(mu_);
  // Registered checks whose view changed since the last publication.
  std::vector<CheckState*> dirty_ ABSL_GUARDED_BY(mu_);
  // The checks of the next snapshot, in name order; shares its chunks with
  // the published snapshots.
  internal::SharedList<CheckSnapshot> list_ ABSL_GUARDED_BY(mu_);
  // Copy-on-write, like result_listeners_: DeliverTransitions() takes it
  // with one pointer copy per transition, not a copy of every Listener (a
  // std::function capturing a shared_ptr, so one allocation each).
  std::shared_ptr<const std::vector<Listener>> listeners_ ABSL_GUARDED_BY(mu_);
  // Copy-on-write, so a worker takes it with one pointer copy.
  std::shared_ptr<const std::vector<ResultListener>> result_listeners_
      ABSL_GUARDED_BY(mu_);
  // Called at Register() for each check's own result listeners.
  std::vector<ResultListenerFactory> result_listener_factories_
      ABSL_GUARDED_BY(mu_);
  // Runs whose result listeners are being called. Incremented under mu_,
  // decremented without it just before DeliverTransitions() takes mu_.
  std::atomic<int> results_delivering_{0};
  std::deque<Transition> pending_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  // WaitUntilIdleForTest() waits here rather than in mu_.Await, which every
  // release of mu_ would wake (a run's completion releases mu_ before its
  // result listeners run, when the registry is not idle yet). Signalled by
  // DeliverTransitions() once IdleLocked().
  CondVar idle_;
  std::atomic<bool> shutting_down_fast_{false};

  mutable Mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
  // HealthRegistry::fast_status_: liveness, readiness, startup and all, one
  // byte each.
  std::atomic<uint32_t>* const fast_status_;

  const std::shared_ptr<Life> life_;
  std::unique_ptr<internal::WorkerPool> pool_;
  std::thread scheduler_;
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_REGISTRY_STATE_H_
