// HealthRegistry: runs checks in the background and publishes snapshots.
//
// The registry owns a scheduler and a small pool of worker threads. Each
// check runs on its own interval under its own timeout; results pass through
// flap damping and are published as an immutable `Snapshot`. Readers (HTTP
// probes, metrics, the watchdog, your code) only ever read the latest
// snapshot: a probe never triggers work, so a flood of probes costs nothing
// and a slow or hung check never blocks a reader.
//
//   vigil::HealthRegistry registry;
//   vigil::Check db;
//   db.name = "postgres";
//   db.options.kind = vigil::CheckKind::kDependency;
//   db.function = [&](const vigil::CheckContext& ctx) { return Ping(ctx); };
//   if (absl::Status s = registry.Register(std::move(db)); !s.ok()) ...
//   registry.Start();
//   ...
//   bool ready = vigil::IsPassing(registry.GroupStatus(vigil::kReadiness));
//
// Semantics:
// - A run that exceeds its timeout is reported UNHEALTHY at once ("timed out
//   after 5s, running for 12s"), bypassing the failure threshold, and is not
//   started again while it is still in flight. When it finally returns, its
//   result is applied like any other. The timeout counts from when the run
//   was queued, so a run that cannot get a worker also times out.
// - A check that throws is reported UNHEALTHY with the exception's message.
// - Readiness fails until every startup check has passed once, and from
//   BeginShutdown() on.
//
// Thread safety: every method may be called from any thread. Listeners are
// called one at a time, in publication order, on a thread that published
// (scheduler or worker) with no registry lock held; they may call back into
// the registry.

#ifndef VIGIL_HEALTH_REGISTRY_H_
#define VIGIL_HEALTH_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/clock.h"
#include "health/snapshot.h"
#include "health/status.h"

namespace vigil {

// Who is reporting: copied into every HealthReport.
struct ServiceIdentity {
  std::string name = "vigil";
  std::string version;
  // Distinguishes replicas; defaults to the host name when empty.
  std::string instance;
  // Defaults to the registry's construction time.
  absl::Time start_time = absl::InfinitePast();
};

struct RegistryOptions {
  // Time source for every interval, timeout and timestamp. Not owned; must
  // outlive the registry. nullptr means Clock::Real().
  Clock* clock = nullptr;
  // Worker threads started with the registry (values below 1 mean 1).
  int worker_threads = 2;
  // The pool grows by one thread whenever a run is queued while no worker is
  // idle, up to this many, so slow or hung checks (each holds its worker
  // until it returns) do not delay the others. A check never has two runs in
  // flight, so the pool never exceeds the number of checks.
  int max_worker_threads = 128;
  ServiceIdentity service;
  // How long the destructor waits (real time) for runs in flight to return
  // before it leaves them behind (see ~HealthRegistry). Must be >= 0.
  absl::Duration shutdown_timeout = absl::Seconds(1);
};

// A change of reported status of a check or a group.
struct Transition {
  enum class Subject { kCheck, kGroup };
  Subject subject = Subject::kCheck;
  // The check's or group's name.
  std::string name;
  Status from = Status::kUnknown;
  Status to = Status::kUnknown;
  // The check's message, or the group's reason.
  std::string message;
  absl::Time time;
  uint64_t generation = 0;
  // For a check: its raw runs in a row that failed / passed when the
  // transition was published (CheckSnapshot's counts). 0 for a group.
  int consecutive_failures = 0;
  int consecutive_successes = 0;
};

// Called on every transition. See the class comment for threading.
using Listener = std::function<void(const Transition&)>;

// Called after every completed run of a registered check with the check's
// published view (after flap damping), on the worker that ran it, with no
// registry lock held. Runs of different checks may be reported concurrently
// and, rarely, a check's run may be reported before its previous one: order
// by `last_run_time` if it matters. Must be quick (it delays the worker).
using ResultListener = std::function<void(const CheckSnapshot&)>;

// Makes one check's result listener, for listeners that keep state per
// check (a history's ring of samples): given the check's name, returns the
// listener of that check's completed runs (empty for none), which can hold
// what it needs of that state, found once instead of on every run. See
// HealthRegistry::AddResultListenerFactory.
using ResultListenerFactory =
    std::function<ResultListener(absl::string_view check)>;

class HealthRegistry {
 public:
  explicit HealthRegistry(RegistryOptions options = {});
  // Stops the scheduler, lets runs in flight finish for at most
  // `shutdown_timeout`, and returns: bounded (default 1 s past stop) even
  // when a check never returns. A run still stuck then is left on its
  // worker thread (detached, one line on stderr); what it references -- the
  // Check and its function, its CheckContext -- stays alive until it
  // returns, and its result is dropped. No run starts after destruction
  // began. Listeners in progress on a worker are waited for (without
  // bound).
  ~HealthRegistry();

  HealthRegistry(const HealthRegistry&) = delete;
  HealthRegistry& operator=(const HealthRegistry&) = delete;

  // Adds a check; it first runs `initial_delay` after registration. Returns
  // InvalidArgument (see ValidateCheck), or AlreadyExists for a duplicate
  // name or a name-space collision; on error nothing is registered.
  //
  // Check and group names share one name space (gRPC health and the HTTP
  // `/<group>z/<check>` paths address both by bare name): a check may not be
  // named like a group (kLiveness, kReadiness, kStartup, kAllGroup, or any
  // custom group of a registered check), nor belong to a group named like a
  // registered check or like itself.
  absl::Status Register(Check check);

  // Removes a check. A run in flight finishes and is discarded. NotFound if
  // there is no such check.
  absl::Status Unregister(absl::string_view name);

