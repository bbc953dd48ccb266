// The skeleton every resource-pressure detector shares (memory, cpu, io,
// disk, fds, tasks): Create() validating the options, Sample() filling a
// reading and publishing a copy for other threads, Run() = Sample() then
// Result(), LatestReading() and options(), and MakeDetectorCheck() wrapping
// a detector in a Check. Written once here; a detector derives from
// DetectorCore (CRTP) and supplies only what is its own:
//
//   class FdDetector
//       : public internal::DetectorCore<FdDetector, FdOptions, FdReading> {
//    public:
//     using DetectorCore::Create;  // And Sample, Run, LatestReading, options.
//     CheckResult Result() const;  // From reading(): the latest sample.
//
//    private:
//     friend DetectorCore;
//     explicit FdDetector(FdOptions options);  // : DetectorCore(options)
//     // Right after construction; an error fails Create().
//     absl::Status Open();
//     // One sample into `r` (fresh, r.time = now), setting r.level.
//     void Read(absl::Time now, FdReading& r);
//   };
//
// Requirements: `Options` has `absl::Status Validate() const` and a
// `Clock* clock` member (nullptr means Clock::Real()); `Reading` is
// default-constructible and copyable, with an `absl::Time time` member.
//
// Thread safety: Sample(), Run() and the derived Result() are called by one
// thread at a time (a registry never runs a check concurrently with
// itself); LatestReading() may be called from any thread; options() is
// fixed at Create() and may be read from any thread.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_DETECTOR_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_DETECTOR_H_

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/clock.h"
#include "health/sync.h"

namespace vigil {
namespace pressure {
namespace internal {

template <typename Derived, typename Options, typename Reading>
class DetectorCore {
 public:
  DetectorCore(const DetectorCore&) = delete;
  DetectorCore& operator=(const DetectorCore&) = delete;

  // Validates `options` (their InvalidArgument is returned as is), fills in
  // Clock::Real() for a null `clock`, constructs the detector and calls its
  // Open(), whose error is returned.
  static absl::StatusOr<std::unique_ptr<Derived>> Create(Options options) {
    if (absl::Status s = options.Validate(); !s.ok()) return s;
    if (options.clock == nullptr) options.clock = Clock::Real();
    std::unique_ptr<Derived> d(new Derived(std::move(options)));
    if (absl::Status s = d->Open(); !s.ok()) return s;
    return d;
  }

  // Reads every signal once (the detector's Read() into a fresh reading
  // stamped with the clock's Now()) and publishes a copy for
  // LatestReading(). Returns the reading, valid until the next Sample().
  // Allocates only what the detector's Read() allocates.
  const Reading& Sample() ABSL_LOCKS_EXCLUDED(mu_) {
    const absl::Time now = options_.clock->Now();
    reading_ = Reading();
    reading_.time = now;
    static_cast<Derived&>(*this).Read(now, reading_);
    {
      MutexLock lock(&mu_);
      latest_ = reading_;
    }
    return reading_;
  }

  // Sample() then the detector's Result(): what the check runs.
  CheckResult Run() ABSL_LOCKS_EXCLUDED(mu_) {
    Sample();
    return static_cast<const Derived&>(*this).Result();
  }

  // A copy of the latest reading (a default one before the first Sample()).
  // Thread-safe.
  Reading LatestReading() const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return latest_;
  }

  // The options as validated and completed by Create().
  const Options& options() const { return options_; }

 protected:
  explicit DetectorCore(Options options) : options_(std::move(options)) {}
  ~DetectorCore() = default;

  // The reading of the latest Sample(), for Result() (same thread).
  const Reading& reading() const { return reading_; }
  // For Open() only, e.g. to fill in a default name before the options
  // become visible.
  Options& mutable_options() { return options_; }

 private:
  Options options_;
  Reading reading_;
  mutable Mutex mu_;
  Reading latest_ ABSL_GUARDED_BY(mu_);
};

// Creates a `Detector` from `options` (which carry `name` and `check`) and
// returns a Check whose function runs it; the detector is shared with
// `*out` when `out` is not null. What MemoryCheck(), CpuCheck() etc. do.
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

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_DETECTOR_H_
