#include "watchdog/watchdog.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "health/internal/duration.h"
#include "health/pressure/internal/file.h"
#include "watchdog/internal/lifeline.h"
#include "watchdog/internal/procfs.h"
#include "watchdog/internal/stack_capture.h"

namespace vigil {
namespace internal {

// Everything the Watchdog keeps per heartbeat. The slot is shared with the
// beating thread; `tid` and `status` are guarded by Watchdog::mu_; the rest
// is the monitor's bookkeeping, touched only under Watchdog::tick_mu_ (and
// before publication, by Register()).
struct HeartbeatRecord {
  HeartbeatSlot slot;
  std::string name;
  HeartbeatOptions options;

  // Guarded by Watchdog::mu_.
  pid_t tid = 0;
  HeartbeatStatus status;

  // Monitor bookkeeping (Watchdog::tick_mu_).
  absl::Time last_alive;
  uint32_t pause_depth = 0;
  uint64_t scope_word = 0;
  // Open scopes the monitor has seen, outermost first: word, first seen.
  std::vector<std::pair<uint64_t, absl::Time>> scopes;
  WatchdogStage stage = WatchdogStage::kOk;
  absl::Duration jitter = absl::ZeroDuration();
  absl::Time miss_time;
  CpuStarvationSample baseline;
  bool suppression_reported = false;
  std::string kill_suppressed;
  std::vector<std::string> stack;
  std::string stack_error;
};

}  // namespace internal

namespace {

using internal::HeartbeatRecord;
using internal::HeartbeatSlot;
using internal::NonNegative;

constexpr char kLogPrefix[] = "[vigil-watchdog] ";

// Where empty Heartbeat handles point: beats on it are harmless.
HeartbeatSlot* EmptySlot() {
  static HeartbeatSlot* const slot = new HeartbeatSlot();
  return slot;
}

// Only one Watchdog per process publishes to the supervisor.
std::atomic<bool> g_lifeline_claimed{false};

absl::Status Validate(const WatchdogOptions& o) {
  if (o.tick <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("tick: must be > 0");
  }
  if (o.kill_jitter < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("kill_jitter: must be >= 0");
  }
  if (o.stack_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("stack_timeout: must be > 0");
  }
  if (o.shutdown_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shutdown_timeout: must be > 0");
  }
  const StarvationOptions& s = o.starvation;
  for (double f : {s.monitor_late_fraction, s.throttled_fraction,
                   s.cpu_pressure_fraction}) {
    if (!(f > 0)) {
      return absl::InvalidArgumentError("starvation: fractions must be > 0");
    }
  }
  if (o.capture_stacks) {
    const int signo = o.stack_signal == 0 ? SIGRTMIN + 6 : o.stack_signal;
    absl::StatusOr<internal::StackCapturer*> c =
        internal::StackCapturer::Get(signo);
    if (!c.ok()) return c.status();
  }
  return absl::OkStatus();
}

absl::Status ValidateHeartbeat(absl::string_view name,
                               const HeartbeatOptions& o) {
  if (name.empty()) return absl::InvalidArgumentError("name: empty");
  if (o.miss_after <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("miss_after: must be > 0");
  }
  if (o.long_miss_after < o.miss_after) {
    return absl::InvalidArgumentError("long_miss_after: must be >= miss_after");
  }
  if (o.kill_after < o.long_miss_after) {
    return absl::InvalidArgumentError("kill_after: must be >= long_miss_after");
  }
  return absl::OkStatus();
}

std::string Percent(double share) {
  return absl::StrFormat("%.0f%%", share * 100);
}

// The thresholds in force for `r`: its own, or scaled by a WatchScope.
struct Thresholds {
  absl::Duration miss;
  absl::Duration long_miss;
  absl::Duration kill;
};

Thresholds EffectiveThresholds(const HeartbeatRecord& r) {
  Thresholds t{r.options.miss_after, r.options.long_miss_after,
               r.options.kill_after};
  if (r.scope_word == 0) return t;
  const absl::Duration timeout =
      absl::Milliseconds(static_cast<int64_t>(r.scope_word & 0xffffffffu));
  const double scale = absl::FDivDuration(timeout, r.options.miss_after);
  t.miss = timeout;
  t.long_miss = r.options.long_miss_after * scale;
  t.kill = r.options.kill_after * scale;
  return t;
}

}  // namespace

namespace internal {

// One heartbeat's state during one monitor step (Watchdog::tick_mu_ held).
struct HeartbeatStep {
  HeartbeatStep(HeartbeatRecord& record, pid_t tid, absl::Time now,
                absl::Duration lateness, const std::string& root)
      : r(record), tid(tid), now(now), lateness(lateness), root(root) {}

