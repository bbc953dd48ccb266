// Watchdog: heartbeats and deadlines for threads and event loops, with
// staged escalation and the stuck thread's own stack as evidence.
//
// A thread (or the event loop running on it) registers a heartbeat with
// thresholds and beats while it makes progress. A monitor thread, owned by
// the Watchdog, samples every heartbeat each tick and escalates a silent one
// in stages, one alert per stage per episode:
//
//   miss       silent for `miss_after`: reported (log + listeners).
//   long miss  silent for `long_miss_after`: evidence is captured: the
//              thread's own stack (taken on that thread through a signal,
//              symbolized outside the handler), its name, the silence and
//              the monitor's own lateness.
//   kill       silent for `kill_after` (+ optional jitter): liveness fails
//              naming the thread (watchdog/liveness.h), a supervisor is told
//              (watchdog/supervisor.h), and the configured KillAction runs
//              (nothing, abort() or re-exec) -- unless a debugger is attached
//              or the process, not the thread, was starved.
//   recovered  the heartbeat shows life again after a miss.
//
// A beat is one relaxed atomic store to the heartbeat's own cache line: no
// lock, no syscall, no clock read. The monitor owns the clock: it notes when
// it first saw a beat, so measured silences are exact to one tick.
//
//   vigil::Watchdog watchdog;  // real clock, monitor thread started
//   vigil::HeartbeatOptions hb;
//   hb.miss_after = absl::Milliseconds(500);
//   hb.long_miss_after = absl::Seconds(2);
//   hb.kill_after = absl::Seconds(5);
//   // On the thread to watch:
//   vigil::Heartbeat heartbeat = watchdog.Register("io-loop", hb).value();
//   while (running) {
//     heartbeat.Beat();
//     RunOneIteration();
//     {
//       vigil::WatchScope scope(heartbeat, absl::Seconds(30), "compaction");
//       Compact();  // may take up to 30 s
//     }
//     {
//       vigil::ScopedPause pause(heartbeat);  // unbounded by design
//       WaitForUserInput();
//     }
//   }
//
// Stack capture (the long-miss stage, once per episode, for the silent
// thread only). Cost: the monitor reads /proc/self/task/<tid>/syscall and
// queues `stack_signal` (default SIGRTMIN + 6, handler installed with
// SA_RESTART | SA_ONSTACK on first use and kept) to the thread; the handler
// walks frame pointers (plus a bounded scan for frame-pointer-less libc
// frames) with no lock, no allocation and only raw syscalls, for tens of
// microseconds on that thread; symbolizing takes about a millisecond on the
// monitor. An unanswered capture is abandoned after `stack_timeout` without
// affecting later ones. What the application may observe: a thread blocked
// in a call that a signal handler would make fail with EINTR despite
// SA_RESTART (poll, ppoll, select, pselect6, epoll_wait, epoll_pwait,
// epoll_pwait2, nanosleep, clock_nanosleep, pause, sigsuspend, sigtimedwait,
// msgrcv, msgsnd, semop, semtimedop, io_getevents, io_uring_enter, a timed
// futex wait, socket calls with SO_RCVTIMEO/SO_SNDTIMEO) is not signalled:
// its stack is scanned from the monitor and the report says so. Other
// blocking calls are restarted by the kernel. Left: a thread that enters
// one of those calls at the moment of the signal, or a poll/select whose
// wait just ended while it waits for a CPU, can fail once with EINTR.
// `capture_stacks = false` rules that out. Supervised
// (watchdog/supervisor.h), the supervisor additionally captures every
// thread from outside with ptrace before a restart: no signal, exact
// DWARF unwinding, works when the whole process is stuck or stopped.
//
// Starvation vs hang: before the kill stage blames a thread, the monitor
// asks whether the whole process was starved: it woke late itself (its
// lateness exceeds `starvation.monitor_late_fraction` of the heartbeat's
// miss threshold), or its cgroup was throttled by its CPU quota, or its
// cgroup's CPU pressure (PSI) was high, for a large share of the silence.
// If so the report says so and nothing is killed; the kill stage is
// retried on the next tick.
//
// Shutdown is bounded: ~Watchdog returns within `shutdown_timeout` (1 s)
// even when a listener never returns (see ~Watchdog for what stays alive).
// For /metrics, monitoring/collectors/watchdog_metrics.h writes counters()
// and each heartbeat's silence.

#ifndef VIGIL_WATCHDOG_WATCHDOG_H_
#define VIGIL_WATCHDOG_WATCHDOG_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/clock.h"
#include "health/sync.h"
#include "watchdog/internal/heartbeat_slot.h"

