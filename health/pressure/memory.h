// Memory pressure: working set against the effective limit, memory stalls
// (PSI), OOM kills, and time until the memory runs out.
//
// What it reads (all through Source::root; kept open, re-read with pread):
//   cgroup v2   <cg>/memory.current, memory.stat (inactive_file),
//               memory.events (oom, oom_kill), memory.max and memory.high
//               of <cg> and every visible ancestor (and memory.current /
//               memory.stat of an ancestor while it has a limit),
//               <cg>/memory.pressure
//   cgroup v1   memory.usage_in_bytes, memory.stat (total_inactive_file,
//               hierarchical_memory_limit), memory.oom_control (under_oom,
//               oom_kill), memory.limit_in_bytes of <cg> and every visible
//               ancestor; PSI from the unified (v2) cgroup in hybrid mode,
//               else /proc/pressure/memory
//   no limit    /proc/meminfo MemTotal and MemAvailable (host headroom is
//               only meaningful without a cgroup limit: inside a container
//               it describes the host)
//
// How it decides (the combination matters: PSI alone gave oomd and
// systemd-oomd users well-known false alarms — a full page cache being
// reclaimed stalls briefly while nothing is at risk — and headroom alone
// misses thrashing):
//   - headroom: working set = usage − inactive_file (the kubelet's
//     definition: inactive file pages are reclaimed before any OOM kill)
//     against the limit. Every cgroup from the target's up to the top
//     visible one may carry a limit (memory.max, memory.high; v1
//     limit_in_bytes, plus the kernel's hierarchical_memory_limit which
//     also covers ancestors outside a container's view); each is compared
//     with the working set of the cgroup that carries it, since siblings
//     share it, and the fullest one binds. With a single limit this is the
//     usual "smallest limit over the visible ancestors". Thresholds
//     `usage` (ratio 0..1); details["limit_cgroup"] names the binding one;
//   - trend: the working set's fill rate and time to reach the limit; a
//     predicted exhaustion within `trend.horizon` is DEGRADED before any
//     static threshold trips;
//   - spike: a second, short-window trend (`spike`: 5 s of samples, speaks
//     after 3 samples over 0.5 s) sees a fast climb that the long trend
//     cannot: UNHEALTHY when the limit is predicted within
//     `spike.critical_horizon` (4 s), DEGRADED within `spike.horizon`. It
//     only speaks when samples come faster than the check's interval,
//     i.e. when kernel events (see events.h) re-run the check;
//   - stall: PSI "full" and "some" avg10 (percent of wall time), thresholds
//     `psi_full` / `psi_some`. Stall alone is at most DEGRADED; it escalates
//     to UNHEALTHY only while headroom is also at warn or worse;
//   - OOM: an increase of the oom_kill counter keeps the check DEGRADED for
//     `oom_kill_hold`; v1 under_oom (OOM killer disabled and the cgroup
//     stuck at its limit) is UNHEALTHY.
// A signal the kernel does not offer (no PSI, no cgroup, an unreadable file)
// is listed in details["unavailable"] and simply not used: never a crash,
// never a fake zero.
//
//   vigil::pressure::MemoryOptions options;          // this process, defaults
//   absl::StatusOr<vigil::Check> check = vigil::pressure::MemoryCheck(options);
//   if (check.ok()) registry.Register(*std::move(check));
//
// Thread safety: Sample()/Result()/Run() are called by one thread at a time
// (a registry never runs a check concurrently with itself); LatestReading()
// may be called from any thread.

#ifndef VIGIL_HEALTH_PRESSURE_MEMORY_H_
#define VIGIL_HEALTH_PRESSURE_MEMORY_H_

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
#include "health/pressure/trend.h"

namespace vigil {
namespace pressure {

struct MemoryOptions {
  // The check's name.
  std::string name = "memory";
  Source source;
  // Sampling times. Not owned; nullptr means Clock::Real().
  Clock* clock = nullptr;
  // Working set / effective limit. 80% / 90%: readiness fails with a tenth
  // of the limit left, early enough for the service to shed load before the
  // kernel reclaims hard and OOM-kills at 100%.
  Thresholds usage = {0.80, 0.90, 0.03};
  // PSI "full" avg10, percent: all tasks stalled on memory. 10% warns;
  // 40% is critical, below systemd-oomd's default kill limit (60% over
  // 30 s) so the service hears of it before the killer acts.
  Thresholds psi_full = {10, 40, 2};
  // PSI "some" avg10, percent: at least one task stalled. Android's lmkd
  // counts 70 ms of partial stall per second (7%) as low pressure; a
  // server tolerates more: 30% warns, 70% is critical.
  Thresholds psi_some = {30, 70, 5};
  // Trend of the working set. Memory moves fast: 5 min window, speaks after
  // 30 s, DEGRADED when the limit is predicted within 10 min.
  TrendOptions trend = DefaultTrend();
  // Short-window trend for spikes (40 MiB/s into a 256 MiB limit is 6 s
  // from empty to an OOM kill). The floor `critical_horizon` (4 s) makes
  // readiness fail with enough time left for a load balancer to react;
  // `horizon` (10 s) warns. Needs samples faster than `check.interval`:
  // MemoryEvents re-runs the check on kernel events. `enabled = false`
  // turns it off.
  TrendOptions spike = DefaultSpikeTrend();
  // An OOM kill in the cgroup keeps the check DEGRADED this long.
  absl::Duration oom_kill_hold = absl::Minutes(5);
  // Registry options: every 5 s, critical, readiness.
  CheckOptions check = DefaultCheckOptions();

