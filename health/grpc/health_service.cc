#include "health/grpc/health_service.h"

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <utility>

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

// The open Watch streams by service name, and the counters. Shared by the
// service and the registry's listener (which lives as long as the registry).
class WatchHub {
 public:
  explicit WatchHub(HealthRegistry* registry) : registry_(registry) {}

  // Adds `r` and sends it its first status; false when `max` streams are
  // open (nothing added).
  bool Add(WatchReactor* r, int max) ABSL_LOCKS_EXCLUDED(mu_);
  // Called from the stream's OnDone(), just before it is deleted.
  void Remove(WatchReactor* r) ABSL_LOCKS_EXCLUDED(mu_);
  // Offers every stream its status in the latest snapshot.
  void Refresh() ABSL_LOCKS_EXCLUDED(mu_);
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
  void OfferLocked(const Snapshot& s, const std::string& name,
                   const std::set<WatchReactor*>& streams)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HealthRegistry* const registry_;
  mutable Mutex mu_;
  std::map<std::string, std::set<WatchReactor*>> streams_ ABSL_GUARDED_BY(mu_);
  int64_t open_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Generation of the snapshot last offered to every stream.
  uint64_t refreshed_ ABSL_GUARDED_BY(mu_) = 0;
};

// One Watch stream. Deletes itself in OnDone(). Never inlined (grpc++ runs
// OnDone on its own executor), so OnDone never runs inside a hub call that
// holds the hub's lock.
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
  void OnDone() override {
    const WatchMailbox::Stats s = mailbox_.stats();
    hub_->coalesced.fetch_add(s.coalesced, std::memory_order_relaxed);
    hub_->Remove(this);
    delete this;
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

bool WatchHub::Add(WatchReactor* r, int max) {
  std::shared_ptr<const Snapshot> s = registry_->snapshot();
  MutexLock lock(&mu_);
  if (open_ >= max) return false;
  ++open_;
  auto& streams = streams_[r->service()];
  streams.insert(r);
  OfferLocked(*s, r->service(), {r});
  if (closed_) r->Close();
  return true;
}

void WatchHub::Remove(WatchReactor* r) {
  MutexLock lock(&mu_);
  auto it = streams_.find(r->service());
  if (it != streams_.end() && it->second.erase(r) != 0) {
    --open_;
    if (it->second.empty()) streams_.erase(it);
  }
}

void WatchHub::OfferLocked(const Snapshot& s, const std::string& name,
                           const std::set<WatchReactor*>& streams) {
  const Serving status = Resolve(s, name).value_or(Serving::kServiceUnknown);
  for (WatchReactor* r : streams) r->Offer(status, s.generation);
}

void WatchHub::Refresh() {
  std::shared_ptr<const Snapshot> s = registry_->snapshot();
  MutexLock lock(&mu_);
  // A publication yields several transitions (a check and its groups); the
  // first listener call already offered this snapshot to every stream.
  // Streams added later got their own first offer in Add().
  if (s->generation <= refreshed_) return;
  refreshed_ = s->generation;
  for (const auto& [name, streams] : streams_) OfferLocked(*s, name, streams);
}

bool WatchHub::CloseAll(absl::Duration timeout) {
  std::shared_ptr<const Snapshot> s = registry_->snapshot();
  MutexLock lock(&mu_);
  closed_ = true;
  for (const auto& [name, streams] : streams_) {
    OfferLocked(*s, name, streams);
    for (WatchReactor* r : streams) r->Close();
  }
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
  std::weak_ptr<internal::WatchHub> weak = hub_;
  registry_->AddListener([weak](const Transition&) {
    if (std::shared_ptr<internal::WatchHub> hub = weak.lock()) hub->Refresh();
  });
}

HealthService::~HealthService() { CompleteWatches(); }

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
  auto* r = new internal::WatchReactor(hub_, request->service());
  if (!hub_->Add(r, options_.max_watch_streams)) {
    delete r;
    hub_->refused.fetch_add(1, std::memory_order_relaxed);
    return new internal::RefusedWatch(options_.max_watch_streams);
  }
  hub_->watches.fetch_add(1, std::memory_order_relaxed);
  return r;
}

}  // namespace grpc_health
}  // namespace vigil