  // An event about this heartbeat at this step.
  WatchdogEvent Event(WatchdogEvent::Kind kind, absl::Duration silent,
                      absl::Duration threshold) {
    if (!thread_name.has_value()) {
      thread_name = tid != 0 ? ThreadName(root, tid) : "";
    }
    WatchdogEvent e;
    e.kind = kind;
    e.heartbeat = r.name;
    e.tid = tid;
    e.thread_name = *thread_name;
    if (word != 0 && label != nullptr) e.scope = label;
    e.silent_for = silent;
    e.threshold = threshold;
    e.monitor_lateness = lateness;
    e.time = now;
    return e;
  }

  HeartbeatRecord& r;
  const pid_t tid;  // As read under Watchdog::mu_ at the step's start.
  const absl::Time now;
  const absl::Duration lateness;
  const std::string& root;
  // Sampled from the slot.
  uint32_t pause = 0;
  uint64_t word = 0;
  const char* label = nullptr;
  bool activity = false;  // A beat, a pause change or a scope change.
  // Derived.
  Thresholds thresholds;
  absl::Time reference;  // Where the silence counts from.
  absl::Duration age = absl::ZeroDuration();
  std::optional<std::string> thread_name;  // Read once, if needed.
};

// What the monitor thread and ~Watchdog share; owned by both, so it
// outlives whichever ends last.
struct MonitorExit {
  Mutex mu;
  // Listeners being called (nested if one runs RunOnceForTest()): the only
  // place the monitor may be abandoned.
  int in_listener ABSL_GUARDED_BY(mu) = 0;
  // The Watchdog is gone: the monitor must touch nothing of it.
  bool abandoned ABSL_GUARDED_BY(mu) = false;
  // The monitor thread has finished.
  bool done ABSL_GUARDED_BY(mu) = false;
};

}  // namespace internal

namespace {

// Samples `step.r`'s slot into `step` and follows its WatchScopes.
void SampleSlot(internal::HeartbeatStep& step) {
  HeartbeatRecord& r = step.r;
  HeartbeatSlot& slot = r.slot;
  // Clearing `touched` only when set keeps the line clean in the common
  // idle case.
  const bool touched = slot.touched.load(std::memory_order_relaxed) != 0 &&
                       slot.touched.exchange(0, std::memory_order_relaxed) != 0;
  step.pause = slot.pause_depth.load(std::memory_order_acquire);
  step.word = slot.scope.load(std::memory_order_acquire);
  step.label = slot.scope_label.load(std::memory_order_acquire);

  const uint64_t word = step.word;
  step.activity = step.pause != r.pause_depth;
  if (word != r.scope_word) {
    step.activity = true;
    if (word == 0) {
      r.scopes.clear();
    } else {
      auto it = std::find_if(r.scopes.begin(), r.scopes.end(),
                             [word](const auto& s) { return s.first == word; });
      if (it != r.scopes.end()) {
        r.scopes.erase(it + 1, r.scopes.end());  // Back to an outer scope.
      } else {
        r.scopes.emplace_back(word, step.now);
      }
    }
    r.scope_word = word;
  }
  r.pause_depth = step.pause;
  // Inside a scope only the scope's own clock counts, not beats.
  if (touched && word == 0) step.activity = true;
}

}  // namespace

absl::string_view StageName(WatchdogStage stage) {
  switch (stage) {
    case WatchdogStage::kOk:
      return "ok";
    case WatchdogStage::kMiss:
      return "miss";
    case WatchdogStage::kLongMiss:
      return "long miss";
    case WatchdogStage::kKill:
      return "kill";
  }
  return "?";
}

absl::string_view EventKindName(WatchdogEvent::Kind kind) {
  switch (kind) {
    case WatchdogEvent::Kind::kMiss:
      return "miss";
    case WatchdogEvent::Kind::kLongMiss:
      return "long miss";
    case WatchdogEvent::Kind::kKill:
      return "kill";
    case WatchdogEvent::Kind::kKillSuppressed:
      return "kill suppressed";
    case WatchdogEvent::Kind::kRecovered:
      return "recovered";
  }
  return "?";
}

namespace {

absl::string_view ActionName(KillAction a) {
  switch (a) {
    case KillAction::kNone:
      return "none (liveness fails)";
    case KillAction::kAbort:
      return "abort";
    case KillAction::kReExec:
      return "re-exec";
  }
  return "?";
}

}  // namespace

std::string WatchdogEvent::ToString() const {
  std::string kind_name(EventKindName(kind));
  for (char& c : kind_name) c = static_cast<char>(std::toupper(c));
  std::string out =
      absl::StrCat(kLogPrefix, kind_name, " heartbeat \"", heartbeat, "\"");
  if (tid != 0) {
    absl::StrAppend(&out, " (thread ", tid, " \"", thread_name, "\")");
  }
  if (kind == Kind::kRecovered) {
    absl::StrAppend(&out, ": alive again after ",
                    absl::FormatDuration(silent_for), " of silence");
  } else {
    absl::StrAppend(&out, ": silent for ", absl::FormatDuration(silent_for),
                    " (threshold ", absl::FormatDuration(threshold), ")");
  }
  if (!scope.empty()) absl::StrAppend(&out, " in scope \"", scope, "\"");
  absl::StrAppend(&out, "; monitor late by ",
                  absl::FormatDuration(monitor_lateness));
  if (kind == Kind::kKill) {
    absl::StrAppend(&out, "; action: ", ActionName(action));
  }
  if (kind == Kind::kKillSuppressed) {
    absl::StrAppend(&out, "; not killed: ",
                    debugger_attached ? "a debugger is attached"
                                      : "the process was starved");
  }
  out += "\n";
  if (!starvation.empty()) {
    absl::StrAppend(&out, "  starvation: ", starvation, "\n");
  }
  if (kind == Kind::kLongMiss || kind == Kind::kKill) {
    if (!stack.empty()) {
      absl::StrAppend(&out, "  stack of thread ", tid, ":\n");
      for (const std::string& frame : stack) {
        absl::StrAppend(&out, "    ", frame, "\n");
      }
    } else if (!stack_error.empty()) {
      absl::StrAppend(&out, "  stack unavailable: ", stack_error, "\n");
    }
  }
  return out;
}

// ---------------------------------------------------------------- Heartbeat

Heartbeat::Heartbeat() : slot_(EmptySlot()) {}

Heartbeat::Heartbeat(Watchdog* watchdog,
                     std::shared_ptr<internal::HeartbeatRecord> r)
    : watchdog_(watchdog), record_(std::move(r)), slot_(&record_->slot) {}

Heartbeat::~Heartbeat() { Reset(); }

Heartbeat::Heartbeat(Heartbeat&& other) noexcept
    : watchdog_(other.watchdog_),
      record_(std::move(other.record_)),
      slot_(other.slot_) {
  other.watchdog_ = nullptr;
  other.slot_ = EmptySlot();
}

Heartbeat& Heartbeat::operator=(Heartbeat&& other) noexcept {
  if (this != &other) {
    Reset();
    watchdog_ = other.watchdog_;
    record_ = std::move(other.record_);
    slot_ = other.slot_;
    other.watchdog_ = nullptr;
    other.slot_ = EmptySlot();
  }
  return *this;
}

void Heartbeat::Reset() {
  if (record_ != nullptr && watchdog_ != nullptr) {
    watchdog_->Unregister(record_.get());
  }
  record_.reset();
  watchdog_ = nullptr;
  slot_ = EmptySlot();
}

void Heartbeat::Pause() {
  slot_->pause_depth.fetch_add(1, std::memory_order_release);
}

void Heartbeat::Resume() {
  uint32_t depth = slot_->pause_depth.load(std::memory_order_relaxed);
  while (depth > 0 && !slot_->pause_depth.compare_exchange_weak(
                          depth, depth - 1, std::memory_order_release)) {
  }
  slot_->touched.store(1, std::memory_order_relaxed);
}

void Heartbeat::BindCurrentThread() {
  if (record_ != nullptr && watchdog_ != nullptr) {
    watchdog_->Bind(record_.get());
  }
}

const std::string& Heartbeat::name() const {
  static const std::string* const kEmpty = new std::string();
  return record_ != nullptr ? record_->name : *kEmpty;
}

WatchScope::WatchScope(Heartbeat& heartbeat, absl::Duration timeout,
                       const char* label)
    : record_(heartbeat.record_),
      slot_(heartbeat.slot_),
      previous_(slot_->scope.load(std::memory_order_relaxed)),
      previous_label_(slot_->scope_label.load(std::memory_order_relaxed)) {
  // Whole milliseconds, rounded up (integer arithmetic: this runs per
  // operation).
  const int64_t ns = absl::ToInt64Nanoseconds(timeout);
  const int64_t ms = std::clamp<int64_t>(
      ns / 1000000 + (ns % 1000000 > 0 ? 1 : 0), 1, 0xffffffff);
  uint32_t seq = slot_->scope_seq.load(std::memory_order_relaxed) + 1;
  if (seq == 0) seq = 1;
  slot_->scope_seq.store(seq, std::memory_order_relaxed);
  slot_->scope_label.store(label, std::memory_order_relaxed);
  slot_->scope.store(
      (static_cast<uint64_t>(seq) << 32) | static_cast<uint64_t>(ms),
      std::memory_order_release);
}

WatchScope::~WatchScope() {
  slot_->scope_label.store(previous_label_, std::memory_order_relaxed);
  slot_->scope.store(previous_, std::memory_order_release);
  slot_->touched.store(1, std::memory_order_relaxed);
}

// ----------------------------------------------------------------- Watchdog

Watchdog::Watchdog(WatchdogOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      status_(Validate(options_)),
      exit_(std::make_shared<internal::MonitorExit>()) {
  if (!status_.ok()) return;
  if (options_.kill_action == KillAction::kReExec) {
    absl::StatusOr<std::vector<std::string>> argv =
        internal::Cmdline(options_.root);
    if (argv.ok()) reexec_argv_ = *std::move(argv);
  }
  if (options_.publish_to_supervisor &&
      internal::AttachedLifeline() != nullptr) {
    bool expected = false;
    publishes_ = g_lifeline_claimed.compare_exchange_strong(expected, true);
  }
  {
    MutexLock lock(&tick_mu_);
    next_due_ = clock_->Now();
  }
  if (options_.start_thread) {
    // The thread owns `exit` too: it may outlive the Watchdog.
    monitor_ = std::thread([this, exit = exit_] {
      MonitorLoop();
      MutexLock lock(&exit->mu);
      exit->done = true;
    });
  }
}

Watchdog::~Watchdog() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  if (monitor_.joinable()) {
    bool finished;
    {
      internal::MonitorExit& exit = *exit_;
      MutexLock lock(&exit.mu);
      finished = exit.mu.AwaitWithTimeout(
          [&exit]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return exit.done; },
          options_.shutdown_timeout);
      if (!finished) {
        // Mid-step (bounded) or in a listener (maybe forever): abandon it
        // there, never elsewhere, since a step uses this object throughout.
        exit.mu.Await([&exit]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return exit.done || exit.in_listener > 0;
        });
        finished = exit.done;
        exit.abandoned = !finished;
      }
    }
    if (finished) {
      monitor_.join();
    } else {
      monitor_.detach();
      const std::string msg =
          absl::StrCat(kLogPrefix, "a listener did not return within ",
                       absl::FormatDuration(options_.shutdown_timeout),
                       " of shutdown; leaving it on its own thread\n");
      ssize_t ignored = write(STDERR_FILENO, msg.data(), msg.size());
      (void)ignored;
    }
  }
  if (publishes_) {
    // Stop being judged for silence: the monitor is gone on purpose.
    internal::LifelineBlock* block = internal::AttachedLifeline();
    if (block != nullptr) block->armed.store(0, std::memory_order_release);
    g_lifeline_claimed.store(false);
  }
}

