// OverloadManager: maps the pressure checks' status to actions the
// application opts into, so it sheds load before the kernel has to (the
// idea of Envoy's overload manager, for a library).
//
// It listens to the registry: whenever one of `checks` changes status, the
// worst status among them is the pressure level, and each action is on
// while the level is at or above its trigger. Actions:
//   shed              answer new requests 503 with Retry-After (read by
//                     the cpp-httplib hook, health/http/overload_hook.h)
//   close_connections answer with "Connection: close", so clients do not
//                     keep idle connections (and their server threads)
//   stop_accepting    the application server accepts no new connection:
//                     new clients wait in the kernel's listen backlog (and
//                     are served once the action is off) while connections
//                     already open keep being served (the cpp-httplib
//                     accept gate, health/http/overload_hook.h). Off unless
//                     `stop_accepting_at` is set.
//   callbacks         application code: trim caches, pause batch work;
//                     called with true on entry and false on exit
// Hysteresis: on top of the checks' own (thresholds, flap damping), an
// action that turned on stays on for at least `hold`, and is released by
// the first evaluation after that (a transition, or a hot-path read of an
// action while a release is pending).
//
//   vigil::pressure::OverloadOptions o;       // memory; shed at UNHEALTHY
//   auto overload = vigil::pressure::OverloadManager::Create(&registry, o);
//   (*overload)->AddCallback("cache", vigil::Status::kDegraded,
//                            [&](bool on) { cache.SetTrimmed(on); });
//   vigil::http::InstallOverloadHook(&server, overload->get());
//
// Thread safety: every method may be called from any thread. shedding() and
// closing_connections() are one relaxed atomic load when no release is
// pending. Callbacks run on the registry's publishing thread, one at a
// time, with no lock of the manager held; they must not call back into the
// manager.

#ifndef VIGIL_HEALTH_PRESSURE_OVERLOAD_H_
#define VIGIL_HEALTH_PRESSURE_OVERLOAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/clock.h"
#include "health/registry.h"
#include "health/status.h"
#include "health/sync.h"

namespace vigil {
namespace pressure {

struct OverloadOptions {
  // The checks whose worst status is the pressure level. Non-empty.
  std::vector<std::string> checks = {"memory"};
  // Level at or above which each built-in action is on (kUnknown: never).
  Status shed_at = Status::kUnhealthy;
  Status close_connections_at = Status::kDegraded;
  // Opt-in: a load balancer that retries elsewhere on a connect timeout
  // takes the new connections away from a service under pressure.
  Status stop_accepting_at = Status::kUnknown;
  // Minimum time an action stays on once it turned on. >= 0.
  absl::Duration hold = absl::Seconds(2);
  // Retry-After of shed answers, rounded up to whole seconds. > 0.
  absl::Duration retry_after = absl::Seconds(5);
  // Not owned; nullptr means the registry's clock.
  Clock* clock = nullptr;

  absl::Status Validate() const;
};

// One action's state, for metrics and logs.
struct OverloadActionState {
  // "shed", "close_connections", "stop_accepting" or a callback's name.
  std::string name;
  Status at = Status::kUnknown;
  bool active = false;
  uint64_t activations = 0;
};

class OverloadManager {
 public:
  // Adds a listener to `registry` (which must outlive the manager's use:
  // listeners live as long as the registry, so the manager must too —
  // destroy the registry first or keep both for the process's lifetime).
  // InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<OverloadManager>> Create(
      HealthRegistry* registry, OverloadOptions options);

  OverloadManager(const OverloadManager&) = delete;
  OverloadManager& operator=(const OverloadManager&) = delete;

  // Adds an application action, on at `at` or worse. Evaluated at once.
  void AddCallback(std::string name, Status at,
                   std::function<void(bool active)> callback)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The hot-path reads of the built-in actions.
  bool shedding() { return Read(0); }
  bool closing_connections() { return Read(1); }
  bool stopping_accept() { return Read(2); }
  // Blocks while stop_accepting is on, for at most `timeout`; returns
  // !stopping_accept() as of return. Wakes at once when an evaluation turns
  // the action off; a release that only waits for `hold` to pass is seen at
  // the timeout (the caller loops). Used by the accept gate.
  bool WaitUntilAccepting(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Whole seconds, for the Retry-After header.
  int64_t retry_after_seconds() const { return retry_after_seconds_; }
  // The current pressure level (worst status of the watched checks).
  Status level() const { return static_cast<Status>(level_.load()); }
  // Every action's state (built-in ones first).
  std::vector<OverloadActionState> States() const ABSL_LOCKS_EXCLUDED(mu_);

  // Re-reads the watched checks from the registry's snapshot and updates
  // the actions (the listener calls it; so may a test).
  void Evaluate() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Action {
    OverloadActionState state;
    absl::Time on_since = absl::InfinitePast();
    std::function<void(bool)> callback;
  };
  OverloadManager(HealthRegistry* registry, OverloadOptions options);
  bool Read(int index) {
    if (release_pending_.load(std::memory_order_relaxed)) Evaluate();
    return flags_[index].load(std::memory_order_relaxed);
  }
  // Updates every action for `level` at `now`; returns the callbacks to run.
  std::vector<std::function<void()>> UpdateLocked(Status level, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HealthRegistry* const registry_;
  const OverloadOptions options_;
  Clock* const clock_;
  const int64_t retry_after_seconds_;
  std::atomic<int> level_{static_cast<int>(Status::kUnknown)};
  // shed, close_connections, stop_accepting.
  std::atomic<bool> flags_[3] = {false, false, false};
  std::atomic<bool> release_pending_{false};

  mutable Mutex mu_;
  std::vector<Action> actions_ ABSL_GUARDED_BY(mu_);
  // Serialises callback delivery in evaluation order.
  Mutex deliver_mu_;
};

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_OVERLOAD_H_
