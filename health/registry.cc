#include "health/registry.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
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

absl::Duration NonNegative(absl::Duration d) {
  return d < absl::ZeroDuration() ? absl::ZeroDuration() : d;
}

}  // namespace

struct HealthRegistry::CheckState {
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
};

HealthRegistry::HealthRegistry(RegistryOptions options)
    : clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      service_(std::move(options.service)),
      snapshot_(std::make_shared<Snapshot>()),
      pool_(std::make_unique<internal::WorkerPool>(
          options.worker_threads, options.max_worker_threads)) {
  if (service_.instance.empty()) service_.instance = HostName();
  if (service_.start_time == absl::InfinitePast()) {
    service_.start_time = clock_->Now();
  }
  MutexLock lock(&mu_);
  PublishLocked(clock_->Now());
  pending_.clear();
}

HealthRegistry::~HealthRegistry() {
  Stop();
  // Joins the workers; runs still queued complete against live members.
  pool_.reset();
}

absl::Status HealthRegistry::Register(Check check) {
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  {
    MutexLock lock(&mu_);
    if (checks_.count(check.name) != 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("check name \"", check.name, "\": already registered"));
    }
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
    state->check = std::move(check);
    checks_.emplace(state->check.name, std::move(state));
    membership_dirty_ = true;
    wake_ = true;
    PublishLocked(now);
  }
  DeliverTransitions();
  return absl::OkStatus();
}

absl::Status HealthRegistry::Unregister(absl::string_view name) {
  {
    MutexLock lock(&mu_);
    auto it = checks_.find(name);
    if (it == checks_.end()) {
      return absl::NotFoundError(
          absl::StrCat("check name \"", name, "\": not registered"));
    }
    checks_.erase(it);
    membership_dirty_ = true;
    PublishLocked(clock_->Now());
  }
  DeliverTransitions();
  return absl::OkStatus();
}

void HealthRegistry::Start() {
  MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  scheduler_ = std::thread([this] { SchedulerLoop(); });
}

void HealthRegistry::Stop() {
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

void HealthRegistry::BeginShutdown() {
  {
    MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    shutting_down_fast_.store(true, std::memory_order_release);
    PublishLocked(clock_->Now());
  }
  DeliverTransitions();
}

bool HealthRegistry::shutting_down() const {
  return shutting_down_fast_.load(std::memory_order_acquire);
}

std::shared_ptr<const Snapshot> HealthRegistry::snapshot() const {
  MutexLock lock(&snapshot_mu_);
  return snapshot_;
}

Status HealthRegistry::CustomGroupStatus(absl::string_view group) const {
  std::shared_ptr<const Snapshot> s = snapshot();
  const GroupSnapshot* g = s->FindGroup(group);
  return g == nullptr ? Status::kHealthy : g->status;
}

void HealthRegistry::AddListener(Listener listener) {
  MutexLock lock(&mu_);
  listeners_.push_back(std::move(listener));
}

absl::Time HealthRegistry::RunOnceForTest() { return Tick(); }

int HealthRegistry::worker_threads_for_test() const {
  return pool_->thread_count();
}

bool HealthRegistry::WaitUntilIdleForTest(absl::Duration timeout) {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return in_flight_untimed_ == 0 && !delivering_ && pending_.empty();
      },
      timeout);
}

absl::Time HealthRegistry::Tick() {
  std::vector<std::pair<std::shared_ptr<CheckState>, absl::Time>> to_run;
  absl::Time next = absl::InfiniteFuture();
  {
    MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    bool changed = !ticked_;
    ticked_ = true;
    for (auto& [name, state] : checks_) {
      CheckState& s = *state;
      const CheckOptions& o = s.check.options;
      if (s.in_flight) {
        const absl::Time deadline = s.queued_at + o.timeout;
        if (now < deadline) {
          next = std::min(next, deadline);
          continue;
        }
        CheckSnapshot& p = s.published;
        if (!s.timed_out) {
          s.timed_out = true;
          --in_flight_untimed_;
          ++p.consecutive_failures;
          p.consecutive_successes = 0;
        }
        CheckResult r = CheckResult::Unhealthy(absl::StrCat(
            "timed out after ", absl::FormatDuration(o.timeout),
            " (running for ", absl::FormatDuration(now - s.queued_at), ")"));
        if (p.result.status != Status::kUnhealthy) p.state_since = now;
        p.result = std::move(r);
        p.timed_out = true;
        p.last_run_time = now;
        s.view_dirty = true;
        changed = true;
        next = std::min(next, now + kStuckRefresh);
      } else if (now >= s.next_run) {
        s.in_flight = true;
        s.timed_out = false;
        s.queued_at = now;
        s.next_run = now + o.interval;
        ++in_flight_untimed_;
        to_run.emplace_back(state, now);
        next = std::min(next, now + o.timeout);
      } else {
        next = std::min(next, s.next_run);
      }
    }
    if (changed) PublishLocked(now);
  }
  for (auto& [state, queued_at] : to_run) {
    pool_->Submit([this, state = std::move(state), queued_at]() mutable {
      RunCheck(std::move(state), queued_at);
    });
  }
  DeliverTransitions();
  return next;
}

