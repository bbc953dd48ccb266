// IO pressure: time lost waiting for block IO (PSI "some" and "full").
//
// What it reads: <cg>/io.pressure of the target's v2 cgroup (also in hybrid
// mode), else /proc/pressure/io (through Source::root; kept open). "some"
// is the share of wall time in which at least one task waited for IO, "full"
// the share in which all non-idle tasks did (the service made no progress).
// Without PSI (kernel < 4.20, or booted with psi=0) there is no IO signal
// and Create() fails with FailedPrecondition.
//
// Defaults make it non-critical: slow disks slow a service, they rarely
// break it.
//
//   absl::StatusOr<vigil::Check> check = vigil::pressure::IoCheck();
//
// Thread safety: as MemoryDetector.

#ifndef VIGIL_HEALTH_PRESSURE_IO_H_
#define VIGIL_HEALTH_PRESSURE_IO_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/clock.h"
#include "health/pressure/internal/detector.h"
#include "health/pressure/source.h"
#include "health/pressure/thresholds.h"

namespace vigil {
namespace pressure {

struct IoOptions {
  std::string name = "io";
  Source source;
  // Not owned; nullptr means Clock::Real().
  Clock* clock = nullptr;
  // PSI "some" avg10, percent: 30% warns, 70% critical.
  Thresholds psi_some = {30, 70, 5};
  // PSI "full" avg10, percent: 10% warns, 40% critical (as memory).
  Thresholds psi_full = {10, 40, 2};
  // Registry options: every 5 s, non-critical, readiness.
  CheckOptions check = DefaultCheckOptions();

  static CheckOptions DefaultCheckOptions();
  absl::Status Validate() const;
};

struct IoReading {
  absl::Time time = absl::InfinitePast();
  std::optional<double> psi_some_avg10;
  std::optional<double> psi_some_avg60;
  std::optional<double> psi_full_avg10;
  std::optional<double> psi_full_avg60;
  bool psi_cgroup_local = false;
  Level level = Level::kOk;
};

// Create(), Sample(), Run(), LatestReading() and options() come from the
// detector skeleton (internal/detector.h), with the signatures shown.
class IoDetector
    : public internal::DetectorCore<IoDetector, IoOptions, IoReading> {
 public:
  // static absl::StatusOr<std::unique_ptr<IoDetector>> Create(IoOptions);
  // InvalidArgument for bad options; FailedPrecondition without PSI.
  using DetectorCore::Create;
  ~IoDetector();

  // const IoReading& Sample(); allocation-free in steady state.
  using DetectorCore::Sample;
  CheckResult Result() const;
  // CheckResult Run(): Sample() then Result().
  using DetectorCore::Run;
  // IoReading LatestReading() const; thread-safe.
  using DetectorCore::LatestReading;
  std::vector<std::string> Files() const;
  // The IO PSI file sampled (cgroup-local or /proc/pressure/io), or ""
  // without PSI. Fixed at Create(); thread-safe.
  std::string PsiPath() const;
  // const IoOptions& options() const;
  using DetectorCore::options;

 private:
  friend DetectorCore;
  struct Impl;
  explicit IoDetector(IoOptions options);
  absl::Status Open();
  void Read(absl::Time now, IoReading& r);

  std::unique_ptr<Impl> impl_;
};

absl::StatusOr<Check> IoCheck(IoOptions options = {},
                              std::shared_ptr<IoDetector>* detector = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_IO_H_
