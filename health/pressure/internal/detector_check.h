// Wraps a detector in a vigil::Check.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_DETECTOR_CHECK_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_DETECTOR_CHECK_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "health/check.h"

namespace vigil {
namespace pressure {
namespace internal {

// Creates a `Detector` from `options` (which carry `name` and `check`) and
// returns a Check whose function runs it; the detector is shared with
// `*out` when `out` is not null.
template <typename Detector, typename Options>
absl::StatusOr<Check> MakeDetectorCheck(Options options,
                                        std::shared_ptr<Detector>* out) {
  Check check;
  check.name = options.name;
  check.options = options.check;
  absl::StatusOr<std::unique_ptr<Detector>> d =
      Detector::Create(std::move(options));
  if (!d.ok()) return d.status();
  std::shared_ptr<Detector> shared = *std::move(d);
  check.name = shared->options().name;  // Create() may fill in a default.
  if (out != nullptr) *out = shared;
  check.function = [shared](const CheckContext&) { return shared->Run(); };
  return check;
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_DETECTOR_CHECK_H_
