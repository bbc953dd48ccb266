// One call to watch a service's resources: memory, CPU, IO, disk, file
// descriptors and tasks, with sensible defaults.
//
//   vigil::HealthRegistry registry;
//   vigil::pressure::DefaultDetectorOptions pressure;
//   pressure.disk_paths = {"/", "/var/lib/app"};
//   vigil::pressure::DefaultDetectors detectors;
//   if (absl::Status s = vigil::pressure::RegisterDefaultDetectors(
//           registry, pressure, &detectors); !s.ok()) { ... }
//   // detectors.registered: {"cpu", "disk:/", "disk:/var/lib/app", "fds",
//   //                        "io", "memory", "tasks"}
//
// What gets registered (every check in `groups`, default readiness only:
// restarting a process does not free a full disk, so none of these belongs
// in liveness):
//   memory            critical, every 5 s   (memory.h), and at once on
//                     kernel memory notifications (events.h)
//   cpu               non-critical, 5 s     (cpu.h)   skipped without PSI
//                     and cgroup signals; at once on a CPU PSI trigger
//   io                non-critical, 5 s     (io.h)    skipped without PSI;
//                     at once on an IO PSI trigger (events.h)
//   disk:<path>       critical, every 10 s  (disk.h), one per disk_paths
//   fds               critical, every 10 s  (fds.h)
//   tasks             critical, every 10 s  (tasks.h)
// Thresholds and trends are each detector's documented defaults unless the
// per-detector option structs below are changed.

#ifndef VIGIL_HEALTH_PRESSURE_DEFAULTS_H_
#define VIGIL_HEALTH_PRESSURE_DEFAULTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "health/clock.h"
#include "health/pressure/cpu.h"
#include "health/pressure/disk.h"
#include "health/pressure/events.h"
#include "health/pressure/fds.h"
#include "health/pressure/io.h"
#include "health/pressure/memory.h"
#include "health/pressure/source.h"
#include "health/pressure/tasks.h"
#include "health/registry.h"

namespace vigil {
namespace pressure {

struct DefaultDetectorOptions {
  // Replaces every detector's `source` (root, pid, cgroup_dir).
  Source source;
  // Replaces every detector's clock. Not owned; nullptr: Clock::Real().
  Clock* clock = nullptr;
  // Replaces every detector's check groups when non-empty.
  std::vector<std::string> groups = {"readiness"};

  bool enable_memory = true;
  // Re-run the memory check on kernel memory notifications (events.h);
  // `memory_events.clock` is replaced by `clock`.
  bool enable_memory_events = true;
  MemoryEventsOptions memory_events;
  // Re-run the CPU and IO checks on PSI triggers (events.h);
  // `psi_events.clock` is replaced by `clock`.
  bool enable_psi_events = true;
  MemoryEventsOptions psi_events = MemoryEventsOptions::ForPsi();
  bool enable_cpu = true;
  bool enable_io = true;
  bool enable_fds = true;
  bool enable_tasks = true;
  // One disk check per path (named DefaultDiskCheckName(path), e.g.
  // "disk:/var/lib/app"). Each must exist.
  std::vector<std::string> disk_paths = {"/"};

  // Per-detector settings (thresholds, trends, check options); their
  // `source` and `clock` are replaced by the fields above.
  MemoryOptions memory;
  CpuOptions cpu;
  IoOptions io;
  DiskOptions disk;  // `path` and `name` are set per entry of disk_paths.
  FdOptions fds;
  TasksOptions tasks;
};

// The detectors RegisterDefaultDetectors created, shared with their checks:
// read their LatestReading() for metrics.
struct DefaultDetectors {
  std::shared_ptr<MemoryDetector> memory;
  // Started, when enable_memory_events; calls RunNow on the registry, so
  // it must be destroyed before the registry.
  std::unique_ptr<MemoryEvents> memory_events;
  std::shared_ptr<CpuDetector> cpu;
  std::shared_ptr<IoDetector> io;
  // Started, when enable_psi_events and the check is registered; destroy
  // before the registry, as memory_events.
  std::unique_ptr<MemoryEvents> cpu_events;
  std::unique_ptr<MemoryEvents> io_events;
  std::vector<std::shared_ptr<DiskDetector>> disks;
  std::shared_ptr<FdDetector> fds;
  std::shared_ptr<TasksDetector> tasks;
  // Check names registered, sorted.
  std::vector<std::string> registered;
  // "cpu: no CPU pressure signal: ..." for each detector skipped because
  // the kernel offers none of its signals (CPU and IO only).
  std::vector<std::string> skipped;
};

// Creates and registers the enabled detectors. All or nothing: on error
// (InvalidArgument for bad options or a disk path that does not exist,
// AlreadyExists for a name clash) every check registered by this call is
// unregistered again. `out` (optional) receives the detectors.
// Thread-safe as HealthRegistry::Register.
absl::Status RegisterDefaultDetectors(HealthRegistry& registry,
                                      const DefaultDetectorOptions& options,
                                      DefaultDetectors* out = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_DEFAULTS_H_