absl::StatusOr<Heartbeat> Watchdog::Register(absl::string_view name,
                                             HeartbeatOptions options) {
  if (!status_.ok()) return status_;
  if (absl::Status s = ValidateHeartbeat(name, options); !s.ok()) return s;
  auto record = std::make_shared<HeartbeatRecord>();
  record->name = std::string(name);
  record->options = options;
  record->last_alive = clock_->Now();
  record->status.name = record->name;
  record->status.miss_after = options.miss_after;
  record->status.kill_after = options.kill_after;
  if (options.bind_current_thread) {
    record->tid = internal::CurrentThreadId();
    record->status.tid = record->tid;
  }
  {
    MutexLock lock(&mu_);
    records_.push_back(record);
  }
  return Heartbeat(this, std::move(record));
}

void Watchdog::Unregister(const HeartbeatRecord* record) {
  MutexLock lock(&mu_);
  records_.erase(
      std::remove_if(records_.begin(), records_.end(),
                     [record](const auto& r) { return r.get() == record; }),
      records_.end());
}

void Watchdog::Bind(HeartbeatRecord* record) {
  const pid_t tid = internal::CurrentThreadId();
  MutexLock lock(&mu_);
  record->tid = tid;
  record->status.tid = tid;
}

void Watchdog::AddListener(WatchdogListener listener) {
  MutexLock lock(&mu_);
  listeners_.push_back(std::move(listener));
}

