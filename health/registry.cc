#include "health/registry.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "health/internal/duration.h"
#include "health/internal/registry_state.h"
#include "health/internal/worker_pool.h"

namespace vigil {
namespace {

constexpr absl::string_view kFastGroups[] = {kLiveness, kReadiness, kStartup,
                                             kAllGroup};

// While a run is stuck past its timeout, the message says for how long; it is
// refreshed at least this often.
constexpr absl::Duration kStuckRefresh = absl::Seconds(1);

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

}  // namespace

struct HealthRegistry::Impl::CheckState
    : std::enable_shared_from_this<CheckState> {
  Check check;
  // The reported view, copied into each snapshot.
  CheckSnapshot published;
  absl::Time next_run;
  bool in_flight = false;
  // In flight and past its timeout.
  bool timed_out = false;
  absl::Time queued_at;
  Status last_notified = Status::kUnknown;
  // `published` as last put in a snapshot; rebuilt when `view_dirty`.
  std::shared_ptr<const CheckSnapshot> view;
  bool view_dirty = true;
  // Still in checks_ (cleared by Unregister).
  bool registered = true;
  // In dirty_.
  bool dirty_listed = false;
  // The key of this check's entry in events_, if `scheduled`.
  bool scheduled = false;
  absl::Time event_at;
  // RunNow() while in flight: run again as soon as this run returns.
  bool rerun_requested = false;
  // Position in checks_ order (and in list_); the groups it counts in, as
  // positions in group_index_. Rebuilt with the group index.
  size_t position = 0;
  std::vector<size_t> group_slots;
  // Made for this check by the result listener factories; copy-on-write
  // like result_listeners_ (nullptr for none).
  std::shared_ptr<const std::vector<ResultListener>> own_result_listeners;
};

namespace {

// The number of statuses, the inner size of GroupIndex::counts.
constexpr int kStatusCount = 4;

// The aggregate of a group from its member counts by [critical][status]:
// Aggregate()'s rules (worst critical status by Worse(); a failing
// non-critical member makes it at least DEGRADED) over counts instead of
// members.
Status AggregateCounts(const int (&counts)[2][kStatusCount]) {
  Status worst = Status::kHealthy;
  for (int i = 0; i < kStatusCount; ++i) {
    const Status s = static_cast<Status>(i);
    if (counts[1][i] > 0) worst = Worse(worst, s);
    if (counts[0][i] > 0 &&
        (s == Status::kDegraded || s == Status::kUnhealthy)) {
      worst = Worse(worst, Status::kDegraded);
    }
  }
  return worst;
}

// Members of a group that are not passing (see IsPassing()).
int NotPassing(const int (&counts)[2][kStatusCount]) {
  int n = 0;
  for (const int* c : counts) {
    for (int i = 0; i < kStatusCount; ++i) {
      if (!IsPassing(static_cast<Status>(i))) n += c[i];
    }
  }
  return n;
}

}  // namespace

// Lets a run on a worker thread that may outlive the registry touch it only
// while it exists: Enter() fails once Close() began, and Close() waits for
// every Enter() to be matched by Leave().
struct HealthRegistry::Impl::Life {
  Mutex mu;
  bool alive ABSL_GUARDED_BY(mu) = true;
  int inside ABSL_GUARDED_BY(mu) = 0;

  bool Enter() {
    MutexLock lock(&mu);
    if (!alive) return false;
    ++inside;
    return true;
  }
  void Leave() {
    MutexLock lock(&mu);
    --inside;
  }
  void Close() {
    MutexLock lock(&mu);
    alive = false;
    mu.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return inside == 0; });
  }
};

// HealthRegistry: the public API, over Impl.

HealthRegistry::HealthRegistry(RegistryOptions options)
    : clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      impl_(std::make_unique<Impl>(clock_, std::move(options), &fast_status_)) {
}

// The shutdown runs while the registry is whole: listeners and late runs it
// waits for may still call into it.
HealthRegistry::~HealthRegistry() { impl_->Shutdown(); }

absl::Status HealthRegistry::Register(Check check) {
  return impl_->Register(std::move(check));
}

