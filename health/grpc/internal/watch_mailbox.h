// WatchMailbox: the send side of one grpc.health.v1 Watch stream, keeping
// only the latest status. Internal to health/grpc; no gRPC dependency, so
// its concurrency is tested under TSan on its own.
//
// A Watch stream may have at most one write in flight. Statuses arrive from
// the registry's listener (any thread), the stream's own completions arrive
// on gRPC's threads. The mailbox decides, under its own short lock, what the
// caller must do next (write a status, finish the stream, or nothing), so a
// slow client never queues more than one pending status: intermediate
// statuses are replaced by the latest one ("coalesced"), and the latest one
// is always sent before the stream finishes on Close().
//
//   WatchMailbox::Action a = mailbox.Offer(Serving::kNotServing, gen);
//   if (a.kind == WatchMailbox::Action::kWrite) StartWrite(a.status);
//
// Offers carry the generation of the snapshot they were read from; an offer
// older than the newest one seen is ignored, so concurrent offers from
// snapshots read out of order cannot leave a stale final status.
//
// Thread safety: safe for concurrent use. The caller performs the returned
// action without holding the mailbox's lock; because at most one write is in
// flight, the status to write can live in the caller's single buffer.

#ifndef VIGIL_HEALTH_GRPC_INTERNAL_WATCH_MAILBOX_H_
#define VIGIL_HEALTH_GRPC_INTERNAL_WATCH_MAILBOX_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "health/grpc/internal/name_space.h"
#include "health/sync.h"

namespace vigil {
namespace grpc_health {
namespace internal {

class WatchMailbox {
 public:
  struct Action {
    enum Kind {
      kNone,            // Nothing to do.
      kWrite,           // Write `status`; call OnWriteDone() when done.
      kWriteAndFinish,  // Write `status` and finish the stream (OK).
      kFinish,          // Finish the stream: OK, or CANCELLED if `cancelled`.
    };
    Kind kind = kNone;
    Serving status = Serving::kUnknown;
    bool cancelled = false;
  };

  struct Stats {
    uint64_t offers = 0;     // Offers accepted (not stale, before finish).
    uint64_t writes = 0;     // Statuses handed out to write.
    uint64_t coalesced = 0;  // Pending statuses replaced before being sent.
  };

  WatchMailbox() = default;
  WatchMailbox(const WatchMailbox&) = delete;
  WatchMailbox& operator=(const WatchMailbox&) = delete;

  // A status read from the snapshot of `generation`. Equal consecutive
  // statuses are sent once (Watch sends only changes).
  Action Offer(Serving status, uint64_t generation) ABSL_LOCKS_EXCLUDED(mu_);
  // The write handed out last completed; `ok` false when the stream broke.
  Action OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // Finish the stream once the latest status is sent (drain). Idempotent.
  Action Close() ABSL_LOCKS_EXCLUDED(mu_);
  // The client cancelled: finish without sending more. Idempotent.
  Action Cancel() ABSL_LOCKS_EXCLUDED(mu_);

  // True once a finishing action was handed out.
  bool finished() const ABSL_LOCKS_EXCLUDED(mu_);
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // What to do when no write is in flight.
  Action NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  bool has_latest_ ABSL_GUARDED_BY(mu_) = false;
  Serving latest_ ABSL_GUARDED_BY(mu_) = Serving::kUnknown;
  uint64_t latest_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool has_sent_ ABSL_GUARDED_BY(mu_) = false;
  Serving sent_ ABSL_GUARDED_BY(mu_) = Serving::kUnknown;
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace grpc_health
}  // namespace vigil

#endif  // VIGIL_HEALTH_GRPC_INTERNAL_WATCH_MAILBOX_H_