std::vector<HeartbeatStatus> Watchdog::Statuses() const {
  MutexLock lock(&mu_);
  std::vector<HeartbeatStatus> out;
  out.reserve(records_.size());
  for (const auto& r : records_) out.push_back(r->status);
  return out;
}

std::vector<HeartbeatStatus> Watchdog::Hung() const {
  MutexLock lock(&mu_);
  std::vector<HeartbeatStatus> out;
  for (const auto& r : records_) {
    if (r->status.stage == WatchdogStage::kKill) out.push_back(r->status);
  }
  return out;
}

absl::Time Watchdog::RunOnceForTest() { return Tick(); }

WatchdogCounters Watchdog::counters() const {
  auto get = [this](WatchdogEvent::Kind k) {
    return counters_[static_cast<int>(k)].load(std::memory_order_relaxed);
  };
  WatchdogCounters c;
  c.misses = get(WatchdogEvent::Kind::kMiss);
  c.long_misses = get(WatchdogEvent::Kind::kLongMiss);
  c.kills = get(WatchdogEvent::Kind::kKill);
  c.kills_suppressed = get(WatchdogEvent::Kind::kKillSuppressed);
  c.recoveries = get(WatchdogEvent::Kind::kRecovered);
  return c;
}

bool Watchdog::MonitorLoop() {
  for (;;) {
    bool abandoned = false;
    const absl::Time next = Tick(&abandoned);
    if (abandoned) return false;
    MutexLock lock(&mu_);
    if (clock_->AwaitWithDeadline(
            &mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; },
            next)) {
      return true;
    }
  }
}