void HealthRegistry::SchedulerLoop() {
  while (true) {
    const absl::Time next = Tick();
    MutexLock lock(&mu_);
    if (stop_) return;
    clock_->AwaitWithDeadline(
        &mu_,
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return wake_ || stop_; },
        next);
    wake_ = false;
    if (stop_) return;
  }
}

void HealthRegistry::RunCheck(std::shared_ptr<CheckState> state,
                              absl::Time queued_at) {
  CheckContext ctx;
  ctx.name = state->check.name;
  ctx.start = clock_->Now();
  ctx.deadline = queued_at + state->check.options.timeout;
  CheckResult result;
  try {
    result = state->check.function(ctx);
  } catch (const std::exception& e) {
    result = CheckResult::Unhealthy(absl::StrCat("check threw: ", e.what()));
  } catch (...) {
    result = CheckResult::Unhealthy("check threw a non-standard exception");
  }
  if (result.status == Status::kUnknown) {
    result.status = Status::kUnhealthy;
    if (result.message.empty()) result.message = "check returned no status";
  }
  const absl::Time end = clock_->Now();
  {
    MutexLock lock(&mu_);
    if (!state->timed_out) --in_flight_untimed_;
    state->in_flight = false;
    state->timed_out = false;
    CheckSnapshot& p = state->published;
    p.timed_out = false;
    p.last_duration = NonNegative(end - ctx.start);
    p.last_run_time = end;
    ++p.run_count;
    ApplyResult(*state, std::move(result), end);
    state->view_dirty = true;
    if (state->next_run <= end) wake_ = true;
    // A removed check's late result changes nothing visible.
    auto it = checks_.find(state->check.name);
    if (it != checks_.end() && it->second == state) PublishLocked(end);
  }
  DeliverTransitions();
}

void HealthRegistry::ApplyResult(CheckState& state, CheckResult raw,
                                 absl::Time now) {
  CheckSnapshot& p = state.published;
  const CheckOptions& o = state.check.options;
  const bool failed = raw.status == Status::kUnhealthy;
  if (failed) {
    ++p.consecutive_failures;
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

void HealthRegistry::RebuildGroupIndexLocked() {
  std::set<std::string, std::less<>> names(std::begin(kFastGroups),
                                           std::end(kFastGroups));
  for (const auto& [name, state] : checks_) {
    for (const std::string& g : state->published.groups) names.insert(g);
  }
  std::map<std::string, Status, std::less<>> previous;
  for (const GroupIndex& gi : group_index_) previous[gi.name] = gi.last_status;
  group_index_.clear();
  group_index_.reserve(names.size());
  for (const std::string& g : names) {
    GroupIndex gi;
    gi.name = g;
    if (auto it = previous.find(g); it != previous.end()) {
      gi.last_status = it->second;
    }
    size_t i = 0;
    for (const auto& [name, state] : checks_) {
      if (state->published.InGroup(g)) {
        gi.members.push_back(i);
        gi.names.push_back(name);
      }
      ++i;
    }
    group_index_.push_back(std::move(gi));
  }
  membership_dirty_ = false;
}

void HealthRegistry::PublishLocked(absl::Time now) {
  if (membership_dirty_) RebuildGroupIndexLocked();
  auto s = std::make_shared<Snapshot>();
  s->time = now;
  s->generation = ++generation_;
  s->shutting_down = shutting_down_;
  s->checks.reserve(checks_.size());
  std::vector<const CheckSnapshot*> views;
  views.reserve(checks_.size());
  bool startup_passing = true;
  for (auto& [name, state] : checks_) {
    if (state->view_dirty || state->view == nullptr) {
      state->view = std::make_shared<const CheckSnapshot>(state->published);
      state->view_dirty = false;
    }
    const CheckSnapshot& p = *state->view;
    s->checks.push_back(state->view);
    views.push_back(&p);
    if (p.InGroup(kStartup) && !IsPassing(p.result.status)) {
      startup_passing = false;
    }
    if (p.result.status != state->last_notified) {
      Transition t;
      t.subject = Transition::Subject::kCheck;
      t.name = name;
      t.from = state->last_notified;
      t.to = p.result.status;
      t.message = p.result.message;
      t.time = now;
      t.generation = s->generation;
      pending_.push_back(std::move(t));
      state->last_notified = p.result.status;
    }
  }
  // Startup completes (for good) once every startup check has passed, but
  // only once checks are actually being run.
  if (ticked_ && startup_passing) startup_complete_ = true;
  s->startup_complete = startup_complete_;

  s->groups.reserve(group_index_.size());
  uint32_t packed = 0;
  std::vector<const CheckSnapshot*> members;
  for (GroupIndex& gi : group_index_) {
    members.clear();
    for (size_t i : gi.members) members.push_back(views[i]);
    std::string reason;
    const Status status = GateGroup(gi.name, Aggregate(members),
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
  fast_status_.store(packed, std::memory_order_release);
}

void HealthRegistry::DeliverTransitions() {
  MutexLock lock(&mu_);
  if (delivering_) return;
  delivering_ = true;
  while (!pending_.empty()) {
    Transition t = std::move(pending_.front());
    pending_.pop_front();
    std::vector<Listener> listeners = listeners_;
    mu_.Unlock();
    for (const Listener& l : listeners) l(t);
    mu_.Lock();
  }
  delivering_ = false;
}

}  // namespace vigil
