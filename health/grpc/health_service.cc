#include "health/grpc/health_service.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "health/grpc/internal/name_space.h"
#include "health/grpc/internal/watch_mailbox.h"
#include "health/sync.h"

namespace vigil {
namespace grpc_health {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::grpc::health::v1::HealthListRequest;
using ::grpc::health::v1::HealthListResponse;
using internal::Serving;
using internal::WatchMailbox;

namespace internal {
namespace {

HealthCheckResponse::ServingStatus ToProto(Serving s) {
  return static_cast<HealthCheckResponse::ServingStatus>(s);
}

}  // namespace

class WatchReactor;

// What the registry's listener does on a transition: O(1), on the
// registry's thread, whatever the number of streams. The first Ring() after
// the notifier thread took the last request sets the flag and wakes it; the
// other transitions of the same burst (a publication yields the check's
// transition and its groups') only find the flag set: one atomic exchange,
// no lock. Everything else (reading the snapshot, offering it to every
// stream, gRPC's writes) runs on the notifier thread and gRPC's threads.
// Shared by the hub and the listener, which lives as long as the registry,
// so a listener outliving the service rings a doorbell nobody answers.
class Doorbell {
 public:
  // Thread-safe; never blocks for long (at most one short lock per burst).
  void Ring() ABSL_LOCKS_EXCLUDED(mu_) {
    if (rung_.exchange(true, std::memory_order_acq_rel)) return;
    // The lock orders this against the notifier's check of rung_ in Wait();
    // releasing it wakes a waiting notifier (vigil::Mutex::Unlock).
    MutexLock lock(&mu_);
  }
  // Blocks until rung or stopped; takes the ring (the next Ring() wakes
  // again). False once Stop() was called.
  bool Wait() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopped_ || rung_.load(std::memory_order_acquire);
    });
    if (stopped_) return false;
    // An exchange, not a store: it reads the value the last Ring() wrote,
    // so that Ring() (and the publication before it) happens before the
    // Refresh() that follows, even when that Ring() found the flag set and
    // took no lock.
    rung_.exchange(false, std::memory_order_acq_rel);
    return true;
  }
  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    stopped_ = true;
  }

 private:
  std::atomic<bool> rung_{false};
  Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// The open Watch streams by service name, and the counters. Shared by the
// service and the registry's listener (which lives as long as the registry).
//
// No gRPC call (StartWrite, Finish) is ever made with mu_ held: gRPC may run
// a stream's OnDone(), which takes mu_ to remove the stream, on a thread
// that holds gRPC's own locks, so calling into gRPC under mu_ could
// deadlock. The hub owns each stream by shared_ptr; a caller copies the
// pointers under mu_ and acts after releasing it, and a stream removed in
// the meantime is only deleted when the last copy is dropped (its finished
// mailbox ignores further offers).
class WatchHub {
 public:
  explicit WatchHub(HealthRegistry* registry) : registry_(registry) {}

  // Adds `r` (the hub owns it until Remove()) and sends it its first
  // status; false when `max` streams are open (nothing added).
  bool Add(std::shared_ptr<WatchReactor> r, int max) ABSL_LOCKS_EXCLUDED(mu_);
  // Called from the stream's OnDone(): drops the hub's reference.
  void Remove(WatchReactor* r) ABSL_LOCKS_EXCLUDED(mu_);
  // Offers every stream its status in the latest snapshot.
  void Refresh() ABSL_LOCKS_EXCLUDED(mu_);
  // The doorbell the registry's listener rings (see Doorbell).
  const std::shared_ptr<Doorbell>& doorbell() const { return doorbell_; }
  // Starts / stops and joins the notifier thread (HealthService's RAII).
  void StartNotifier();
  void StopNotifier();
  // Closes every stream (and every later one) and waits for them to finish.
  bool CloseAll(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  int64_t open() const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return open_;
  }

  std::atomic<uint64_t> checks{0};
  std::atomic<uint64_t> lists{0};
  std::atomic<uint64_t> watches{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> coalesced{0};

 private:
  using Work = std::vector<std::pair<std::shared_ptr<WatchReactor>, Serving>>;
  // Appends every stream of every name with its status in `s`.
  void CollectLocked(const Snapshot& s, Work& work)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HealthRegistry* const registry_;
  mutable Mutex mu_;
  std::map<std::string, std::map<WatchReactor*, std::shared_ptr<WatchReactor>>>
      streams_ ABSL_GUARDED_BY(mu_);
  int64_t open_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Generation of the snapshot last offered to every stream.
  uint64_t refreshed_ ABSL_GUARDED_BY(mu_) = 0;

  const std::shared_ptr<Doorbell> doorbell_ = std::make_shared<Doorbell>();
  std::thread notifier_;
};

// One Watch stream, owned by the hub (see WatchHub).
class WatchReactor final
    : public ::grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  WatchReactor(std::shared_ptr<WatchHub> hub, std::string service)
      : hub_(std::move(hub)), service_(std::move(service)) {}

