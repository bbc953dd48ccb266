// PressureMonitor: tells the application how much memory pressure there is,
// as a level from 0 to 1, as soon as it changes — to shed load, trim caches
// or pause batch work before the kernel has to act.
//
// A background thread samples a MemoryDetector. Where the kernel allows it,
// it arms a PSI trigger on the memory pressure file ("some <stall> <window>"
// written to it; the file then signals POLLPRI when tasks stalled on memory
// for at least <stall> within any <window>) and wakes on it at once, besides
// its regular `poll_interval`. Without PSI, or when the trigger is refused
// (windows must be multiples of 2 s without CAP_SYS_RESOURCE; kernels
// before 5.2 have no triggers), it falls back to polling alone.
//
// The level is max(headroom, stall):
//   headroom = (usage ratio − level_start) / (1 − level_start), clamped to
//              0..1: 0 up to 60% of the limit, 1 at the limit;
//   stall    = PSI full avg10 / the detector's psi_full.critical, clamped;
//              capped at 0.5 while headroom is below the detector's warn
//              ratio (stall alone is a weak signal; see memory.h).
//
//   vigil::pressure::PressureMonitorOptions o;
//   o.callback = [&](double level, const vigil::pressure::MemoryReading&) {
//     cache.SetBudgetFraction(1.0 - level);
//   };
//   auto monitor = vigil::pressure::PressureMonitor::Create(o);
//   if (monitor.ok()) (*monitor)->Start();
//
// Thread safety: Start(), Stop() and the accessors may be called from any
// thread. The callback runs on the monitor's thread (or the caller of
// RunOnceForTest()), one call at a time; it must not call Stop().

#ifndef VIGIL_HEALTH_PRESSURE_MONITOR_H_
#define VIGIL_HEALTH_PRESSURE_MONITOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/pressure/memory.h"
#include "health/sync.h"

namespace vigil {
namespace pressure {

struct PressureMonitorOptions {
  // The detector sampled (source, clock, thresholds). Its trend and check
  // options are irrelevant here.
  MemoryOptions memory;
  // Arm a PSI trigger "some <trigger_stall> <trigger_window>" when possible.
  bool use_psi_trigger = true;
  // 150 ms of stall within 2 s: the shape of Android lmkd's default "low"
  // trigger (70 ms per second), with the 2 s window unprivileged callers
  // need. The window must be 0.5..10 s; stall < window.
  absl::Duration trigger_stall = absl::Milliseconds(150);
  absl::Duration trigger_window = absl::Seconds(2);
  // Regular sampling, with or without a trigger. > 0.
  absl::Duration poll_interval = absl::Seconds(1);
  // Usage ratio at which the headroom part of the level starts rising.
  // In [0, 1).
  double level_start = 0.6;
  // The callback runs on the first sample and then when the level moved by
  // at least this much since the last call, or reached 0 or 1. In [0, 1].
  double min_change = 0.05;
  // Receives the level (0..1) and the reading behind it. Required.
  std::function<void(double level, const MemoryReading& reading)> callback;

  absl::Status Validate() const;
};

class PressureMonitor {
 public:
  // InvalidArgument for bad options (no callback, bad durations) or a bad
  // memory detector configuration.
  static absl::StatusOr<std::unique_ptr<PressureMonitor>> Create(
      PressureMonitorOptions options);
  // Stops and joins the thread.
  ~PressureMonitor();

  PressureMonitor(const PressureMonitor&) = delete;
  PressureMonitor& operator=(const PressureMonitor&) = delete;

  // Starts the thread (idempotent).
  void Start();
  // Stops and joins it (idempotent).
  void Stop();

  // True when a PSI trigger is armed; otherwise trigger_problem() says why.
  bool using_psi_trigger() const { return trigger_fd_ >= 0; }
  const std::string& trigger_problem() const { return trigger_problem_; }
  // The latest level, 0..1 (0 before the first sample).
  double level() const { return level_.load(); }
  // Wake-ups caused by the PSI trigger so far.
  int64_t trigger_wakeups() const { return trigger_wakeups_.load(); }

  // One synchronous sample, level computation and (maybe) callback.
  // Returns the level. Not to be mixed with a running thread.
  double RunOnceForTest() { return SampleOnce(); }

  // The level for a reading, given the detector's options (pure).
  static double LevelFor(const MemoryReading& reading,
                         const MemoryOptions& memory, double level_start);

 private:
  explicit PressureMonitor(PressureMonitorOptions options,
                           std::unique_ptr<MemoryDetector> detector);
  void ArmTrigger();
  double SampleOnce();
  void Loop();

  PressureMonitorOptions options_;
  std::unique_ptr<MemoryDetector> detector_;
  int trigger_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes a poll().
  std::string trigger_problem_;
  std::atomic<double> level_{0};
  std::atomic<int64_t> trigger_wakeups_{0};
  bool called_ = false;  // Used by the sampling thread only.
  double last_called_level_ = 0;

  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_MONITOR_H_