absl::Status HealthRegistry::Unregister(absl::string_view name) {
  return impl_->Unregister(name);
}

absl::Status HealthRegistry::RunNow(absl::string_view name) {
  return impl_->RunNow(name);
}

void HealthRegistry::Start() { impl_->Start(); }

void HealthRegistry::Stop() { impl_->Stop(); }

void HealthRegistry::BeginShutdown() { impl_->BeginShutdown(); }

bool HealthRegistry::shutting_down() const { return impl_->shutting_down(); }

std::shared_ptr<const Snapshot> HealthRegistry::snapshot() const {
  return impl_->snapshot();
}

Status HealthRegistry::CustomGroupStatus(absl::string_view group) const {
  std::shared_ptr<const Snapshot> s = impl_->snapshot();
  const GroupSnapshot* g = s->FindGroup(group);
  return g == nullptr ? Status::kHealthy : g->status;
}

void HealthRegistry::AddListener(Listener listener) {
  impl_->AddListener(std::move(listener));
}

void HealthRegistry::AddResultListener(ResultListener listener) {
  impl_->AddResultListener(std::move(listener));
}

void HealthRegistry::AddResultListenerFactory(ResultListenerFactory factory) {
  impl_->AddResultListenerFactory(std::move(factory));
}

const ServiceIdentity& HealthRegistry::service() const {
  return impl_->service();
}

absl::Time HealthRegistry::RunOnceForTest() { return impl_->RunOnceForTest(); }

bool HealthRegistry::WaitUntilIdleForTest(absl::Duration timeout) {
  return impl_->WaitUntilIdleForTest(timeout);
}

int HealthRegistry::worker_threads_for_test() const {
  return impl_->worker_threads_for_test();
}

// HealthRegistry::Impl.

HealthRegistry::Impl::Impl(Clock* clock, RegistryOptions options,
                           std::atomic<uint32_t>* fast_status)
    : clock_(clock),
      service_(std::move(options.service)),
      snapshot_(std::make_shared<Snapshot>()),
      fast_status_(fast_status),
      life_(std::make_shared<Life>()),
      pool_(std::make_unique<internal::WorkerPool>(
          options.worker_threads, options.max_worker_threads,
          std::max(options.shutdown_timeout, absl::ZeroDuration()))) {
  if (service_.instance.empty()) service_.instance = HostName();
  if (service_.start_time == absl::InfinitePast()) {
    service_.start_time = clock_->Now();
  }
  MutexLock lock(&mu_);
  PublishLocked(clock_->Now());
  pending_.clear();
}

void HealthRegistry::Impl::Shutdown() {
  Stop();
  // From here on no run starts and no late result is applied; waits for
  // the ones applying a result now.
  life_->Close();
  // Joins the workers that finish within shutdown_timeout; queued runs
  // return at once (Enter() fails), a stuck one is left behind.
  pool_.reset();
}

absl::Status HealthRegistry::Impl::Register(Check check) {
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  {
    MutexLock lock(&mu_);
    if (checks_.count(check.name) != 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("check name \"", check.name, "\": already registered"));
    }
    if (absl::Status s = CheckNameSpaceLocked(check); !s.ok()) return s;
    const absl::Time now = clock_->Now();
    auto state = std::make_shared<CheckState>();
    CheckSnapshot& p = state->published;
    p.name = check.name;
    p.kind = check.options.kind;
    p.critical = check.options.critical;
    p.groups = check.options.groups;
    std::sort(p.groups.begin(), p.groups.end());
    p.groups.erase(std::unique(p.groups.begin(), p.groups.end()),
                   p.groups.end());
    p.result.message = "not run yet";
    p.state_since = now;
    p.failure_threshold = check.options.failure_threshold;
    p.success_threshold = check.options.success_threshold;
    p.interval = check.options.interval;
    p.timeout = check.options.timeout;
    state->next_run = now + check.options.initial_delay;
    if (!result_listener_factories_.empty()) {
      auto own = std::make_shared<std::vector<ResultListener>>();
      for (const ResultListenerFactory& f : result_listener_factories_) {
        if (ResultListener l = f(check.name)) own->push_back(std::move(l));
      }
      if (!own->empty()) state->own_result_listeners = std::move(own);
    }
    state->check = std::move(check);
    ScheduleLocked(*state, state->next_run);
    checks_.emplace(state->check.name, std::move(state));
    membership_dirty_ = true;
    wake_ = true;
    PublishLocked(now);
  }
  DeliverTransitions();
  return absl::OkStatus();
}

