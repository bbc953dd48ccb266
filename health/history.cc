#include "health/history.h"

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "health/sync.h"

namespace vigil {
namespace {

// A fixed-capacity ring: a new item overwrites the oldest once full. No
// division on the way in (Append runs on every check completion with a
// value).
template <typename T>
class Ring {
 public:
  explicit Ring(size_t capacity) : capacity_(capacity) {
    items_.reserve(capacity);
  }
  // The slot of a new newest item, for the caller to assign in place (no
  // temporary): a default-constructed one until full, then the oldest
  // item's. Sets `*overwrote` to whether an old item is being overwritten.
  T& Append(bool* overwrote) {
    if (items_.size() < capacity_) {
      last_ = items_.size();
      *overwrote = false;
      return items_.emplace_back();
    }
    last_ = head_;
    if (++head_ == capacity_) head_ = 0;
    *overwrote = true;
    return items_[last_];
  }
  // Appends `item`. True if an old item was overwritten.
  bool Push(T item) {
    bool overwrote;
    Append(&overwrote) = std::move(item);
    return overwrote;
  }
  // Frees the items; capacity stays.
  void Clear() {
    std::vector<T>().swap(items_);
    head_ = 0;
    last_ = 0;
  }
  size_t size() const { return items_.size(); }
  // The i-th oldest item.
  const T& operator[](size_t i) const {
    return items_[(head_ + i) % items_.size()];
  }
  // The newest item; size() must be > 0.
  const T& back() const { return items_[last_]; }

 private:
  size_t capacity_;
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
    if (event_waiters > 0) event.SignalAll();
  }

  // Wakes every WaitForEvent, now and from then on.
  void WakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    woken = true;
    event.SignalAll();
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

  // The series of check `name`, created if there is room; nullptr if not.
  Series* FindSeriesLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = series.find(name);
    if (it == series.end()) {
      if (series.size() >= options.max_series) return nullptr;
      it = series.emplace(name, Series(options.samples_per_check)).first;
    }
    return &it->second;
  }

  // A check's series as its result listener holds it (shared by the
  // listener's copies): nullptr until found. `series` is guarded by `mu`.
  struct Slot {
    Series* series = nullptr;
  };

  // Runs on every completion of a check: one branch without an observed
  // value; else, under `mu`, the sample written in place into the check's
  // series, looked up by name only while `slot` has none.
  void OnResult(const CheckSnapshot& c, Slot& slot) ABSL_LOCKS_EXCLUDED(mu) {
    const CheckResult& result = c.result;
    if (!result.observed_value.has_value()) return;
    MutexLock lock(&mu);
    if (!alive) return;  // `series` is gone: slot.series dangles.
    if (slot.series == nullptr &&
        (slot.series = FindSeriesLocked(c.name)) == nullptr) {
      return;
    }
    Series& r = *slot.series;
    // A run reported after its successor (see ResultListener) is dropped.
    if (r.samples.size() > 0 && r.samples.back().time > c.last_run_time) {
      return;
    }
    if (r.unit != result.observed_unit) r.unit = result.observed_unit;
    bool overwrote;
    Sample& s = r.samples.Append(&overwrote);
    s.time = c.last_run_time;
    s.value = *result.observed_value;
    s.warn_threshold = result.warn_threshold;
    s.critical_threshold = result.critical_threshold;
    s.time_to_exhaustion = result.time_to_exhaustion;
    s.status = result.status;
  }

  // ~HealthHistory: records nothing from now on, frees what it kept (the
  // registry's listeners keep this object), releases every waiter.
  void Close() ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    alive = false;
    events.Clear();
    decltype(series)().swap(series);
    heartbeats = nullptr;
    WakeLocked();
  }

  const HistoryOptions options;
  Clock* const clock;
  mutable Mutex mu;
  bool alive ABSL_GUARDED_BY(mu) = true;
  bool woken ABSL_GUARDED_BY(mu) = false;
  // WaitForEvent waits here, not in mu.Await: every release of mu (a
  // sample on every check completion) would wake it.
  CondVar event;
  int event_waiters ABSL_GUARDED_BY(mu) = 0;
  Ring<HistoryEvent> events ABSL_GUARDED_BY(mu);
  uint64_t next_sequence ABSL_GUARDED_BY(mu) = 1;
  uint64_t dropped ABSL_GUARDED_BY(mu) = 0;
  bool drain_recorded ABSL_GUARDED_BY(mu) = false;
  // By name (Samples() sorts); found once per registered check, whose
  // result listener keeps a pointer (stable: a node map).
  absl::node_hash_map<std::string, Series> series ABSL_GUARDED_BY(mu);
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
  // The listeners own a share of the journal (no weak_ptr lock per
  // completion); ~HealthHistory empties it, so what stays with the registry
  // is small.
  registry->AddListener([j = journal_, registry](const Transition& t) {
    j->OnTransition(t, registry->shutting_down());
  });
  // One listener per check, holding its series once found: no lookup by
  // name per completion.
  registry->AddResultListenerFactory([j = journal_](absl::string_view) {
    return ResultListener(
        [j, slot = std::make_shared<Journal::Slot>()](const CheckSnapshot& c) {
          j->OnResult(c, *slot);
        });
  });
}

HealthHistory::~HealthHistory() { journal_->Close(); }

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
  const auto deadline = Mutex::DeadlineAfter(timeout);
  Journal& j = *journal_;
  MutexLock lock(&j.mu);
  ++j.event_waiters;
  while (!j.woken && j.next_sequence - 1 <= after &&
         j.event.WaitWithDeadline(&j.mu, deadline)) {
  }
  --j.event_waiters;
  return j.next_sequence - 1;
}

void HealthHistory::Wake() {
  MutexLock lock(&journal_->mu);
  journal_->WakeLocked();
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
