#include "health/history.h"

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "health/sync.h"

namespace vigil {
namespace {

// A fixed-capacity ring: push overwrites the oldest once full. No division
// on the way in (Push runs on every check completion with a value).
template <typename T>
class Ring {
 public:
  explicit Ring(size_t capacity) { items_.reserve(capacity); }
  // True if an old item was overwritten.
  bool Push(T item) {
    if (items_.size() < items_.capacity()) {
      last_ = items_.size();
      items_.push_back(std::move(item));
      return false;
    }
    last_ = head_;
    items_[head_] = std::move(item);
    if (++head_ == items_.size()) head_ = 0;
    return true;
  }
  size_t size() const { return items_.size(); }
  // The i-th oldest item.
  const T& operator[](size_t i) const {
    return items_[(head_ + i) % items_.size()];
  }
  // The newest item; size() must be > 0.
  const T& back() const { return items_[last_]; }

 private:
  std::vector<T> items_;
  size_t head_ = 0;
  size_t last_ = 0;
};

struct Series {
  explicit Series(size_t capacity) : samples(capacity) {}
  std::string unit;
  Ring<Sample> samples;
};

}  // namespace

absl::string_view HistoryEventKindName(HistoryEvent::Kind kind) {
  switch (kind) {
    case HistoryEvent::Kind::kCheck:
      return "check";
    case HistoryEvent::Kind::kGroup:
      return "group";
    case HistoryEvent::Kind::kWatchdog:
      return "watchdog";
    case HistoryEvent::Kind::kDrain:
      return "drain";
  }
  return "check";
}

struct HealthHistory::Journal {
  Journal(const HistoryOptions& o, Clock* c)
      : options(o), clock(c), events(o.max_events) {}

  void RecordLocked(HistoryEvent e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    e.sequence = next_sequence++;
    if (e.time == absl::InfinitePast()) e.time = clock->Now();
    if (events.Push(std::move(e))) ++dropped;
  }

  void Record(HistoryEvent e) ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    if (alive) RecordLocked(std::move(e));
  }

  void OnTransition(const Transition& t, bool shutting_down)
      ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    if (!alive) return;
    if (shutting_down && !drain_recorded) {
      drain_recorded = true;
      HistoryEvent d;
      d.kind = HistoryEvent::Kind::kDrain;
      d.message = "shutting down";
      d.time = t.time;
      RecordLocked(std::move(d));
    }
    HistoryEvent e;
    e.kind = t.subject == Transition::Subject::kCheck
                 ? HistoryEvent::Kind::kCheck
                 : HistoryEvent::Kind::kGroup;
    e.subject = t.name;
    e.from = t.from;
    e.to = t.to;
    e.message = t.message;
    e.consecutive_failures = t.consecutive_failures;
    e.consecutive_successes = t.consecutive_successes;
    e.time = t.time;
    RecordLocked(std::move(e));
  }

  void OnResult(const CheckSnapshot& c) ABSL_LOCKS_EXCLUDED(mu) {
    if (!c.result.observed_value.has_value()) return;
    Sample s;
    s.time = c.last_run_time;
    s.value = *c.result.observed_value;
    s.warn_threshold = c.result.warn_threshold;
    s.critical_threshold = c.result.critical_threshold;
    s.time_to_exhaustion = c.result.time_to_exhaustion;
    s.status = c.result.status;
    MutexLock lock(&mu);
    if (!alive) return;
    auto it = series.find(c.name);
    if (it == series.end()) {
      if (series.size() >= options.max_series) return;
      it = series.emplace(c.name, Series(options.samples_per_check)).first;
    }
    Series& r = it->second;
    // A run reported after its successor (see ResultListener) is dropped.
    if (r.samples.size() > 0 && r.samples.back().time > s.time) return;
    if (r.unit != c.result.observed_unit) r.unit = c.result.observed_unit;
    r.samples.Push(std::move(s));
  }

  const HistoryOptions options;
  Clock* const clock;
  mutable Mutex mu;
  bool alive ABSL_GUARDED_BY(mu) = true;
  bool woken ABSL_GUARDED_BY(mu) = false;
  Ring<HistoryEvent> events ABSL_GUARDED_BY(mu);
  uint64_t next_sequence ABSL_GUARDED_BY(mu) = 1;
  uint64_t dropped ABSL_GUARDED_BY(mu) = 0;
  bool drain_recorded ABSL_GUARDED_BY(mu) = false;
  // Hashed: found on every completion with a value (Samples() sorts).
  absl::flat_hash_map<std::string, Series> series ABSL_GUARDED_BY(mu);
  std::function<std::vector<HeartbeatView>()> heartbeats ABSL_GUARDED_BY(mu);
};