absl::Status HealthRegistry::Impl::Unregister(absl::string_view name) {
  {
    MutexLock lock(&mu_);
    auto it = checks_.find(name);
    if (it == checks_.end()) {
      return absl::NotFoundError(
          absl::StrCat("check name \"", name, "\": not registered"));
    }
    CheckState& state = *it->second;
    state.registered = false;
    UnscheduleLocked(state);
    stuck_.erase(&state);
    checks_.erase(it);
    membership_dirty_ = true;
    PublishLocked(clock_->Now());
  }
  DeliverTransitions();
  return absl::OkStatus();
}

absl::Status HealthRegistry::Impl::RunNow(absl::string_view name) {
  MutexLock lock(&mu_);
  auto it = checks_.find(name);
  if (it == checks_.end()) {
    return absl::NotFoundError(
        absl::StrCat("check name \"", name, "\": not registered"));
  }
  CheckState& state = *it->second;
  if (state.in_flight) {
    state.rerun_requested = true;
    return absl::OkStatus();
  }
  const absl::Time now = clock_->Now();
  if (state.scheduled && state.event_at <= now) return absl::OkStatus();
  state.next_run = now;
  ScheduleLocked(state, now);
  wake_ = true;
  return absl::OkStatus();
}

void HealthRegistry::Impl::Start() {
  MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  scheduler_ = std::thread([this] { SchedulerLoop(); });
}

void HealthRegistry::Impl::Stop() {
  std::thread t;
  {
    MutexLock lock(&mu_);
    if (!running_) return;
    stop_ = true;
    running_ = false;
    t = std::move(scheduler_);
  }
  t.join();
}

void HealthRegistry::Impl::BeginShutdown() {
  {
    MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    shutting_down_fast_.store(true, std::memory_order_release);
    PublishLocked(clock_->Now());
  }
  DeliverTransitions();
}

bool HealthRegistry::Impl::shutting_down() const {
  return shutting_down_fast_.load(std::memory_order_acquire);
}

std::shared_ptr<const Snapshot> HealthRegistry::Impl::snapshot() const {
  MutexLock lock(&snapshot_mu_);
  return snapshot_;
}

void HealthRegistry::Impl::AddListener(Listener listener) {
  MutexLock lock(&mu_);
  auto next = listeners_ == nullptr
                  ? std::make_shared<std::vector<Listener>>()
                  : std::make_shared<std::vector<Listener>>(*listeners_);
  next->push_back(std::move(listener));
  listeners_ = std::move(next);
}

void HealthRegistry::Impl::AddResultListener(ResultListener listener) {
  MutexLock lock(&mu_);
  auto next =
      result_listeners_ == nullptr
          ? std::make_shared<std::vector<ResultListener>>()
          : std::make_shared<std::vector<ResultListener>>(*result_listeners_);
  next->push_back(std::move(listener));
  result_listeners_ = std::move(next);
}

void HealthRegistry::Impl::AddResultListenerFactory(
    ResultListenerFactory factory) {
  MutexLock lock(&mu_);
  for (auto& [name, state] : checks_) {
    ResultListener l = factory(name);
    if (!l) continue;
    const std::shared_ptr<const std::vector<ResultListener>>& old =
        state->own_result_listeners;
    auto next = old == nullptr
                    ? std::make_shared<std::vector<ResultListener>>()
                    : std::make_shared<std::vector<ResultListener>>(*old);
    next->push_back(std::move(l));
    state->own_result_listeners = std::move(next);
  }
  result_listener_factories_.push_back(std::move(factory));
}

absl::Time HealthRegistry::Impl::RunOnceForTest() { return Tick(); }