absl::Time Watchdog::Tick(bool* abandoned) {
  // The monitor's own reference: Deliver() may find the Watchdog gone.
  const std::shared_ptr<internal::MonitorExit> exit = exit_;
  std::vector<WatchdogEvent> events;
  std::vector<WatchdogListener> listeners;
  absl::Time next;
  {
    MutexLock tick_lock(&tick_mu_);
    next = EvaluateLocked(&events, &listeners);
  }
  // Listeners and the kill action run with no watchdog lock held, as the
  // header promises: a listener may call Statuses(), Hung() or Register().
  const bool alive = Deliver(events, listeners, *exit);
  if (abandoned != nullptr) *abandoned = !alive;
  return next;
}

absl::Time Watchdog::EvaluateLocked(std::vector<WatchdogEvent>* events,
                                    std::vector<WatchdogListener>* listeners) {
  const absl::Time now = clock_->Now();
  if (!status_.ok()) {
    next_due_ = now + options_.tick;
    return next_due_;
  }
  const absl::Duration lateness = NonNegative(now - next_due_);

  std::vector<std::shared_ptr<HeartbeatRecord>> records;
  std::vector<pid_t> tids;
  {
    MutexLock lock(&mu_);
    records = records_;
    *listeners = listeners_;
    for (const auto& r : records) tids.push_back(r->tid);
  }

  std::string lifeline_stack;  // A stack to hand to the supervisor.
  absl::Time next = now + options_.tick;
  for (size_t i = 0; i < records.size(); ++i) {
    internal::HeartbeatStep step(*records[i], tids[i], now, lateness,
                                 options_.root);
    next =
        std::min(next, EvaluateHeartbeatLocked(step, events, &lifeline_stack));
  }
  if (publishes_) UpdateLifelineLocked(records, lifeline_stack);
  next_due_ = next;
  return next;
}

