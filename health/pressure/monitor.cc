#include "health/pressure/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/psi.h"

namespace vigil {
namespace pressure {

absl::Status PressureMonitorOptions::Validate() const {
  if (!callback) {
    return absl::InvalidArgumentError("monitor.callback: required");
  }
  if (poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("monitor.poll_interval: must be > 0");
  }
  if (use_psi_trigger) {
    if (absl::Status s = internal::ValidatePsiTrigger("monitor", trigger_stall,
                                                      trigger_window);
        !s.ok()) {
      return s;
    }
  }
  if (!(level_start >= 0 && level_start < 1)) {
    return absl::InvalidArgumentError("monitor.level_start: must be in [0, 1)");
  }
  if (!(min_change >= 0 && min_change <= 1)) {
    return absl::InvalidArgumentError("monitor.min_change: must be in [0, 1]");
  }
  return memory.Validate();
}

absl::StatusOr<std::unique_ptr<PressureMonitor>> PressureMonitor::Create(
    PressureMonitorOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  options.memory.trend.enabled = false;  // The level does not use it.
  absl::StatusOr<std::unique_ptr<MemoryDetector>> d =
      MemoryDetector::Create(options.memory);
  if (!d.ok()) return d.status();
  std::unique_ptr<PressureMonitor> m(
      new PressureMonitor(std::move(options), *std::move(d)));
  m->ArmTrigger();
  return m;
}

PressureMonitor::PressureMonitor(PressureMonitorOptions options,
                                 std::unique_ptr<MemoryDetector> detector)
    : options_(std::move(options)), detector_(std::move(detector)) {}

PressureMonitor::~PressureMonitor() {
  Stop();
  if (trigger_fd_ >= 0) close(trigger_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void PressureMonitor::ArmTrigger() {
  const int fd = internal::ArmPsiTrigger(
      options_.use_psi_trigger, detector_->PsiPath(), "memory",
      options_.trigger_stall, options_.trigger_window, &trigger_problem_);
  if (fd < 0) return;
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    trigger_problem_ = absl::StrCat("eventfd: ", internal::ErrorText(errno));
    close(fd);
    return;
  }
  trigger_fd_ = fd;
}

double PressureMonitor::LevelFor(const MemoryReading& r,
                                 const MemoryOptions& memory,
                                 double level_start) {
  double headroom = 0;
  if (r.usage_ratio) {
    headroom = std::clamp((*r.usage_ratio - level_start) / (1.0 - level_start),
                          0.0, 1.0);
  }
  double stall = 0;
  if (r.psi_full_avg10 && memory.psi_full.critical > 0) {
    stall = std::clamp(*r.psi_full_avg10 / memory.psi_full.critical, 0.0, 1.0);
    if (!(r.usage_ratio && *r.usage_ratio >= memory.usage.warn)) {
      stall = std::min(stall, 0.5);
    }
  }
  return std::max(headroom, stall);
}

double PressureMonitor::SampleOnce() {
  const MemoryReading& r = detector_->Sample();
  const double level = LevelFor(r, options_.memory, options_.level_start);
  level_.store(level);
  const bool extreme_change =
      (level == 0 || level == 1) && level != last_called_level_;
  if (!called_ || std::abs(level - last_called_level_) >= options_.min_change ||
      extreme_change) {
    called_ = true;
    last_called_level_ = level;
    options_.callback(level, r);
  }
  return level;
}

void PressureMonitor::Start() {
  MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void PressureMonitor::Stop() {
  std::thread t;
  {
    MutexLock lock(&mu_);
    if (!running_) return;
    stop_ = true;
    running_ = false;
    t = std::move(thread_);
  }
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  t.join();
}

void PressureMonitor::Loop() {
  Clock* clock = options_.memory.clock ? options_.memory.clock : Clock::Real();
  bool trigger_alive = trigger_fd_ >= 0;
  while (true) {
    // The cadence counts from the start of each sample.
    const absl::Time deadline = clock->Now() + options_.poll_interval;
    SampleOnce();
    if (trigger_alive) {
      // Wait for the trigger, Stop(), or the next regular sample.
      pollfd fds[2] = {{trigger_fd_, POLLPRI, 0}, {wake_fd_, POLLIN, 0}};
      const int64_t ms = std::max<int64_t>(
          0, absl::ToInt64Milliseconds(deadline - clock->Now()));
      const int n = poll(fds, 2, static_cast<int>(ms));
      if (n > 0 && (fds[0].revents & POLLPRI)) ++trigger_wakeups_;
      if (n > 0 && (fds[0].revents & (POLLERR | POLLNVAL))) {
        // The trigger is gone (cgroup removed): keep polling on the clock.
        trigger_alive = false;
      }
      MutexLock lock(&mu_);
      if (stop_) return;
    } else {
      MutexLock lock(&mu_);
      clock->AwaitWithDeadline(
          &mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; },
          deadline);
      if (stop_) return;
    }
  }
}

}  // namespace pressure
}  // namespace vigil
