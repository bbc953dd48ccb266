// File descriptors: open descriptors against RLIMIT_NOFILE, and the time
// until the process cannot open another one (EMFILE).
//
// What it reads (through Source::root; kept open):
//   /proc/<pid>/fd     the count: since Linux 6.2 fstat() of the directory
//                      reports the number of open descriptors as st_size
//                      (one syscall); on older kernels (st_size 0) or off
//                      procfs (fixture trees) the entries are counted with
//                      getdents64 into a pre-sized buffer
//   /proc/<pid>/limits the soft "Max open files" (RLIMIT_NOFILE), re-read
//                      every sample since setrlimit/prlimit can change it
// When watching this process the count includes the descriptors the
// detectors keep open themselves (two for this one; about two dozen with
// every detector of RegisterDefaultDetectors).
//
// Defaults: 80% warns, 90% is critical; DEGRADED when the limit is
// predicted within 30 min (a descriptor leak).
//
//   absl::StatusOr<vigil::Check> check = vigil::pressure::FdCheck();
//
// Thread safety: as MemoryDetector.

#ifndef VIGIL_HEALTH_PRESSURE_FDS_H_
#define VIGIL_HEALTH_PRESSURE_FDS_H_

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
#include "health/pressure/trend.h"

namespace vigil {
namespace pressure {

struct FdOptions {
  std::string name = "fds";
  // root and pid are used (cgroup_dir is ignored: descriptors are per
  // process).
  Source source;
  // Not owned; nullptr means Clock::Real().
  Clock* clock = nullptr;
  // Open descriptors / RLIMIT_NOFILE.
  Thresholds usage = {0.80, 0.90, 0.03};
  // 10 min window, speaks after 1 min, DEGRADED within 30 min.
  TrendOptions trend = DefaultTrend();
  // Registry options: every 10 s, critical, readiness.
  CheckOptions check = DefaultCheckOptions();

  static TrendOptions DefaultTrend();
  static CheckOptions DefaultCheckOptions();
  absl::Status Validate() const;
};

struct FdReading {
  absl::Time time = absl::InfinitePast();
  std::optional<double> open_fds;
  // Soft RLIMIT_NOFILE; absent when unlimited or unreadable.
  std::optional<double> limit;
  std::optional<double> usage_ratio;
  std::optional<double> fill_rate_per_second;
  std::optional<absl::Duration> time_to_exhaustion;
  // True when counted with fstat's st_size, false when by listing.
  bool counted_by_fstat = false;
  Level level = Level::kOk;
};

// Create(), Sample(), Run(), LatestReading() and options() come from the
// detector skeleton (internal/detector.h), with the signatures shown.
class FdDetector
    : public internal::DetectorCore<FdDetector, FdOptions, FdReading> {
 public:
  // static absl::StatusOr<std::unique_ptr<FdDetector>> Create(FdOptions);
  // InvalidArgument for bad options. Missing files are reported, not fatal.
  using DetectorCore::Create;
  ~FdDetector();

  // const FdReading& Sample(); allocation-free in steady state.
  using DetectorCore::Sample;
  CheckResult Result() const;
  // CheckResult Run(): Sample() then Result().
  using DetectorCore::Run;
  // FdReading LatestReading() const; thread-safe.
  using DetectorCore::LatestReading;
  std::vector<std::string> Files() const;
  // const FdOptions& options() const;
  using DetectorCore::options;

 private:
  friend DetectorCore;
  struct Impl;
  explicit FdDetector(FdOptions options);
  absl::Status Open();
  void Read(absl::Time now, FdReading& r);

  std::unique_ptr<Impl> impl_;
};

absl::StatusOr<Check> FdCheck(FdOptions options = {},
                              std::shared_ptr<FdDetector>* detector = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_FDS_H_