namespace vigil {

class Watchdog;

namespace internal {

struct HeartbeatRecord;
struct HeartbeatStep;
struct MonitorExit;

}  // namespace internal

// Escalation thresholds of one heartbeat, measured from the last time the
// monitor saw it alive.
struct HeartbeatOptions {
  // Silence before a miss is reported. Must be > 0.
  absl::Duration miss_after = absl::Seconds(1);
  // Silence before evidence (the thread's stack) is captured. Must be >=
  // miss_after.
  absl::Duration long_miss_after = absl::Seconds(3);
  // Silence before the heartbeat counts as hung: liveness fails and the kill
  // action runs. Must be >= long_miss_after.
  absl::Duration kill_after = absl::Seconds(10);
  // Whether Register() binds the heartbeat to the calling thread (the thread
  // whose stack is captured). When false, call Heartbeat::BindCurrentThread()
  // from the watched thread before relying on stacks.
  bool bind_current_thread = true;
};

// What the monitor does when a heartbeat reaches its kill stage (and no
// debugger is attached and the process was not starved).
enum class KillAction {
  // Nothing beyond reporting: liveness fails and a supervisor, if any, is
  // told (it restarts the process); an orchestrator may act on liveness.
  kNone,
  // abort(): a core dump with the stuck thread in it; a supervisor (or
  // systemd's Restart=) restarts the process.
  kAbort,
  // execv() of /proc/self/exe with the original argv (read at construction).
  // Replaces the process in place; falls back to abort() if exec fails. Under
  // a supervisor (watchdog/supervisor.h) this is abort(): the supervisor
  // restarts the process cleanly instead.
  kReExec,
};

// When the process, rather than one thread, looks starved of CPU.
struct StarvationOptions {
  // Look for starvation at all. When false the kill stage never defers.
  bool enabled = true;
  // The monitor woke later than planned by more than this fraction of the
  // heartbeat's miss_after.
  double monitor_late_fraction = 0.5;
  // The cgroup was throttled by its CPU quota for at least this share of the
  // time since the miss was reported.
  double throttled_fraction = 0.5;
  // Some task of the process's own cgroup waited for a CPU (cgroup v2
  // cpu.pressure "some") for at least this share of the time since the miss.
  double cpu_pressure_fraction = 0.8;
};

struct WatchdogOptions {
  // Time source of the monitor. Not owned; must outlive the Watchdog.
  // nullptr means Clock::Real().
  Clock* clock = nullptr;
  // How often the monitor samples heartbeats. A silence is measured from the
  // first tick that saw no change, so it can read up to one tick short; the
  // monitor also wakes exactly when a threshold falls due. Must be > 0.
  absl::Duration tick = absl::Milliseconds(100);
  // Start the monitor thread in the constructor. Tests set false and call
  // RunOnceForTest().
  bool start_thread = true;
  KillAction kill_action = KillAction::kNone;
  // The kill stage fires at kill_after + U * kill_jitter, U uniform in
  // [0, 1), drawn once per episode: spreads restarts of many replicas hung
  // on the same cause. Must be >= 0.
  absl::Duration kill_jitter = absl::ZeroDuration();
  // Source of U; values are clamped to [0, 1). nullptr uses absl::BitGen.
  std::function<double()> random;
  // Capture the stuck thread's stack at the long-miss stage (see the
  // overview: cost, signal, and the EINTR a thread may observe).
  bool capture_stacks = true;
  // The signal used to ask a thread for its stack. 0 means SIGRTMIN + 6.
  // One number per process; its handler is installed by the first Watchdog
  // that captures stacks and stays installed.
  int stack_signal = 0;
  // How long to wait for the thread to answer (real time). Must be > 0.
  absl::Duration stack_timeout = absl::Milliseconds(500);
  StarvationOptions starvation;
  // Prefix for every /proc and /sys read (debugger, cgroup, PSI, thread
  // names, argv): "" reads the real files.
  std::string root;
  // Write each event's ToString() to stderr (one write(2) per event).
  bool log_to_stderr = true;
  // How long (real time) the destructor waits for the monitor thread to
  // finish before it abandons a listener that does not return (see
  // ~Watchdog). Must be > 0.
  absl::Duration shutdown_timeout = absl::Seconds(1);
  // In a supervised child (watchdog/supervisor.h), publish progress, hung
  // heartbeats and captured stacks to the supervisor. The first Watchdog of
  // the process to start does; others do not.
  bool publish_to_supervisor = true;
};

// The stage a heartbeat is in.
enum class WatchdogStage {
  kOk = 0,
  kMiss = 1,
  kLongMiss = 2,
  kKill = 3,
};

// "ok", "miss", "long miss" or "kill".
absl::string_view StageName(WatchdogStage stage);

// One alert. Plain value type.
struct WatchdogEvent {
  enum class Kind {
    kMiss,
    kLongMiss,
    kKill,
    // The kill stage was due but deferred: a debugger is attached, or the
    // process was starved (see `starvation`). Reported once per episode.
    kKillSuppressed,
    kRecovered,
  };
  Kind kind = Kind::kMiss;
  // The heartbeat's registered name.
  std::string heartbeat;
  // The bound thread: kernel id and name (0 / empty if never bound).
  pid_t tid = 0;
  std::string thread_name;
  // Label of the WatchScope in force, if any.
  std::string scope;
  // How long the monitor has seen no sign of life. For kRecovered: how long
  // the silence lasted.
  absl::Duration silent_for = absl::ZeroDuration();
  // The threshold that was crossed (for kRecovered: miss_after).
  absl::Duration threshold = absl::ZeroDuration();
  // How late the monitor woke for this tick.
  absl::Duration monitor_lateness = absl::ZeroDuration();
  // Non-empty when the process looks starved: why ("monitor woke 3.1s late",
  // "cgroup throttled 62% of the last 4s").
  std::string starvation;
  bool debugger_attached = false;
  // kKill: the action taken.
  KillAction action = KillAction::kNone;
  // kLongMiss (and kKill, repeating it): the thread's stack, innermost frame
  // first, one symbolized frame per line. Empty if not captured; then
  // `stack_error` says why.
  std::vector<std::string> stack;
  std::string stack_error;
  // On the watchdog's clock.
  absl::Time time = absl::InfinitePast();