absl::Time Watchdog::EvaluateHeartbeatLocked(internal::HeartbeatStep& step,
                                             std::vector<WatchdogEvent>* events,
                                             std::string* lifeline_stack) {
  HeartbeatRecord& r = step.r;
  SampleSlot(step);

  step.thresholds = EffectiveThresholds(r);
  if (step.activity || step.pause > 0) {
    // Alive (or paused): the episode, if any, ends.
    if (r.stage != WatchdogStage::kOk) {
      events->push_back(step.Event(WatchdogEvent::Kind::kRecovered,
                                   NonNegative(step.now - r.last_alive),
                                   step.thresholds.miss));
    }
    r.last_alive = step.now;
    r.stage = WatchdogStage::kOk;
    r.suppression_reported = false;
    r.kill_suppressed.clear();
    r.stack.clear();
    r.stack_error.clear();
  }

  // A scope counts from its own start, so an outer scope resumed after
  // an inner one keeps its original deadline.
  step.reference = step.word != 0 && !r.scopes.empty() ? r.scopes.back().second
                                                       : r.last_alive;
  step.age = step.pause > 0 ? absl::ZeroDuration()
                            : NonNegative(step.now - step.reference);

  absl::Time due = absl::InfiniteFuture();
  if (step.pause == 0) {
    EscalateLocked(step, events, lifeline_stack);
    // Wake exactly when the next stage falls due.
    const Thresholds& t = step.thresholds;
    std::optional<absl::Duration> after;
    if (r.stage == WatchdogStage::kOk) after = t.miss;
    if (r.stage == WatchdogStage::kMiss) after = t.long_miss;
    if (r.stage == WatchdogStage::kLongMiss && r.kill_suppressed.empty()) {
      after = t.kill + r.jitter;
    }
    if (after.has_value() && step.reference + *after > step.now) {
      due = step.reference + *after;
    }
  }
  PublishStatus(step);
  return due;
}

void Watchdog::EscalateLocked(internal::HeartbeatStep& step,
                              std::vector<WatchdogEvent>* events,
                              std::string* lifeline_stack) {
  HeartbeatRecord& r = step.r;
  const Thresholds& t = step.thresholds;
  const absl::Duration age = step.age;
  // Miss: reported; the starvation baseline and the kill jitter are taken.
  if (r.stage < WatchdogStage::kMiss && age >= t.miss) {
    r.stage = WatchdogStage::kMiss;
    r.miss_time = step.now;
    if (options_.starvation.enabled) {
      r.baseline = internal::SampleCpuStarvation(options_.root);
    }
    r.jitter = DrawJitter();
    events->push_back(step.Event(WatchdogEvent::Kind::kMiss, age, t.miss));
  }
  // Long miss: the evidence, the thread's stack.
  if (r.stage < WatchdogStage::kLongMiss && age >= t.long_miss) {
    r.stage = WatchdogStage::kLongMiss;
    WatchdogEvent e =
        step.Event(WatchdogEvent::Kind::kLongMiss, age, t.long_miss);
    CaptureStack(r, step.tid);
    if (publishes_ && !r.stack.empty()) {
      *lifeline_stack = absl::StrCat(
          "heartbeat \"", r.name, "\" thread ", step.tid, " \"", e.thread_name,
          "\" silent for ", absl::FormatDuration(age), ":\n",
          absl::StrJoin(r.stack, "\n"), "\n");
    }
    e.stack = r.stack;
    e.stack_error = r.stack_error;
    events->push_back(std::move(e));
  }
  // Kill: unless the process was starved or a debugger is attached.
  const absl::Duration kill_at = t.kill + r.jitter;
  if (r.stage < WatchdogStage::kKill && age >= kill_at) {
    const std::string starved =
        StarvationEvidence(r, step.now, step.lateness, t.miss);
    absl::StatusOr<pid_t> tracer = internal::TracerPid(options_.root);
    const bool debugger = tracer.ok() && *tracer != 0;
    if (!starved.empty() || debugger) {
      r.kill_suppressed =
          !starved.empty()
              ? absl::StrCat("process starved: ", starved)
              : absl::StrCat("debugger attached (TracerPid ", *tracer, ")");
      if (!r.suppression_reported) {
        r.suppression_reported = true;
        WatchdogEvent e =
            step.Event(WatchdogEvent::Kind::kKillSuppressed, age, kill_at);
        e.starvation = starved;
        e.debugger_attached = debugger;
        events->push_back(std::move(e));
      }
      // Retried on the next tick (the step is due again at now + tick).
    } else {
      r.stage = WatchdogStage::kKill;
      r.kill_suppressed.clear();
      WatchdogEvent e = step.Event(WatchdogEvent::Kind::kKill, age, kill_at);
      e.action = options_.kill_action;
      e.stack = r.stack;
      e.stack_error = r.stack_error;
      events->push_back(std::move(e));
    }
  }
}

