// Snapshot: an immutable picture of every check and group at one moment.
//
// A `HealthRegistry` publishes a new Snapshot whenever a result changes;
// readers take a `std::shared_ptr<const Snapshot>` and may keep it as long as
// they like. Everything in it is plain data: no locks, no callbacks.
//
//   std::shared_ptr<const vigil::Snapshot> s = registry.snapshot();
//   if (const vigil::CheckSnapshot* c = s->FindCheck("postgres")) {
//     std::cout << vigil::StatusName(c->result.status) << " " <<
//         c->result.message;
//   }

#ifndef VIGIL_HEALTH_SNAPSHOT_H_
#define VIGIL_HEALTH_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/status.h"

namespace vigil {

// The published state of one check.
struct CheckSnapshot {
  std::string name;
  CheckKind kind = CheckKind::kSelf;
  bool critical = true;
  std::vector<std::string> groups;
  // The reported result: after flap damping, so `result.status` is what the
  // groups aggregate. UNKNOWN until the first run completes.
  CheckResult result;
  // End of the last completed run (or when a timeout was declared);
  // absl::InfinitePast() before the first.
  absl::Time last_run_time = absl::InfinitePast();
  absl::Duration last_duration = absl::ZeroDuration();
  // Raw runs in a row that failed (UNHEALTHY) / passed, latest included.
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  // Since when `result.status` has been what it is.
  absl::Time state_since = absl::InfinitePast();
  // True while a run is still in flight past its timeout.
  bool timed_out = false;
  // Completed runs since registration.
  uint64_t run_count = 0;
  // The check's configured thresholds, for reports.
  int failure_threshold = 1;
  int success_threshold = 1;
  absl::Duration interval = absl::ZeroDuration();
  absl::Duration timeout = absl::ZeroDuration();

  bool InGroup(absl::string_view group) const;
};

// The aggregate of one group.
struct GroupSnapshot {
  std::string name;
  Status status = Status::kHealthy;
  // Non-empty when the group fails for a reason beyond its checks:
  // "startup not complete", "shutting down".
  std::string reason;
  // Names of the checks aggregated, sorted.
  std::vector<std::string> checks;
};

// A read-only, random-access list of T whose elements are shared (by
// shared_ptr) between successive snapshots. The pointers are held in
// fixed-size chunks (kChunkSize) that are themselves shared: copying a list
// copies one pointer per chunk, and Set() copies only the chunk it changes,
// so publishing a snapshot in which one check changed costs O(n / kChunkSize
// + kChunkSize) instead of O(n). Iterates as `const T&`.
template <typename T>
class SharedList {
  using Chunk = std::vector<std::shared_ptr<const T>>;

 public:
  static constexpr size_t kChunkSize = 64;

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    const_iterator() = default;
    reference operator*() const { return (*list_)[i_]; }
    pointer operator->() const { return &(*list_)[i_]; }
    reference operator[](difference_type n) const { return (*list_)[i_ + n]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) { return const_iterator(list_, i_++); }
    const_iterator& operator--() {
      --i_;
      return *this;
    }
    const_iterator operator--(int) { return const_iterator(list_, i_--); }
    const_iterator& operator+=(difference_type n) {
      i_ += n;
      return *this;
    }
    const_iterator& operator-=(difference_type n) {
      i_ -= n;
      return *this;
    }
    friend const_iterator operator+(const_iterator a, difference_type n) {
      return a += n;
    }
    friend const_iterator operator+(difference_type n, const_iterator a) {
      return a += n;
    }
    friend const_iterator operator-(const_iterator a, difference_type n) {
      return a -= n;
    }
    friend difference_type operator-(const const_iterator& a,
                                     const const_iterator& b) {
      return static_cast<difference_type>(a.i_) -
             static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.i_ == b.i_;
    }
    friend bool operator!=(const const_iterator& a, const const_iterator& b) {
      return a.i_ != b.i_;
    }
    friend bool operator<(const const_iterator& a, const const_iterator& b) {
      return a.i_ < b.i_;
    }
    friend bool operator>(const const_iterator& a, const const_iterator& b) {
      return a.i_ > b.i_;
    }
    friend bool operator<=(const const_iterator& a, const const_iterator& b) {
      return a.i_ <= b.i_;
    }
    friend bool operator>=(const const_iterator& a, const const_iterator& b) {
      return a.i_ >= b.i_;
    }