  // A multi-line human-readable report, starting
  // "[vigil-watchdog] MISS heartbeat \"io-loop\" (thread 1234 \"io\") ...".
  std::string ToString() const;
};

// "miss", "long miss", "kill", "kill suppressed", "recovered".
absl::string_view EventKindName(WatchdogEvent::Kind kind);

using WatchdogListener = std::function<void(const WatchdogEvent&)>;

// Events delivered since construction, by kind (for metrics).
struct WatchdogCounters {
  uint64_t misses = 0;
  uint64_t long_misses = 0;
  uint64_t kills = 0;
  uint64_t kills_suppressed = 0;
  uint64_t recoveries = 0;
};

// What the monitor currently knows about one heartbeat.
struct HeartbeatStatus {
  std::string name;
  pid_t tid = 0;
  std::string thread_name;
  WatchdogStage stage = WatchdogStage::kOk;
  absl::Duration silent_for = absl::ZeroDuration();
  bool paused = false;
  std::string scope;
  // The thresholds in force (a WatchScope scales them).
  absl::Duration miss_after;
  absl::Duration kill_after;
  // Why the last kill was deferred, if it was.
  std::string kill_suppressed;
};

// A registered heartbeat. Movable, not copyable; destroying it (or
// moving another into it) unregisters. Must not outlive its Watchdog.
//
// Thread safety: Beat(), Pause()/Resume() and WatchScope are meant for the
// watched thread but are safe from any thread (all are atomics on the
// heartbeat's cache line). A default-constructed Heartbeat is empty: its
// methods are harmless no-ops, so it can be a class member assigned later.
class Heartbeat {
 public:
  Heartbeat();
  ~Heartbeat();
  Heartbeat(Heartbeat&& other) noexcept;
  Heartbeat& operator=(Heartbeat&& other) noexcept;
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // "I am making progress." One relaxed atomic store: no lock, no syscall,
  // no clock read.
  void Beat() { slot_->touched.store(1, std::memory_order_relaxed); }

  // Stops watching until the matching Resume(): for work known to be
  // unbounded (waiting for input, a deliberate long sleep). Nestable.
  // Resume() counts as a beat. Prefer ScopedPause.
  void Pause();
  void Resume();

  // Makes the calling thread the one whose stack is captured and whose name
  // is reported (for an event loop registered from another thread).
  void BindCurrentThread();

  // Empty handles have an empty name.
  const std::string& name() const;
  bool empty() const { return record_ == nullptr; }

 private:
  friend class Watchdog;
  friend class WatchScope;
  Heartbeat(Watchdog* watchdog, std::shared_ptr<internal::HeartbeatRecord> r);
  void Reset();