void Watchdog::PublishStatus(const internal::HeartbeatStep& step) {
  const HeartbeatRecord& r = step.r;
  MutexLock lock(&mu_);
  HeartbeatStatus& st = step.r.status;
  st.tid = r.tid;
  st.stage = r.stage;
  st.silent_for = step.age;
  st.paused = step.pause > 0;
  st.scope = step.word != 0 && step.label != nullptr ? step.label : "";
  st.miss_after = step.thresholds.miss;
  st.kill_after = step.thresholds.kill;
  st.kill_suppressed = r.kill_suppressed;
  if (step.thread_name.has_value()) st.thread_name = *step.thread_name;
}

void Watchdog::UpdateLifelineLocked(
    const std::vector<std::shared_ptr<HeartbeatRecord>>& records,
    const std::string& stack) {
  // A stack handed over earlier is cleared once no heartbeat is stuck
  // past its long miss any more, so a later crash is not blamed on it.
  bool stuck = false;
  for (const auto& r : records) {
    stuck = stuck || r->stage >= WatchdogStage::kLongMiss;
  }
  bool clear = false;
  if (!stack.empty()) {
    lifeline_has_stack_ = true;
  } else if (lifeline_has_stack_ && !stuck) {
    lifeline_has_stack_ = false;
    clear = true;
  }
  PublishToLifeline(stack, clear);
}

bool Watchdog::Deliver(const std::vector<WatchdogEvent>& events,
                       const std::vector<WatchdogListener>& listeners,
                       internal::MonitorExit& exit) {
  const WatchdogEvent* kill = nullptr;
  for (const WatchdogEvent& e : events) {
    counters_[static_cast<int>(e.kind)].fetch_add(1, std::memory_order_relaxed);
    if (options_.log_to_stderr) {
      const std::string line = e.ToString();
      ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
      (void)ignored;
    }
    for (const WatchdogListener& l : listeners) {
      // The destructor may abandon the monitor only while it is in here.
      {
        MutexLock lock(&exit.mu);
        ++exit.in_listener;
      }
      l(e);
      MutexLock lock(&exit.mu);
      --exit.in_listener;
      if (exit.abandoned) return false;
    }
    if (e.kind == WatchdogEvent::Kind::kKill && kill == nullptr) kill = &e;
  }
  if (kill != nullptr && kill->action != KillAction::kNone) Kill(*kill);
  return true;
}

absl::Duration Watchdog::DrawJitter() {
  if (options_.kill_jitter <= absl::ZeroDuration()) {
    return absl::ZeroDuration();
  }
  double u;
  if (options_.random) {
    u = options_.random();
  } else {
    static absl::BitGen* const gen = new absl::BitGen();
    u = absl::Uniform<double>(*gen, 0.0, 1.0);
  }
  if (!(u >= 0)) u = 0;  // Also catches NaN.
  u = std::min(u, std::nextafter(1.0, 0.0));
  return options_.kill_jitter * u;
}

void Watchdog::CaptureStack(HeartbeatRecord& r, pid_t tid) {
  if (!options_.capture_stacks) {
    r.stack_error = "stack capture disabled";
    return;
  }
  if (tid == 0) {
    r.stack_error = "heartbeat not bound to a thread";
    return;
  }
  const int signo =
      options_.stack_signal == 0 ? SIGRTMIN + 6 : options_.stack_signal;
  absl::StatusOr<internal::StackCapturer*> capturer =
      internal::StackCapturer::Get(signo);
  absl::StatusOr<internal::CapturedStack> captured =
      capturer.ok()
          ? (*capturer)->Capture(tid, options_.stack_timeout)
          : absl::StatusOr<internal::CapturedStack>(capturer.status());
  if (captured.ok()) {
    r.stack = internal::SymbolizeFrames(captured->pcs);
    if (!captured->note.empty()) {
      r.stack.insert(r.stack.begin(), absl::StrCat("(", captured->note, ")"));
    }
  } else {
    r.stack_error = std::string(captured.status().message());
  }
}

