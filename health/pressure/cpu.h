// CPU pressure: CPU stalls (PSI "some") and cgroup quota throttling.
//
// What it reads (through Source::root; kept open, re-read with pread):
//   PSI         <cg>/cpu.pressure of the target's v2 cgroup (also in hybrid
//               mode), else /proc/pressure/cpu
//   throttling  cpu.stat of the CPU cgroup: nr_periods, nr_throttled and
//               throttled_usec (v2) or throttled_time in ns (v1), compared
//               between two samples: the fraction of CFS periods in the
//               sampling window in which the cgroup ran out of quota
//   quota       cpu.max (v2) or cpu.cfs_quota_us / cpu.cfs_period_us (v1):
//               without a quota, throttling is not applicable
//
// CPU pressure slows a service without breaking it, so the defaults make it
// a non-critical check: at worst it turns readiness DEGRADED.
//
//   absl::StatusOr<vigil::Check> check = vigil::pressure::CpuCheck();
//
// Thread safety: as MemoryDetector.

#ifndef VIGIL_HEALTH_PRESSURE_CPU_H_
#define VIGIL_HEALTH_PRESSURE_CPU_H_

#include <cstdint>
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

struct CpuOptions {
  std::string name = "cpu";
  Source source;
  // Not owned; nullptr means Clock::Real().
  Clock* clock = nullptr;
  // PSI "some" avg10, percent of wall time in which at least one runnable
  // task waited for a CPU. Busy servers run at tens of percent; 50% warns,
  // 90% (work almost always queued) is critical.
  Thresholds psi_some = {50, 90, 5};
  // Fraction of CFS periods throttled in the sampling window. 25% warns:
  // the kube-prometheus CPUThrottlingHigh alert's threshold; 50% critical.
  Thresholds throttled = {0.25, 0.50, 0.05};
  // Registry options: every 5 s, non-critical, readiness.
  CheckOptions check = DefaultCheckOptions();

  static CheckOptions DefaultCheckOptions();
  absl::Status Validate() const;
};

struct CpuReading {
  absl::Time time = absl::InfinitePast();
  std::optional<double> psi_some_avg10;
  std::optional<double> psi_some_avg60;
  // Cgroup-local PSI only ("full" for CPU is always zero system-wide).
  std::optional<double> psi_full_avg10;
  bool psi_cgroup_local = false;
  // Quota in CPUs (quota / period); absent without a quota.
  std::optional<double> quota_cpus;
  // Cumulative counters from cpu.stat.
  std::optional<uint64_t> nr_periods;
  std::optional<uint64_t> nr_throttled;
  std::optional<double> throttled_seconds_total;
  // Over the window since the previous sample.
  std::optional<double> throttled_ratio;
  std::optional<double> throttled_seconds_per_second;
  Level level = Level::kOk;
};

// Create(), Sample(), Run(), LatestReading() and options() come from the
// detector skeleton (internal/detector.h), with the signatures shown.
class CpuDetector
    : public internal::DetectorCore<CpuDetector, CpuOptions, CpuReading> {
 public:
  // static absl::StatusOr<std::unique_ptr<CpuDetector>> Create(CpuOptions);
  // InvalidArgument for bad options; FailedPrecondition when no signal
  // exists at all (no PSI and no CPU cgroup with cpu.stat).
  using DetectorCore::Create;
  ~CpuDetector();

  // const CpuReading& Sample(); allocation-free in steady state.
  using DetectorCore::Sample;
  CheckResult Result() const;
  // CheckResult Run(): Sample() then Result().
  using DetectorCore::Run;
  // CpuReading LatestReading() const; thread-safe.
  using DetectorCore::LatestReading;
  std::vector<std::string> Files() const;
  // The CPU PSI file sampled (cgroup-local or /proc/pressure/cpu), or ""
  // without PSI. Fixed at Create(); thread-safe.
  std::string PsiPath() const;
  // const CpuOptions& options() const;
  using DetectorCore::options;

 private:
  friend DetectorCore;
  struct Impl;
  explicit CpuDetector(CpuOptions options);
  absl::Status Open();
  void Read(absl::Time now, CpuReading& r);

  std::unique_ptr<Impl> impl_;
};

absl::StatusOr<Check> CpuCheck(
    CpuOptions options = {}, std::shared_ptr<CpuDetector>* detector = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_CPU_H_