  Watchdog* watchdog_ = nullptr;
  std::shared_ptr<internal::HeartbeatRecord> record_;
  internal::HeartbeatSlot* slot_;
};

// RAII: gives one operation its own deadline on a heartbeat. While it is in
// force, the heartbeat is judged by the scope instead of by its beats:
// silence is counted from when the monitor first saw the scope, and the
// heartbeat's three thresholds are scaled so that miss_after becomes
// `timeout` (a heartbeat with 1s/3s/10s given a 30 s scope escalates at
// 30 s, 90 s and 300 s). Scopes nest; the innermost is in force, and an
// outer scope keeps counting from its own start. Entering and leaving count
// as beats. `label` names the operation in reports; it must outlive the
// scope (a string literal is typical). `timeout` is rounded up to whole
// milliseconds and must be > 0 (a non-positive one is treated as 1 ms).
// The scope shares ownership of the heartbeat's state: destroying, moving or
// resetting the Heartbeat while a scope on it is open is safe (leaving the
// scope then touches state nobody watches any more).
//
//   vigil::WatchScope scope(heartbeat, absl::Seconds(2), "db-commit");
class WatchScope {
 public:
  WatchScope(Heartbeat& heartbeat, absl::Duration timeout,
             const char* label = nullptr);
  ~WatchScope();
  WatchScope(const WatchScope&) = delete;
  WatchScope& operator=(const WatchScope&) = delete;

 private:
  // Keeps `slot_` alive if the Heartbeat goes first (null for an empty one,
  // whose slot is static).
  const std::shared_ptr<internal::HeartbeatRecord> record_;
  internal::HeartbeatSlot* const slot_;
  const uint64_t previous_;
  const char* const previous_label_;
};

// RAII Pause()/Resume().
class ScopedPause {
 public:
  explicit ScopedPause(Heartbeat& heartbeat) : heartbeat_(heartbeat) {
    heartbeat_.Pause();
  }
  ~ScopedPause() { heartbeat_.Resume(); }
  ScopedPause(const ScopedPause&) = delete;
  ScopedPause& operator=(const ScopedPause&) = delete;

 private:
  Heartbeat& heartbeat_;
};

// Owns the monitor thread and the registry of heartbeats. Thread-safe: every
// method may be called from any thread. Listeners run on the monitor thread
// (or the RunOnceForTest caller), one event at a time, with no watchdog lock
// held (a listener may call Statuses(), Hung(), Register() or
// RunOnceForTest()); they should not block for long and must not destroy
// the Watchdog. One that blocks forever delays later events but cannot make
// destruction hang (see ~Watchdog).
class Watchdog {
 public:
  // Invalid options are reported by status(); such a Watchdog monitors
  // nothing and Register() fails with the same error.
  explicit Watchdog(WatchdogOptions options = {});
  // Stops the monitor and returns within `shutdown_timeout` (default 1 s)
  // even when a listener never returns. Bound: shutdown_timeout, plus, if
  // the monitor is then inside a step rather than a listener, the rest of
  // that step (at most `stack_timeout` for a capture and a few small /proc
  // reads). The monitor thread is joined when it finishes in time;
  // otherwise it is detached inside the listener, with one line on stderr.
  // What the stuck listener references stays alive until it returns: its
  // own copy of the listener (and what that captured) and the event it was
  // given. After it returns the thread calls no other listener, runs no
  // kill action, touches nothing of the destroyed Watchdog and ends.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // OK, or InvalidArgument naming the bad option.
  const absl::Status& status() const { return status_; }

  // Registers a heartbeat. Its silence starts counting now. Names need not
  // be unique, but reports are clearer when they are. InvalidArgument for an
  // empty name or bad thresholds; the constructor's error if status() is not
  // OK.
  absl::StatusOr<Heartbeat> Register(absl::string_view name,
                                     HeartbeatOptions options = {})
      ABSL_LOCKS_EXCLUDED(mu_);

  void AddListener(WatchdogListener listener) ABSL_LOCKS_EXCLUDED(mu_);

  // What the monitor knows now, one entry per heartbeat, in registration
  // order.
  std::vector<HeartbeatStatus> Statuses() const ABSL_LOCKS_EXCLUDED(mu_);

  // The heartbeats currently at the kill stage (liveness fails while this is
  // non-empty).
  std::vector<HeartbeatStatus> Hung() const ABSL_LOCKS_EXCLUDED(mu_);

  // Events delivered so far. Lock-free.
  WatchdogCounters counters() const;

  Clock* clock() const { return clock_; }
  absl::Duration tick() const { return options_.tick; }

  // One synchronous monitor step at the clock's current time. Returns when
  // the next step is due. Lateness is measured against the time the previous
  // step returned. Do not combine with start_thread = true.
  absl::Time RunOnceForTest() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class Heartbeat;

