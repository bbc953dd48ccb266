// Internal: small absl::Duration helpers shared by the core and the
// watchdog.

#ifndef VIGIL_HEALTH_INTERNAL_DURATION_H_
#define VIGIL_HEALTH_INTERNAL_DURATION_H_

#include "absl/time/time.h"

namespace vigil {
namespace internal {

// `d`, or zero when `d` is negative: a span between two clock readings that
// must not be reported as negative.
inline absl::Duration NonNegative(absl::Duration d) {
  return d < absl::ZeroDuration() ? absl::ZeroDuration() : d;
}

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_DURATION_H_