  static TrendOptions DefaultTrend();
  static TrendOptions DefaultSpikeTrend();
  static CheckOptions DefaultCheckOptions();
  // OK or InvalidArgument naming the field ("memory.usage.critical: ...").
  absl::Status Validate() const;
};

// The raw readings of one sample, for metrics and tests. Absent fields were
// not available on that sample.
struct MemoryReading {
  absl::Time time = absl::InfinitePast();
  // Headroom, in bytes: the working set and the limit it is compared with
  // (cgroup effective limit, or host MemTotal when no cgroup limit applies).
  std::optional<double> working_set_bytes;
  std::optional<double> limit_bytes;
  std::optional<double> usage_ratio;
  bool limit_from_cgroup = false;
  // Where the binding limit is: 0 the target's cgroup, k its k-th ancestor,
  // kKernelHierarchicalLimit v1's hierarchical_memory_limit (an ancestor
  // outside our view), kHostLimit the host's MemTotal.
  static constexpr int kHostLimit = -1;
  static constexpr int kKernelHierarchicalLimit = -2;
  int limit_depth = kHostLimit;
  // Raw cgroup figures.
  std::optional<double> cgroup_usage_bytes;
  std::optional<double> inactive_file_bytes;
  // Host figures (read only when no cgroup limit applies).
  std::optional<double> host_total_bytes;
  std::optional<double> host_available_bytes;
  // PSI avg10 / avg60 (percent); cgroup-local or system-wide.
  std::optional<double> psi_some_avg10;
  std::optional<double> psi_full_avg10;
  std::optional<double> psi_some_avg60;
  std::optional<double> psi_full_avg60;
  bool psi_cgroup_local = false;
  // Counters: v2 memory.events "oom" (limit hit, reclaim failed) and
  // "oom_kill"; v1 memory.oom_control "oom_kill" and "under_oom".
  std::optional<uint64_t> oom_events;
  std::optional<uint64_t> oom_kills;
  std::optional<bool> under_oom;
  // Trend of the working set.
  std::optional<double> fill_rate_bytes_per_second;
  std::optional<absl::Duration> time_to_exhaustion;
  // Short-window (spike) trend of the working set.
  std::optional<double> spike_fill_rate_bytes_per_second;
  std::optional<absl::Duration> spike_time_to_exhaustion;
  Level level = Level::kOk;
};

// Create(), Sample(), Run(), LatestReading() and options() come from the
// detector skeleton shared by every pressure detector
// (internal/detector.h), with the signatures shown.
class MemoryDetector
    : public internal::DetectorCore<MemoryDetector, MemoryOptions,
                                    MemoryReading> {
 public:
  // static absl::StatusOr<std::unique_ptr<MemoryDetector>> Create(
  //     MemoryOptions options);
  // Validates `options`, resolves the cgroup and opens every file. Missing
  // files are not an error (they are reported as unavailable signals);
  // InvalidArgument for bad options or a `source.cgroup_dir` that does not
  // exist.
  using DetectorCore::Create;
  ~MemoryDetector();

  // const MemoryReading& Sample();
  // Reads every signal once, updates levels and trend. Allocation-free in
  // steady state. Returns the reading (valid until the next Sample()).
  using DetectorCore::Sample;
  // The check result for the latest sample (allocates its strings).
  CheckResult Result() const;
  // CheckResult Run();
  // Sample() then Result(): what the check runs.
  using DetectorCore::Run;

  // MemoryReading LatestReading() const;
  // A copy of the latest reading. Thread-safe.
  using DetectorCore::LatestReading;
  // Every file this detector samples (for benchmarks and documentation).
  std::vector<std::string> Files() const;
  // The memory PSI file sampled (cgroup-local or /proc/pressure/memory), or
  // "" when PSI is unavailable.
  std::string PsiPath() const;
  // "v1 /sys/fs/cgroup/memory/app", "v2 /sys/fs/cgroup/a.slice/b", "none".
  std::string CgroupDescription() const;
  // The memory cgroup sampled, as a path including the root ("" without
  // one), and whether it is cgroup v2. Fixed at Create(); thread-safe.
  std::string CgroupFullPath() const;
  bool cgroup_is_v2() const;
  // const MemoryOptions& options() const;
  using DetectorCore::options;

 private:
  friend DetectorCore;
  struct Impl;
  explicit MemoryDetector(MemoryOptions options);
  absl::Status Open();
  void Read(absl::Time now, MemoryReading& r);
  // The spike trend's details and reason, for Result().
  void AddSpike(const MemoryReading& r, CheckResult* result,
                std::vector<std::string>* reasons) const;

  std::unique_ptr<Impl> impl_;
};

// A Check running a MemoryDetector. When `detector` is not null it receives
// the detector (shared with the check) for LatestReading() and metrics.
absl::StatusOr<Check> MemoryCheck(
    MemoryOptions options = {},
    std::shared_ptr<MemoryDetector>* detector = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_MEMORY_H_