  void Unregister(const internal::HeartbeatRecord* record)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Bind(internal::HeartbeatRecord* record) ABSL_LOCKS_EXCLUDED(mu_);
  // The monitor thread's body. Returns false if the Watchdog was destroyed
  // while a listener ran (then nothing of it may be touched any more).
  bool MonitorLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // One monitor step: evaluates under tick_mu_, then delivers with no lock
  // held. Returns when the next step is due; sets *abandoned (if given)
  // when the Watchdog was destroyed during delivery.
  absl::Time Tick(bool* abandoned = nullptr) ABSL_LOCKS_EXCLUDED(mu_, tick_mu_);
  // One monitor step's evaluation: fills `events` and `listeners` (copied
  // under mu_) for Deliver(). Returns when the next step is due.
  absl::Time EvaluateLocked(std::vector<WatchdogEvent>* events,
                            std::vector<WatchdogListener>* listeners)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // One heartbeat's part of a step: samples its slot into `step`, ends or
  // escalates its episode (appending to `events`; a stack for the
  // supervisor to `lifeline_stack`) and publishes its status. Returns when
  // it next falls due (InfiniteFuture if not before the next tick).
  absl::Time EvaluateHeartbeatLocked(internal::HeartbeatStep& step,
                                     std::vector<WatchdogEvent>* events,
                                     std::string* lifeline_stack)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // The miss, long-miss (stack capture) and kill stages of `step`.
  void EscalateLocked(internal::HeartbeatStep& step,
                      std::vector<WatchdogEvent>* events,
                      std::string* lifeline_stack)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_);
  // Copies what the monitor knows of `step`'s heartbeat to its status.
  void PublishStatus(const internal::HeartbeatStep& step)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Hands the supervisor `stack` (or clears one handed over earlier once
  // no heartbeat of `records` is stuck) and advances its progress counter.
  void UpdateLifelineLocked(
      const std::vector<std::shared_ptr<internal::HeartbeatRecord>>& records,
      const std::string& stack) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_);
  // Logs, counts and hands `events` to `listeners`, then runs the kill
  // action if one is due. Called with no watchdog lock held. Returns false,
  // having touched nothing of the Watchdog since, if it was destroyed while
  // a listener ran.
  bool Deliver(const std::vector<WatchdogEvent>& events,
               const std::vector<WatchdogListener>& listeners,
               internal::MonitorExit& exit) ABSL_LOCKS_EXCLUDED(mu_, tick_mu_);
  void Kill(const WatchdogEvent& event);
  // U * kill_jitter for a new episode.
  absl::Duration DrawJitter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_);
  // Fills r.stack, or r.stack_error saying why there is none.
  void CaptureStack(internal::HeartbeatRecord& r, pid_t tid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_);
  // Why the whole process looks starved at `now` ("" if it does not): the
  // monitor's lateness against `miss`, or the cgroup's throttling and CPU
  // pressure since r's miss.
  std::string StarvationEvidence(const internal::HeartbeatRecord& r,
                                 absl::Time now, absl::Duration lateness,
                                 absl::Duration miss) const;
  // Advances the supervisor's progress counter, flags hung heartbeats and
  // hands over `stack` (if not empty; an empty one if `clear_stack`).
  void PublishToLifeline(const std::string& stack, bool clear_stack = false)
      ABSL_LOCKS_EXCLUDED(mu_);

  const WatchdogOptions options_;
  Clock* const clock_;
  const absl::Status status_;

  mutable Mutex mu_;
  std::vector<std::shared_ptr<internal::HeartbeatRecord>> records_
      ABSL_GUARDED_BY(mu_);
  std::vector<WatchdogListener> listeners_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  // Serialises ticks (monitor thread vs RunOnceForTest) and guards the
  // monitor's own bookkeeping.
  Mutex tick_mu_ ABSL_ACQUIRED_AFTER(mu_);
  absl::Time next_due_ ABSL_GUARDED_BY(tick_mu_) = absl::InfinitePast();

  // argv for KillAction::kReExec, read at construction.
  std::vector<std::string> reexec_argv_;
  // Whether this Watchdog publishes to the supervisor's lifeline.
  bool publishes_ = false;
  // Whether the lifeline holds a stack this Watchdog captured.
  bool lifeline_has_stack_ ABSL_GUARDED_BY(tick_mu_) = false;
  // Events delivered, by WatchdogEvent::Kind.
  std::atomic<uint64_t> counters_[5] = {};

  // Shared with the monitor thread, which may outlive the Watchdog when a
  // listener does not return (see ~Watchdog).
  const std::shared_ptr<internal::MonitorExit> exit_;
  std::thread monitor_;
};

}  // namespace vigil

#endif  // VIGIL_WATCHDOG_WATCHDOG_H_