int HealthRegistry::Impl::worker_threads_for_test() const {
  return pool_->thread_count();
}

bool HealthRegistry::Impl::IdleLocked() const {
  return in_flight_untimed_ == 0 &&
         results_delivering_.load(std::memory_order_acquire) == 0 &&
         !delivering_ && pending_.empty();
}

bool HealthRegistry::Impl::WaitUntilIdleForTest(absl::Duration timeout) {
  const auto deadline = Mutex::DeadlineAfter(timeout);
  MutexLock lock(&mu_);
  while (!IdleLocked()) {
    if (!idle_.WaitWithDeadline(&mu_, deadline)) return IdleLocked();
  }
  return true;
}

absl::Time HealthRegistry::Impl::Tick() {
  std::vector<std::shared_ptr<CheckState>> to_run;
  absl::Time next = absl::InfiniteFuture();
  absl::Time now;
  {
    MutexLock lock(&mu_);
    now = clock_->Now();
    bool changed = !ticked_;
    ticked_ = true;
    // Only the due events: O(k log n) for k due checks.
    while (!events_.empty() && events_.begin()->first <= now) {
      CheckState& s = *events_.begin()->second;
      events_.erase(events_.begin());
      s.scheduled = false;
      if (s.in_flight) {
        // Its timeout deadline: from now on it is stuck.
        s.timed_out = true;
        --in_flight_untimed_;
        ++s.published.consecutive_failures;
        s.published.consecutive_successes = 0;
        stuck_.insert(&s);
      } else {
        s.in_flight = true;
        s.timed_out = false;
        s.queued_at = now;
        s.next_run = now + s.check.options.interval;
        ++in_flight_untimed_;
        to_run.push_back(s.shared_from_this());
      }
    }
    // Queued runs: their deadlines are the next events (scheduled only now,
    // so that a run is never declared timed out in the step that queued it).
    for (const std::shared_ptr<CheckState>& s : to_run) {
      ScheduleLocked(*s, now + s->check.options.timeout);
    }
    // Stuck runs: the message says for how long, refreshed every step.
    for (CheckState* sp : stuck_) {
      CheckState& s = *sp;
      const CheckOptions& o = s.check.options;
      CheckSnapshot& p = s.published;
      CheckResult r = CheckResult::Unhealthy(absl::StrCat(
          "timed out after ", absl::FormatDuration(o.timeout), " (running for ",
          absl::FormatDuration(now - s.queued_at), ")"));
      if (p.result.status != Status::kUnhealthy) p.state_since = now;
      p.result = std::move(r);
      p.timed_out = true;
      p.last_run_time = now;
      MarkDirtyLocked(s);
      changed = true;
    }
    if (!stuck_.empty()) next = now + kStuckRefresh;
    if (!events_.empty()) next = std::min(next, events_.begin()->first);
    if (changed) PublishLocked(now);
  }
  // Queued in name order, as the checks are listed.
  std::sort(to_run.begin(), to_run.end(),
            [](const std::shared_ptr<CheckState>& a,
               const std::shared_ptr<CheckState>& b) {
              return a->check.name < b->check.name;
            });
  for (std::shared_ptr<CheckState>& state : to_run) {
    pool_->Submit(
        [this, life = life_, state = std::move(state), now]() mutable {
          // `state` (the check, its function) lives as long as this closure;
          // `this` only while `life` says so.
          if (!life->Enter()) return;
          RunCheck(std::move(life), std::move(state), now);
        });
  }
  DeliverTransitions();
  return next;
}

void HealthRegistry::Impl::ScheduleLocked(CheckState& state, absl::Time at) {
  if (at < waiting_until_) wake_ = true;
  UnscheduleLocked(state);
  state.event_at = at;
  state.scheduled = true;
  events_.emplace(at, &state);
}

void HealthRegistry::Impl::UnscheduleLocked(CheckState& state) {
  if (!state.scheduled) return;
  events_.erase({state.event_at, &state});
  state.scheduled = false;
}