  const std::string& service() const { return service_; }

  void Offer(Serving s, uint64_t generation) {
    Perform(mailbox_.Offer(s, generation));
  }
  void Close() { Perform(mailbox_.Close()); }

  void OnWriteDone(bool ok) override { Perform(mailbox_.OnWriteDone(ok)); }
  void OnCancel() override { Perform(mailbox_.Cancel()); }
  // The hub holds the last reference (or a caller's copy does, briefly):
  // this object is deleted when it drops, not here.
  void OnDone() override {
    const WatchMailbox::Stats s = mailbox_.stats();
    std::shared_ptr<WatchHub> hub = hub_;  // Outlives this object.
    hub->coalesced.fetch_add(s.coalesced, std::memory_order_relaxed);
    hub->Remove(this);
  }

 private:
  // Runs the mailbox's decision. `response_` is written only when no write
  // is in flight (the mailbox hands out one at a time).
  void Perform(const WatchMailbox::Action& a) {
    switch (a.kind) {
      case WatchMailbox::Action::kNone:
        return;
      case WatchMailbox::Action::kWrite:
        hub_->messages.fetch_add(1, std::memory_order_relaxed);
        response_.set_status(ToProto(a.status));
        StartWrite(&response_);
        return;
      case WatchMailbox::Action::kWriteAndFinish:
        hub_->messages.fetch_add(1, std::memory_order_relaxed);
        response_.set_status(ToProto(a.status));
        StartWriteAndFinish(&response_, ::grpc::WriteOptions(),
                            ::grpc::Status::OK);
        return;
      case WatchMailbox::Action::kFinish:
        Finish(a.cancelled ? ::grpc::Status::CANCELLED : ::grpc::Status::OK);
        return;
    }
  }

  const std::shared_ptr<WatchHub> hub_;
  const std::string service_;
  WatchMailbox mailbox_;
  HealthCheckResponse response_;
};

// A Watch over the stream limit: fails at once.
class RefusedWatch final
    : public ::grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  explicit RefusedWatch(int max) {
    Finish(::grpc::Status(
        ::grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("max_watch_streams: ", max, " Watch streams are open")));
  }
  void OnDone() override { delete this; }
};

bool WatchHub::Add(std::shared_ptr<WatchReactor> r, int max) {
  std::shared_ptr<const Snapshot> s = registry_->snapshot();
  bool closed;
  {
    MutexLock lock(&mu_);
    if (open_ >= max) return false;
    ++open_;
    streams_[r->service()][r.get()] = r;
    closed = closed_;
  }
  r->Offer(Resolve(*s, r->service()).value_or(Serving::kServiceUnknown),
           s->generation);
  if (closed) r->Close();
  return true;
}

void WatchHub::Remove(WatchReactor* r) {
  std::shared_ptr<WatchReactor> last;  // Dropped after the lock.
  MutexLock lock(&mu_);
  auto it = streams_.find(r->service());
  if (it == streams_.end()) return;
  auto entry = it->second.find(r);
  if (entry == it->second.end()) return;
  last = std::move(entry->second);
  it->second.erase(entry);
  --open_;
  if (it->second.empty()) streams_.erase(it);
}

void WatchHub::CollectLocked(const Snapshot& s, Work& work) {
  for (const auto& [name, streams] : streams_) {
    const Serving status = Resolve(s, name).value_or(Serving::kServiceUnknown);
    for (const auto& [raw, r] : streams) work.emplace_back(r, status);
  }
}

void WatchHub::Refresh() {
  std::shared_ptr<const Snapshot> s = registry_->snapshot();
  Work work;
  {
    MutexLock lock(&mu_);
    // A publication yields several transitions (a check and its groups);
    // one Refresh() per snapshot is enough. Streams added later got their
    // own first offer in Add().
    if (s->generation <= refreshed_) return;
    refreshed_ = s->generation;
    CollectLocked(*s, work);
  }
  for (auto& [r, status] : work) r->Offer(status, s->generation);
}

void WatchHub::StartNotifier() {
  notifier_ = std::thread([this] {
    // Each wake-up serves every ring before it: Refresh() reads a snapshot
    // at least as new as the publication that rang.
    while (doorbell_->Wait()) Refresh();
  });
}

void WatchHub::StopNotifier() {
  doorbell_->Stop();
  if (notifier_.joinable()) notifier_.join();
}