   private:
    friend class SharedList;
    const_iterator(const SharedList* list, size_t i) : list_(list), i_(i) {}
    const SharedList* list_ = nullptr;
    size_t i_ = 0;
  };
  using value_type = T;
  using iterator = const_iterator;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](size_t i) const { return *shared(i); }
  const T& front() const { return (*this)[0]; }
  const T& back() const { return (*this)[size_ - 1]; }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }

  // Building (for whoever assembles a snapshot, including tests).
  void reserve(size_t n) { chunks_.reserve((n + kChunkSize - 1) / kChunkSize); }
  void push_back(T value) {
    push_back(std::make_shared<const T>(std::move(value)));
  }
  void push_back(std::shared_ptr<const T> shared) {
    if (size_ % kChunkSize == 0) {
      auto chunk = std::make_shared<Chunk>();
      chunk->reserve(kChunkSize);
      chunks_.push_back(std::move(chunk));
    }
    MutableChunk(size_ / kChunkSize).push_back(std::move(shared));
    ++size_;
  }
  // Replaces the element at `i` (i < size()). Lists this one was copied from
  // or to keep their element: only this list's chunk holding `i` is copied
  // (if shared), every other chunk stays shared.
  void Set(size_t i, std::shared_ptr<const T> shared) {
    MutableChunk(i / kChunkSize)[i % kChunkSize] = std::move(shared);
  }
  // The shared element at `i`, for reuse in a later snapshot.
  const std::shared_ptr<const T>& shared(size_t i) const {
    return (*chunks_[i / kChunkSize])[i % kChunkSize];
  }

 private:
  // Chunk `c`, first copied if another list (a published snapshot) shares
  // it. A use count of one cannot grow behind our back, since only this list
  // holds the chunk; the throwaway copy is an acquire-release operation on
  // the count, ordering our writes after the reads of whichever other holder
  // (on another thread) released it last.
  Chunk& MutableChunk(size_t c) {
    std::shared_ptr<Chunk>& chunk = chunks_[c];
    if (chunk.use_count() == 1) {
      std::shared_ptr<Chunk>(chunk).reset();
    } else {
      auto copy = std::make_shared<Chunk>();
      copy->reserve(kChunkSize);
      copy->assign(chunk->begin(), chunk->end());
      chunk = std::move(copy);
    }
    return *chunk;
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

// Aggregates `checks` the vigil way: the worst status of the critical checks
// (UNKNOWN counts as worse than DEGRADED: a check that never ran does not
// pass); a non-critical check that is DEGRADED or UNHEALTHY makes the result
// at least DEGRADED, never UNHEALTHY. No checks at all is HEALTHY.
Status Aggregate(const std::vector<const CheckSnapshot*>& checks);

// Readiness's extra rules on top of Aggregate(): it fails while shutting down
// ("shutting down") and until startup is complete ("startup not complete").
// Other groups are returned unchanged. Sets `*reason` (may be nullptr).
Status GateGroup(absl::string_view group, Status aggregated,
                 bool startup_complete, bool shutting_down,
                 std::string* reason);

struct Snapshot {
  // When this snapshot was published, on the registry's clock.
  absl::Time time = absl::InfinitePast();
  // Increases by one with every publication.
  uint64_t generation = 0;
  // Every startup check has passed at least once (latched).
  bool startup_complete = false;
  // BeginShutdown() was called: readiness fails while the process drains.
  bool shutting_down = false;
  // Every registered check, sorted by name.
  SharedList<CheckSnapshot> checks;
  // kLiveness, kReadiness, kStartup, kAllGroup and every custom group that
  // has checks, sorted by name.
  SharedList<GroupSnapshot> groups;

  // nullptr when absent. O(log n).
  const CheckSnapshot* FindCheck(absl::string_view name) const;
  const GroupSnapshot* FindGroup(absl::string_view name) const;

  // The status of the kAllGroup pseudo-group: what /healthz reports.
  Status overall() const;

  // Recomputes `group` leaving out the checks named in `exclude`, with the
  // same readiness gating (startup, drain) as the published groups.
  // Excluded names that are not in the group are ignored here; callers that
  // must report them (the HTTP layer) compare against `checks`.
  GroupSnapshot AggregateGroup(
      absl::string_view group,
      const absl::flat_hash_set<std::string>& exclude = {}) const;
};

}  // namespace vigil

#endif  // VIGIL_HEALTH_SNAPSHOT_H_