void HealthRegistry::Impl::MarkDirtyLocked(CheckState& state) {
  state.view_dirty = true;
  if (state.dirty_listed) return;
  state.dirty_listed = true;
  dirty_.push_back(&state);
}

void HealthRegistry::Impl::SchedulerLoop() {
  while (true) {
    const absl::Time next = Tick();
    MutexLock lock(&mu_);
    if (stop_) return;
    // A run that finished after Tick() may have scheduled an earlier event
    // (its next run, replacing its timeout deadline); while waiting, every
    // earlier event wakes the loop (ScheduleLocked).
    waiting_until_ =
        events_.empty() ? next : std::min(next, events_.begin()->first);
    clock_->AwaitWithDeadline(
        &mu_,
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return wake_ || stop_; },
        waiting_until_);
    waiting_until_ = absl::InfinitePast();
    wake_ = false;
    if (stop_) return;
  }
}

void HealthRegistry::Impl::RunCheck(std::shared_ptr<Life> life,
                                    std::shared_ptr<CheckState> state,
                                    absl::Time queued_at) {
  CheckContext ctx;
  ctx.name = state->check.name;
  ctx.start = clock_->Now();
  ctx.deadline = queued_at + state->check.options.timeout;
  // The user's function runs outside the registry's lifetime guard: the
  // destructor does not wait for it (beyond shutdown_timeout).
  life->Leave();
  CheckResult result;
  try {
    result = state->check.function(ctx);
  } catch (const std::exception& e) {
    result = CheckResult::Unhealthy(absl::StrCat("check threw: ", e.what()));
  } catch (...) {
    result = CheckResult::Unhealthy("check threw a non-standard exception");
  }
  // If the registry is being destroyed, drop the result and touch nothing
  // of it (`life` is this call's own reference, so it outlives `this`).
  if (!life->Enter()) return;
  if (result.status == Status::kUnknown) {
    result.status = Status::kUnhealthy;
    if (result.message.empty()) result.message = "check returned no status";
  }
  const absl::Time end = clock_->Now();
  std::shared_ptr<const std::vector<ResultListener>> result_listeners;
  std::shared_ptr<const std::vector<ResultListener>> own_result_listeners;
  std::shared_ptr<const CheckSnapshot> view;
  {
    MutexLock lock(&mu_);
    // A run declared timed out already counted one failure at its deadline;
    // its late failure is that same failure, not a second one.
    const bool failure_counted = state->timed_out;
    if (!state->timed_out) --in_flight_untimed_;
    if (state->rerun_requested) {
      state->rerun_requested = false;
      state->next_run = end;
    }
    if (state->registered) {
      stuck_.erase(state.get());
      ScheduleLocked(*state, state->next_run);
    }
    state->in_flight = false;
    state->timed_out = false;
    CheckSnapshot& p = state->published;
    p.timed_out = false;
    p.last_duration = internal::NonNegative(end - ctx.start);
    p.last_run_time = end;
    ++p.run_count;
    ApplyResult(*state, std::move(result), end, failure_counted);
    state->view_dirty = true;
    // (An earlier next run than the scheduler waits for wakes it in
    // ScheduleLocked.)
    if (state->next_run <= end) wake_ = true;
    // A removed check's late result changes nothing visible.
    if (state->registered) {
      MarkDirtyLocked(*state);
      PublishLocked(end);
      if (result_listeners_ != nullptr ||
          state->own_result_listeners != nullptr) {
        result_listeners = result_listeners_;
        own_result_listeners = state->own_result_listeners;
        view = state->view;
        results_delivering_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  if (view != nullptr) {
    if (result_listeners != nullptr) {
      for (const ResultListener& l : *result_listeners) l(*view);
    }
    if (own_result_listeners != nullptr) {
      for (const ResultListener& l : *own_result_listeners) l(*view);
    }
    // No lock round trip of its own (each would wake the scheduler):
    // DeliverTransitions() below takes mu_ and signals idle_.
    results_delivering_.fetch_sub(1, std::memory_order_release);
  }
  DeliverTransitions();
  life->Leave();
}

void HealthRegistry::Impl::ApplyResult(CheckState& state, CheckResult raw,
                                       absl::Time now, bool failure_counted) {
  CheckSnapshot& p = state.published;
  const CheckOptions& o = state.check.options;
  const bool failed = raw.status == Status::kUnhealthy;
  if (failed) {
    if (!failure_counted) ++p.consecutive_failures;
    p.consecutive_successes = 0;
  } else {
    ++p.consecutive_successes;
    p.consecutive_failures = 0;
  }
  const Status prev = p.result.status;
  bool adopt;
  if (prev == Status::kUnknown) {
    adopt = true;  // The first result has no established state to damp.
  } else if (prev == Status::kUnhealthy) {
    adopt = failed || p.consecutive_successes >= o.success_threshold;
  } else {
    adopt = !failed || p.consecutive_failures >= o.failure_threshold;
  }
  if (!adopt) return;
  if (raw.status != prev) p.state_since = now;
  p.result = std::move(raw);
}

void HealthRegistry::Impl::RefreshViewLocked(CheckState& state,
                                             uint64_t generation,
                                             absl::Time now) {
  state.dirty_listed = false;
  if (state.view_dirty || state.view == nullptr) {
    state.view = std::make_shared<const CheckSnapshot>(state.published);
    state.view_dirty = false;
  }
  const CheckSnapshot& p = *state.view;
  if (p.result.status != state.last_notified) {
    Transition t;
    t.subject = Transition::Subject::kCheck;
    t.name = p.name;
    t.from = state.last_notified;
    t.to = p.result.status;
    t.message = p.result.message;
    t.time = now;
    t.generation = generation;
    t.consecutive_failures = p.consecutive_failures;
    t.consecutive_successes = p.consecutive_successes;
    pending_.push_back(std::move(t));
    state.last_notified = p.result.status;
  }
}

void HealthRegistry::Impl::CountLocked(const CheckState& state, Status status,
                                       int delta) {
  const int critical = state.published.critical ? 1 : 0;
  for (size_t slot : state.group_slots) {
    group_index_[slot].counts[critical][static_cast<int>(status)] += delta;
  }
}

absl::Status HealthRegistry::Impl::CheckNameSpaceLocked(const Check& check) {
  auto is_group = [&](absl::string_view name) {
    if (std::find(std::begin(kFastGroups), std::end(kFastGroups), name) !=
        std::end(kFastGroups)) {
      return true;
    }
    if (membership_dirty_) {  // Before the first publication: no index yet.
      for (const auto& [n, state] : checks_) {
        const std::vector<std::string>& g = state->published.groups;
        if (std::binary_search(g.begin(), g.end(), name)) return true;
      }
      return false;
    }
    // The index is current (every membership change publishes) and sorted.
    auto it = std::lower_bound(group_index_.begin(), group_index_.end(), name,
                               [](const internal::GroupIndex& gi,
                                  absl::string_view n) { return gi.name < n; });
    return it != group_index_.end() && it->name == name;
  };
  if (is_group(check.name)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "check name \"", check.name, "\": already the name of a group"));
  }
  for (const std::string& g : check.options.groups) {
    if (g == check.name || checks_.count(g) != 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("check \"", check.name, "\": group \"", g,
                       "\": already the name of a check"));
    }
  }
  return absl::OkStatus();
}