absl::StatusOr<std::unique_ptr<HealthHistory>> HealthHistory::Create(
    HealthRegistry* registry, HistoryOptions options) {
  if (registry == nullptr) {
    return absl::InvalidArgumentError("registry: must not be null");
  }
  if (options.max_events < 1) {
    return absl::InvalidArgumentError("max_events: must be >= 1");
  }
  if (options.samples_per_check < 2) {
    return absl::InvalidArgumentError("samples_per_check: must be >= 2");
  }
  if (options.max_series < 1) {
    return absl::InvalidArgumentError("max_series: must be >= 1");
  }
  return std::unique_ptr<HealthHistory>(new HealthHistory(registry, options));
}

HealthHistory::HealthHistory(HealthRegistry* registry, HistoryOptions options)
    : registry_(registry),
      options_(options),
      journal_(std::make_shared<Journal>(options, registry->clock())) {
  std::weak_ptr<Journal> weak = journal_;
  registry->AddListener([weak, registry](const Transition& t) {
    if (std::shared_ptr<Journal> j = weak.lock()) {
      j->OnTransition(t, registry->shutting_down());
    }
  });
  registry->AddResultListener([weak](const CheckSnapshot& c) {
    if (std::shared_ptr<Journal> j = weak.lock()) j->OnResult(c);
  });
}

HealthHistory::~HealthHistory() {
  MutexLock lock(&journal_->mu);
  journal_->alive = false;
  journal_->woken = true;
  journal_->heartbeats = nullptr;
}

void HealthHistory::Record(HistoryEvent event) {
  journal_->Record(std::move(event));
}

std::vector<HistoryEvent> HealthHistory::Events(
    uint64_t after, absl::Time since, absl::string_view subject) const {
  std::vector<HistoryEvent> out;
  MutexLock lock(&journal_->mu);
  const Ring<HistoryEvent>& ring = journal_->events;
  for (size_t i = 0; i < ring.size(); ++i) {
    const HistoryEvent& e = ring[i];
    if (e.sequence <= after || e.time < since) continue;
    if (!subject.empty() && e.subject != subject) continue;
    out.push_back(e);
  }
  return out;
}

uint64_t HealthHistory::last_sequence() const {
  MutexLock lock(&journal_->mu);
  return journal_->next_sequence - 1;
}

uint64_t HealthHistory::dropped_events() const {
  MutexLock lock(&journal_->mu);
  return journal_->dropped;
}

uint64_t HealthHistory::WaitForEvent(uint64_t after,
                                     absl::Duration timeout) const {
  Journal& j = *journal_;
  MutexLock lock(&j.mu);
  j.mu.AwaitWithTimeout(
      [&j, after]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return j.woken || j.next_sequence - 1 > after;
      },
      timeout);
  return j.next_sequence - 1;
}

void HealthHistory::Wake() {
  MutexLock lock(&journal_->mu);
  journal_->woken = true;
}

std::vector<SampleSeries> HealthHistory::Samples(absl::string_view check,
                                                 absl::Time since) const {
  std::vector<SampleSeries> out;
  MutexLock lock(&journal_->mu);
  for (const auto& [name, series] : journal_->series) {
    if (!check.empty() && name != check) continue;
    SampleSeries s;
    s.check = name;
    s.unit = series.unit;
    for (size_t i = 0; i < series.samples.size(); ++i) {
      if (series.samples[i].time >= since) {
        s.samples.push_back(series.samples[i]);
      }
    }
    if (!s.samples.empty()) out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const SampleSeries& a, const SampleSeries& b) {
              return a.check < b.check;
            });
  return out;
}

void HealthHistory::SetHeartbeatSource(
    std::function<std::vector<HeartbeatView>()> source) {
  MutexLock lock(&journal_->mu);
  journal_->heartbeats = std::move(source);
}

std::vector<HeartbeatView> HealthHistory::Heartbeats() const {
  std::function<std::vector<HeartbeatView>()> source;
  {
    MutexLock lock(&journal_->mu);
    source = journal_->heartbeats;
  }
  return source ? source() : std::vector<HeartbeatView>();
}

}  // namespace vigil