bool WatchHub::CloseAll(absl::Duration timeout) {
  std::shared_ptr<const Snapshot> s = registry_->snapshot();
  Work work;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    CollectLocked(*s, work);
  }
  for (auto& [r, status] : work) {
    r->Offer(status, s->generation);
    r->Close();
  }
  work.clear();
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_ == 0; },
      timeout);
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<HealthService>> HealthService::Create(
    HealthRegistry* registry, HealthServiceOptions options) {
  if (registry == nullptr) {
    return absl::InvalidArgumentError("registry: must not be null");
  }
  if (options.max_watch_streams < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_watch_streams: must be at least 1, got ",
                     options.max_watch_streams));
  }
  return std::unique_ptr<HealthService>(new HealthService(registry, options));
}

HealthService::HealthService(HealthRegistry* registry,
                             HealthServiceOptions options)
    : registry_(registry),
      options_(options),
      hub_(std::make_shared<internal::WatchHub>(registry)) {
  hub_->StartNotifier();
  // The listener only rings (O(1) on the registry's thread); it holds the
  // doorbell, not the hub, since it lives as long as the registry.
  registry_->AddListener(
      [doorbell = hub_->doorbell()](const Transition&) { doorbell->Ring(); });
}

HealthService::~HealthService() {
  CompleteWatches();
  hub_->StopNotifier();
}

bool HealthService::CompleteWatches(absl::Duration timeout) {
  return hub_->CloseAll(timeout);
}

void HealthService::RefreshWatches() { hub_->Refresh(); }

HealthServiceStats HealthService::stats() const {
  HealthServiceStats s;
  s.open_watches = hub_->open();
  s.checks = hub_->checks.load(std::memory_order_relaxed);
  s.lists = hub_->lists.load(std::memory_order_relaxed);
  s.watches = hub_->watches.load(std::memory_order_relaxed);
  s.watches_refused = hub_->refused.load(std::memory_order_relaxed);
  s.watch_messages = hub_->messages.load(std::memory_order_relaxed);
  s.watch_coalesced = hub_->coalesced.load(std::memory_order_relaxed);
  return s;
}

namespace {

// Check's answer: the well-known names from the registry's atomic statuses
// (no snapshot copy), the others from the snapshot.
std::optional<Serving> ResolveForCheck(const HealthRegistry& registry,
                                       absl::string_view service) {
  if (service.empty()) {
    return internal::OverallServing(registry.overall(),
                                    registry.shutting_down());
  }
  if (service == kLiveness || service == kReadiness || service == kStartup) {
    return internal::ToServing(registry.GroupStatus(service));
  }
  return internal::Resolve(*registry.snapshot(), service);
}

}  // namespace

::grpc::ServerUnaryReactor* HealthService::Check(
    ::grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  hub_->checks.fetch_add(1, std::memory_order_relaxed);
  ::grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<Serving> s = ResolveForCheck(*registry_, request->service());
  if (!s.has_value()) {
    reactor->Finish(
        ::grpc::Status(::grpc::StatusCode::NOT_FOUND,
                       absl::StrCat("unknown service \"", request->service(),
                                    "\": not \"\", a group or a check")));
  } else {
    response->set_status(internal::ToProto(*s));
    reactor->Finish(::grpc::Status::OK);
  }
  return reactor;
}

::grpc::ServerUnaryReactor* HealthService::List(
    ::grpc::CallbackServerContext* context, const HealthListRequest*,
    HealthListResponse* response) {
  hub_->lists.fetch_add(1, std::memory_order_relaxed);
  ::grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::shared_ptr<const Snapshot> s = registry_->snapshot();
  const size_t n = internal::ListSize(*s);
  if (n > internal::kMaxListEntries) {
    reactor->Finish(::grpc::Status(
        ::grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat(n,
                     " services (\"\", groups and checks) exceed List's "
                     "limit of ",
                     internal::kMaxListEntries,
                     "; use Check or Watch per name")));
    return reactor;
  }
  auto& statuses = *response->mutable_statuses();
  for (auto& [name, status] : internal::ListAll(*s)) {
    statuses[name].set_status(internal::ToProto(status));
  }
  reactor->Finish(::grpc::Status::OK);
  return reactor;
}

::grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    ::grpc::CallbackServerContext*, const HealthCheckRequest* request) {
  auto r = std::make_shared<internal::WatchReactor>(hub_, request->service());
  internal::WatchReactor* raw = r.get();
  if (!hub_->Add(std::move(r), options_.max_watch_streams)) {
    hub_->refused.fetch_add(1, std::memory_order_relaxed);
    return new internal::RefusedWatch(options_.max_watch_streams);
  }
  hub_->watches.fetch_add(1, std::memory_order_relaxed);
  return raw;
}

}  // namespace grpc_health
}  // namespace vigil