void HealthRegistry::Impl::RebuildGroupIndexLocked() {
  std::set<std::string, std::less<>> names(std::begin(kFastGroups),
                                           std::end(kFastGroups));
  for (const auto& [name, state] : checks_) {
    for (const std::string& g : state->published.groups) names.insert(g);
  }
  std::map<std::string, Status, std::less<>> previous;
  for (const internal::GroupIndex& gi : group_index_)
    previous[gi.name] = gi.last_status;
  group_index_.clear();
  group_index_.reserve(names.size());
  std::map<absl::string_view, size_t> slots;
  for (const std::string& g : names) {
    internal::GroupIndex gi;
    gi.name = g;
    if (auto it = previous.find(g); it != previous.end()) {
      gi.last_status = it->second;
    }
    slots[g] = group_index_.size();
    group_index_.push_back(std::move(gi));
  }
  startup_group_ = slots.at(kStartup);
  const size_t all = slots.at(kAllGroup);
  size_t i = 0;
  for (const auto& [name, state] : checks_) {
    state->position = i++;
    state->group_slots.clear();
    state->group_slots.push_back(all);
    for (const std::string& g : state->published.groups) {
      const size_t slot = slots.at(g);
      if (slot != all) state->group_slots.push_back(slot);
    }
    for (size_t slot : state->group_slots) {
      group_index_[slot].names.push_back(name);
    }
  }
  membership_dirty_ = false;
}