std::string Watchdog::StarvationEvidence(const HeartbeatRecord& r,
                                         absl::Time now,
                                         absl::Duration lateness,
                                         absl::Duration miss) const {
  const StarvationOptions& starve = options_.starvation;
  if (!starve.enabled) return "";
  const absl::Duration late_limit = miss * starve.monitor_late_fraction;
  if (lateness > late_limit) {
    return absl::StrCat("the monitor woke ", absl::FormatDuration(lateness),
                        " late (limit ", absl::FormatDuration(late_limit), ")");
  }
  if (now <= r.miss_time) return "";
  // What share of the time since the miss the process could not run.
  const absl::Duration window = now - r.miss_time;
  const internal::CpuStarvationSample s =
      internal::SampleCpuStarvation(options_.root);
  if (s.throttled && r.baseline.throttled) {
    const absl::Duration d = *s.throttled - *r.baseline.throttled;
    const double share = absl::FDivDuration(d, window);
    if (share >= starve.throttled_fraction) {
      return absl::StrCat("the cgroup was throttled by its CPU quota for ",
                          absl::FormatDuration(d), " of the last ",
                          absl::FormatDuration(window), " (", Percent(share),
                          ")");
    }
  }
  if (s.cpu_pressure_some && r.baseline.cpu_pressure_some) {
    const absl::Duration d =
        *s.cpu_pressure_some - *r.baseline.cpu_pressure_some;
    const double share = absl::FDivDuration(d, window);
    if (share >= starve.cpu_pressure_fraction) {
      return absl::StrCat("tasks of the cgroup waited for a CPU for ",
                          absl::FormatDuration(d), " of the last ",
                          absl::FormatDuration(window), " (", Percent(share),
                          ", cpu.pressure)");
    }
  }
  return "";
}

void Watchdog::PublishToLifeline(const std::string& stack, bool clear_stack) {
  internal::LifelineBlock* block = internal::AttachedLifeline();
  if (block == nullptr) return;
  if (!stack.empty() || clear_stack) block->stack.Write(stack);
  const HeartbeatStatus* hung = nullptr;
  MutexLock lock(&mu_);
  for (const auto& r : records_) {
    if (r->status.stage == WatchdogStage::kKill && hung == nullptr) {
      hung = &r->status;
    }
  }
  if (hung != nullptr) {
    if (block->hung.load(std::memory_order_acquire) == 0 ||
        block->hung_heartbeat.Read() != hung->name) {
      block->hung_heartbeat.Write(hung->name);
    }
    block->hung_silent_nanos.store(absl::ToInt64Nanoseconds(hung->silent_for),
                                   std::memory_order_relaxed);
    block->hung.store(1, std::memory_order_release);
  } else if (block->hung.load(std::memory_order_relaxed) != 0) {
    block->hung.store(0, std::memory_order_release);
  }
  block->progress.fetch_add(1, std::memory_order_release);
  block->armed.store(1, std::memory_order_release);
}

void Watchdog::Kill(const WatchdogEvent& event) {
  (void)event;
  if (options_.kill_action == KillAction::kReExec &&
      internal::AttachedLifeline() == nullptr && !reexec_argv_.empty()) {
    std::vector<char*> argv;
    for (const std::string& a : reexec_argv_) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    // The new image inherits this thread's signal mask: start it clean.
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    const std::string self =
        pressure::internal::JoinRoot(options_.root, "/proc/self/exe");
    execv(self.c_str(), argv.data());
    const std::string msg =
        absl::StrCat(kLogPrefix, "re-exec of ", self,
                     " failed: ", std::strerror(errno), "; aborting instead\n");
    ssize_t ignored = write(STDERR_FILENO, msg.data(), msg.size());
    (void)ignored;
  }
  std::abort();
}

}  // namespace vigil
