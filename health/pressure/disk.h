// Disk space: bytes and inodes left on the filesystem holding a path, and
// the time until it is full.
//
// What it reads: statvfs(path) on every sample (about 0.4 µs; the path is
// looked up each time so a filesystem mounted later over it is seen).
// Capacity and availability are counted as an unprivileged writer sees
// them: f_bavail / f_favail (space and inodes a non-root process can still
// use), over the total minus the root-reserved share. So the ratio reaches
// 100% exactly when an ordinary write starts failing with ENOSPC. A
// filesystem that reports no inode count (f_files == 0, e.g. btrfs) has no
// inode signal.
//
// Defaults follow the kubelet: its hard eviction thresholds
// nodefs.available<10% and nodefs.inodesFree<5% are our critical levels
// (90% / 95% used); warn comes at 85% (the kubelet's image garbage
// collection high threshold) and 90% of inodes.
//
//   vigil::pressure::DiskOptions options;
//   options.path = "/var/lib/app";
//   absl::StatusOr<vigil::Check> check = vigil::pressure::DiskCheck(options);
//
// Thread safety: as MemoryDetector.

#ifndef VIGIL_HEALTH_PRESSURE_DISK_H_
#define VIGIL_HEALTH_PRESSURE_DISK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/clock.h"
#include "health/pressure/internal/detector.h"
#include "health/pressure/thresholds.h"
#include "health/pressure/trend.h"

namespace vigil {
namespace pressure {

// "disk:<path>", with characters a check name cannot hold replaced by '_'
// and, past 128 characters, "disk:..." and the end of the path.
std::string DefaultDiskCheckName(absl::string_view path);

struct DiskOptions {
  // Check name; empty means DefaultDiskCheckName(path).
  std::string name;
  // Any path on the filesystem to watch. Must exist at creation.
  std::string path = "/";
  // Not owned; nullptr means Clock::Real().
  Clock* clock = nullptr;
  // Used share of the space an unprivileged writer can use.
  Thresholds bytes = {0.85, 0.90, 0.02};
  // Used share of the inodes.
  Thresholds inodes = {0.90, 0.95, 0.02};
  // Disks fill slowly: 30 min window, speaks after 2 min, DEGRADED when
  // full is predicted within 1 h. Applies to bytes and inodes.
  TrendOptions trend = DefaultTrend();
  // Registry options: every 10 s, critical, readiness.
  CheckOptions check = DefaultCheckOptions();

  static TrendOptions DefaultTrend();
  static CheckOptions DefaultCheckOptions();
  absl::Status Validate() const;
};

struct DiskReading {
  absl::Time time = absl::InfinitePast();
  // Space usable by an unprivileged writer, and what is left of it.
  std::optional<double> bytes_total;
  std::optional<double> bytes_available;
  std::optional<double> bytes_ratio;
  std::optional<double> inodes_total;
  std::optional<double> inodes_available;
  std::optional<double> inodes_ratio;
  // Trends (bytes per second, inodes per second).
  std::optional<double> bytes_fill_rate;
  std::optional<absl::Duration> bytes_time_to_full;
  std::optional<double> inodes_fill_rate;
  std::optional<absl::Duration> inodes_time_to_full;
  // errno of a failed statvfs, 0 otherwise.
  int error = 0;
  Level level = Level::kOk;
};

// Create(), Sample(), Run(), LatestReading() and options() come from the
// detector skeleton (internal/detector.h), with the signatures shown.
class DiskDetector
    : public internal::DetectorCore<DiskDetector, DiskOptions, DiskReading> {
 public:
  // static absl::StatusOr<std::unique_ptr<DiskDetector>> Create(DiskOptions);
  // InvalidArgument for bad options or a path statvfs cannot read. Fills in
  // an empty name with DefaultDiskCheckName(path).
  using DetectorCore::Create;
  ~DiskDetector();

  // const DiskReading& Sample(); one statvfs, allocation-free.
  using DetectorCore::Sample;
  CheckResult Result() const;
  // CheckResult Run(): Sample() then Result().
  using DetectorCore::Run;
  // DiskReading LatestReading() const; thread-safe.
  using DetectorCore::LatestReading;
  // const DiskOptions& options() const;
  using DetectorCore::options;

 private:
  friend DetectorCore;
  struct Impl;
  explicit DiskDetector(DiskOptions options);
  absl::Status Open();
  void Read(absl::Time now, DiskReading& r);

  std::unique_ptr<Impl> impl_;
};

absl::StatusOr<Check> DiskCheck(
    DiskOptions options, std::shared_ptr<DiskDetector>* detector = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_DISK_H_