void HealthRegistry::Impl::PublishLocked(absl::Time now) {
  auto s = std::make_shared<Snapshot>();
  s->time = now;
  s->generation = ++generation_;
  s->shutting_down = shutting_down_;
  if (membership_dirty_) {
    // Membership changed: rebuild the index, the counts and the list, O(n).
    RebuildGroupIndexLocked();
    list_ = internal::SharedList<CheckSnapshot>();
    list_.reserve(checks_.size());
    for (auto& [name, state] : checks_) {
      RefreshViewLocked(*state, s->generation, now);
      CountLocked(*state, state->view->result.status, +1);
      list_.push_back(state->view);
    }
  } else {
    // Only the checks that changed, in name order (for their transitions).
    std::sort(dirty_.begin(), dirty_.end(),
              [](const CheckState* a, const CheckState* b) {
                return a->position < b->position;
              });
    for (CheckState* state : dirty_) {
      const Status before = state->view->result.status;
      RefreshViewLocked(*state, s->generation, now);
      CountLocked(*state, before, -1);
      CountLocked(*state, state->view->result.status, +1);
      list_.Set(state->position, state->view);
    }
  }
  dirty_.clear();
  s->checks = list_;
  // Startup completes (for good) once every startup check has passed, but
  // only once checks are actually being run.
  if (ticked_ && NotPassing(group_index_[startup_group_].counts) == 0) {
    startup_complete_ = true;
  }
  s->startup_complete = startup_complete_;

  s->groups.reserve(group_index_.size());
  uint32_t packed = 0;
  for (internal::GroupIndex& gi : group_index_) {
    std::string reason;
    const Status status = GateGroup(gi.name, AggregateCounts(gi.counts),
                                    startup_complete_, shutting_down_, &reason);
    const Status before = gi.last_status;
    gi.last_status = status;
    if (gi.last == nullptr || gi.last->status != status ||
        gi.last->reason != reason) {
      GroupSnapshot g;
      g.name = gi.name;
      g.status = status;
      g.reason = std::move(reason);
      g.checks = gi.names;
      gi.last = std::make_shared<const GroupSnapshot>(std::move(g));
    }
    s->groups.push_back(gi.last);
    const int fi = FastIndex(gi.name);
    if (fi >= 0) packed |= static_cast<uint32_t>(status) << (8 * fi);
    if (before != status) {
      Transition t;
      t.subject = Transition::Subject::kGroup;
      t.name = gi.name;
      t.from = before;
      t.to = status;
      t.message = gi.last->reason;
      t.time = now;
      t.generation = s->generation;
      pending_.push_back(std::move(t));
    }
  }
  {
    MutexLock lock(&snapshot_mu_);
    snapshot_ = std::move(s);
  }
  fast_status_->store(packed, std::memory_order_release);
}

void HealthRegistry::Impl::DeliverTransitions() {
  MutexLock lock(&mu_);
  if (delivering_) return;
  delivering_ = true;
  while (!pending_.empty()) {
    Transition t = std::move(pending_.front());
    pending_.pop_front();
    std::shared_ptr<const std::vector<Listener>> listeners = listeners_;
    mu_.Unlock();
    if (listeners != nullptr) {
      for (const Listener& l : *listeners) l(t);
    }
    mu_.Lock();
  }
  delivering_ = false;
  // Every change that can make the registry idle (a run's end, its result
  // listeners' return, the last transition delivered) is followed by this
  // call: RunCheck() and Tick() end with it.
  if (IdleLocked()) idle_.SignalAll();
}

}  // namespace vigil