  // Asks for a run of check `name` now instead of at its next interval: for
  // event sources (a kernel pressure notification) that know the result is
  // about to change. The run is queued by the scheduler's next step (at
  // once when Start()ed), goes through the same pool, timeout and flap
  // damping as any run, and publishes as usual; the check's interval then
  // counts from this run. Calls coalesce: while a run is already due (not
  // yet queued) this is a no-op, and while one is queued or running exactly
  // one more run follows it (its result may predate the event). Cheap (one
  // map lookup under the registry lock); never blocks on a check. NotFound
  // if there is no such check.
  //
  // Probes never trigger work: the HTTP adapters never call this. Call it
  // from an event source, not from a request path.
  absl::Status RunNow(absl::string_view name);

  // Starts the background scheduler thread. Idempotent. Without Start(),
  // nothing runs unless RunOnceForTest() is called.
  void Start();
  // Stops the scheduler thread (runs in flight complete on the workers).
  // Idempotent; the destructor calls it.
  void Stop();

  // Drain: from now on readiness fails ("shutting down") while liveness and
  // everything else keep working, so load balancers take the instance out of
  // rotation before it stops. Publishes at once. Idempotent.
  void BeginShutdown();
  bool shutting_down() const;

  // The latest snapshot. Never null (an empty one before any publication).
  // Cheap: copies one shared_ptr under a short reader lock that publication
  // holds only to swap the pointer.
  std::shared_ptr<const Snapshot> snapshot() const;

  // Status of a group in the latest snapshot. Inline and lock-free for
  // kLiveness, kReadiness, kStartup and kAllGroup (their names differ in
  // length, so one length switch, one fixed-size compare and one atomic
  // load); other groups read the snapshot. An unknown custom group is
  // HEALTHY (no checks).
  Status GroupStatus(absl::string_view group) const {
    const int i = FastIndex(group);
    return i >= 0 ? FastStatus(i) : CustomGroupStatus(group);
  }

  // The hot-path readers: exactly one atomic load each.
  Status liveness() const { return FastStatus(0); }
  Status readiness() const { return FastStatus(1); }
  Status startup() const { return FastStatus(2); }
  Status overall() const { return FastStatus(3); }

  // Registers a listener for every later transition. Listeners live as long
  // as the registry.
  void AddListener(Listener listener);
  // Registers a listener for every later completed run (see
  // ResultListener). Lives as long as the registry. With none registered a
  // run costs nothing extra.
  void AddResultListener(ResultListener listener);
  // Registers a factory of per-check result listeners: called for every
  // check registered now and, at every later Register(), before the check
  // can run; the listener it returns is called after each completed run of
  // that check (as a ResultListener, after those of AddResultListener)
  // until the check is unregistered. The factory runs with the registry's
  // lock held: it must be quick and must not call into the registry. Lives
  // as long as the registry.
  //
  //   registry.AddResultListenerFactory([&](absl::string_view name) {
  //     Series* series = store.Resolve(name);  // Once per check.
  //     return [series](const CheckSnapshot& c) { series->Add(c); };
  //   });
  void AddResultListenerFactory(ResultListenerFactory factory);

  // The clock given in RegistryOptions (Clock::Real() if none).
  Clock* clock() const { return clock_; }
  // RegistryOptions::service, with `instance` and `start_time` filled in.
  const ServiceIdentity& service() const;

  // Test hooks: one synchronous scheduler step at the clock's current time
  // (declare timeouts, queue due checks, publish). Returns when the next step
  // is due.
  absl::Time RunOnceForTest();
  // Waits (bounded by `timeout` of real time) until no run is in flight
  // except runs already declared timed out, and every listener of the
  // completed runs has returned. Returns false on timeout.
  bool WaitUntilIdleForTest(absl::Duration timeout = absl::Seconds(10));
  // Current number of worker threads.
  int worker_threads_for_test() const;

 private:
  // Everything else: checks, scheduler, worker pool, listeners, snapshots
  // (health/internal/registry_state.h, not part of the API).
  class Impl;

  // Index of a well-known group in fast_status_, or -1.
  static int FastIndex(absl::string_view group) {
    static_assert(kLiveness.size() == 8 && kReadiness.size() == 9 &&
                      kStartup.size() == 7 && kAllGroup.size() == 3,
                  "FastIndex switches on the well-known names' lengths");
    switch (group.size()) {
      case 8:
        return std::memcmp(group.data(), kLiveness.data(), 8) == 0 ? 0 : -1;
      case 9:
        return std::memcmp(group.data(), kReadiness.data(), 9) == 0 ? 1 : -1;
      case 7:
        return std::memcmp(group.data(), kStartup.data(), 7) == 0 ? 2 : -1;
      case 3:
        return std::memcmp(group.data(), kAllGroup.data(), 3) == 0 ? 3 : -1;
      default:
        return -1;
    }
  }
  // GroupStatus() for groups other than the well-known ones.
  Status CustomGroupStatus(absl::string_view group) const;
  Status FastStatus(int index) const {
    return static_cast<Status>(
        (fast_status_.load(std::memory_order_acquire) >> (8 * index)) & 0xff);
  }

  // Only what the inline readers touch lives here; new private state goes
  // into Impl, so the class's size and layout (part of the SDK's ABI) stay
  // as they are.
  Clock* const clock_;
  // Statuses of liveness, readiness, startup and all, one byte each;
  // stored by every publication.
  std::atomic<uint32_t> fast_status_{0};
  const std::unique_ptr<Impl> impl_;
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_REGISTRY_H_
