#include "health/grpc/internal/watch_mailbox.h"

namespace vigil {
namespace grpc_health {
namespace internal {

WatchMailbox::Action WatchMailbox::Offer(Serving status, uint64_t generation) {
  MutexLock lock(&mu_);
  if (finished_ || (has_latest_ && generation < latest_generation_)) {
    return {};
  }
  ++stats_.offers;
  if (in_flight_ && has_latest_ && latest_ != status &&
      (!has_sent_ || latest_ != sent_)) {
    ++stats_.coalesced;  // A pending, unsent status is replaced.
  }
  has_latest_ = true;
  latest_ = status;
  latest_generation_ = generation;
  if (in_flight_) return {};
  return NextLocked();
}

WatchMailbox::Action WatchMailbox::OnWriteDone(bool ok) {
  MutexLock lock(&mu_);
  in_flight_ = false;
  if (!ok) cancelled_ = true;
  return NextLocked();
}

WatchMailbox::Action WatchMailbox::Close() {
  MutexLock lock(&mu_);
  closing_ = true;
  if (in_flight_) return {};
  return NextLocked();
}

WatchMailbox::Action WatchMailbox::Cancel() {
  MutexLock lock(&mu_);
  cancelled_ = true;
  if (in_flight_) return {};
  return NextLocked();
}

WatchMailbox::Action WatchMailbox::NextLocked() {
  Action a;
  if (finished_) return a;
  if (cancelled_) {
    finished_ = true;
    a.kind = Action::kFinish;
    a.cancelled = true;
    return a;
  }
  const bool unsent = has_latest_ && (!has_sent_ || latest_ != sent_);
  if (unsent) {
    has_sent_ = true;
    sent_ = latest_;
    ++stats_.writes;
    a.status = latest_;
    if (closing_) {
      finished_ = true;
      a.kind = Action::kWriteAndFinish;
    } else {
      in_flight_ = true;
      a.kind = Action::kWrite;
    }
    return a;
  }
  if (closing_) {
    finished_ = true;
    a.kind = Action::kFinish;
  }
  return a;
}

bool WatchMailbox::finished() const {
  MutexLock lock(&mu_);
  return finished_;
}

WatchMailbox::Stats WatchMailbox::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

}  // namespace internal
}  // namespace grpc_health
}  // namespace vigil
