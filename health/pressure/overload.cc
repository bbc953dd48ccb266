#include "health/pressure/overload.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace pressure {
namespace {

// kUnknown (not evaluated yet) is no pressure.
int Rank(Status s) {
  return s == Status::kUnknown ? static_cast<int>(Status::kHealthy)
                               : static_cast<int>(s);
}

bool Triggers(Status level, Status at) {
  return at != Status::kUnknown && at != Status::kHealthy &&
         Rank(level) >= Rank(at);
}

}  // namespace

absl::Status OverloadOptions::Validate() const {
  if (checks.empty()) {
    return absl::InvalidArgumentError("overload.checks: must not be empty");
  }
  if (hold < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("overload.hold: must be >= 0");
  }
  if (retry_after <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("overload.retry_after: must be > 0");
  }
  return absl::OkStatus();
}

OverloadManager::OverloadManager(HealthRegistry* registry,
                                 OverloadOptions options)
    : registry_(registry),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : registry->clock()),
      retry_after_seconds_(absl::ToInt64Seconds(
          absl::Ceil(options_.retry_after, absl::Seconds(1)))) {
  Action shed;
  shed.state.name = "shed";
  shed.state.at = options_.shed_at;
  Action close;
  close.state.name = "close_connections";
  close.state.at = options_.close_connections_at;
  Action stop_accepting;
  stop_accepting.state.name = "stop_accepting";
  stop_accepting.state.at = options_.stop_accepting_at;
  MutexLock lock(&mu_);
  actions_.push_back(std::move(shed));
  actions_.push_back(std::move(close));
  actions_.push_back(std::move(stop_accepting));
}

absl::StatusOr<std::unique_ptr<OverloadManager>> OverloadManager::Create(
    HealthRegistry* registry, OverloadOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<OverloadManager> m(
      new OverloadManager(registry, std::move(options)));
  OverloadManager* raw = m.get();
  registry->AddListener([raw](const Transition& t) {
    if (t.subject != Transition::Subject::kCheck) return;
    for (const std::string& name : raw->options_.checks) {
      if (name == t.name) {
        raw->Evaluate();
        return;
      }
    }
  });
  m->Evaluate();
  return m;
}

void OverloadManager::AddCallback(std::string name, Status at,
                                  std::function<void(bool)> callback) {
  {
    MutexLock lock(&mu_);
    Action a;
    a.state.name = std::move(name);
    a.state.at = at;
    a.callback = std::move(callback);
    actions_.push_back(std::move(a));
  }
  Evaluate();
}

std::vector<OverloadActionState> OverloadManager::States() const {
  MutexLock lock(&mu_);
  std::vector<OverloadActionState> out;
  for (const Action& a : actions_) out.push_back(a.state);
  return out;
}

bool OverloadManager::WaitUntilAccepting(absl::Duration timeout) {
  if (!stopping_accept()) return true;
  {
    MutexLock lock(&mu_);
    // Woken by the unlock of the evaluation that changes the action.
    mu_.AwaitWithTimeout(
        [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !actions_[2].state.active;
        },
        timeout);
  }
  return !stopping_accept();  // Also releases a hold that has passed.
}

void OverloadManager::Evaluate() {
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  Status level = Status::kHealthy;
  for (const std::string& name : options_.checks) {
    const CheckSnapshot* c = snapshot->FindCheck(name);
    if (c != nullptr && Rank(c->result.status) > Rank(level)) {
      level = c->result.status;
    }
  }
  // Callbacks run in evaluation order, outside mu_.
  MutexLock deliver(&deliver_mu_);
  std::vector<std::function<void()>> calls;
  {
    MutexLock lock(&mu_);
    calls = UpdateLocked(level, clock_->Now());
  }
  for (std::function<void()>& call : calls) call();
}

std::vector<std::function<void()>> OverloadManager::UpdateLocked(
    Status level, absl::Time now) {
  level_.store(static_cast<int>(level));
  std::vector<std::function<void()>> calls;
  bool pending = false;
  for (size_t i = 0; i < actions_.size(); ++i) {
    Action& a = actions_[i];
    const bool want = Triggers(level, a.state.at);
    bool next = a.state.active;
    if (want && !a.state.active) {
      next = true;
      a.on_since = now;
      ++a.state.activations;
    } else if (!want && a.state.active) {
      if (now - a.on_since >= options_.hold) {
        next = false;
      } else {
        pending = true;  // Released by a later evaluation.
      }
    }
    if (next != a.state.active) {
      a.state.active = next;
      if (i < 3) flags_[i].store(next, std::memory_order_relaxed);
      if (a.callback) calls.push_back([cb = a.callback, next] { cb(next); });
    }
  }
  release_pending_.store(pending, std::memory_order_relaxed);
  return calls;
}

}  // namespace pressure
}  // namespace vigil
