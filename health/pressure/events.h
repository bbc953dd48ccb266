// MemoryEvents: re-runs the memory check the moment the kernel signals
// memory pressure, instead of at its next interval.
//
// A memory check samples every 5 s; a spike of 40 MiB/s fills a 256 MiB
// cgroup in 6 s. MemoryEvents arms every kernel notification this machine
// offers for the check's cgroup and, when one fires, asks the registry to
// run the check at once (HealthRegistry::RunNow), then again every
// `follow_up_interval` for `follow_up_for` after the last event so the
// check's short-window spike trend (memory.h) has samples to speak from.
// With no event it never wakes up: one thread blocked in epoll_wait.
//
// Sources (each armed when present, else reported with the reason):
//   v1_thresholds      cgroup v1 memory thresholds: `cgroup.event_control`
//                      with an eventfd on memory.usage_in_bytes at each of
//                      `v1_threshold_ratios` of the effective limit
//                      (hierarchical_memory_limit); fires on every crossing,
//                      up or down
//   v1_pressure_level  cgroup v1 vmpressure: memory.pressure_level "low"
//                      (reclaim started in the cgroup)
//   v1_oom             cgroup v1 memory.oom_control: an OOM in the cgroup
//   v2_events          cgroup v2 memory.events and memory.events.local:
//                      every change (high, max, oom, oom_kill; `memory.high`
//                      being crossed counts in "high") is a file-modified
//                      event, watched with inotify
//   psi_trigger        a PSI trigger "some <stall> <window>" on the cgroup's
//                      memory.pressure or /proc/pressure/memory
// A source that is missing, refused or not pollable (a fixture tree's
// regular file) falls back to the check's regular polling; Details() lists
// which sources are live and why the others are not, and the check built
// by RegisterMemoryCheck() carries them in its details ("events",
// "events_unavailable", "event_wakeups").
//
//   vigil::pressure::MemoryOptions memory;
//   auto events = vigil::pressure::RegisterMemoryCheck(&registry, memory);
//   if (!events.ok()) ...;            // The check is registered on success.
//   registry.Start();                 // `*events` is already running.
//
// The IO and CPU checks get the same fast path from their PSI file alone
// (MemoryEvents::CreateForPsi, RegisterIoCheck, RegisterCpuCheck): a PSI
// trigger on io.pressure / cpu.pressure of the cgroup (else
// /proc/pressure/io, /proc/pressure/cpu) re-runs the check, with follow-ups
// every 2 s (PSI's averages move every 2 s) for 10 s
// (MemoryEventsOptions::ForPsi()). Their details say "events": "psi_trigger"
// or "none (polling only)" with the reason in "events_unavailable".
//
// Probes never trigger work: only a kernel event (and its bounded
// follow-ups) calls RunNow().
//
// Thread safety: Start(), Stop() and the accessors may be called from any
// thread. `on_event` runs on the events thread (or the caller of
// PollOnceForTest()), one call at a time.

#ifndef VIGIL_HEALTH_PRESSURE_EVENTS_H_
#define VIGIL_HEALTH_PRESSURE_EVENTS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/clock.h"
#include "health/pressure/cpu.h"
#include "health/pressure/io.h"
#include "health/pressure/memory.h"
#include "health/registry.h"
#include "health/sync.h"

namespace vigil {
namespace pressure {

struct MemoryEventsOptions {
  // Called on each kernel event and follow-up; RegisterMemoryCheck() sets it
  // to registry->RunNow(check name). Required for Create().
  std::function<void()> on_event;
  // Times the follow-ups. Not owned; nullptr means Clock::Real().
  Clock* clock = nullptr;
  bool v1_thresholds = true;
  // Fractions of the limit (each in (0, 1)): 25% .. 95% in steps of 5%, so a
  // spike gives a sample every 5% of the limit even between follow-ups.
  std::vector<double> v1_threshold_ratios = DefaultThresholdRatios();
  bool v1_pressure_level = true;
  bool v1_oom = true;
  bool v2_events = true;
  bool psi_trigger = true;
  // PSI trigger: 150 ms of "some" stall within 2 s (PressureMonitor's).
  absl::Duration trigger_stall = absl::Milliseconds(150);
  absl::Duration trigger_window = absl::Seconds(2);
  // After an event: on_event again every follow_up_interval until
  // follow_up_for has passed since the last event (> 0 each; zero
  // follow_up_for disables follow-ups).
  absl::Duration follow_up_interval = absl::Milliseconds(250);
  absl::Duration follow_up_for = absl::Seconds(5);
  // Events closer than this to the previous call are folded into one call
  // at previous + min_spacing (a cgroup hovering on a threshold cannot turn
  // the check into a busy loop). >= 0.
  absl::Duration min_spacing = absl::Milliseconds(50);
  // Registrations are written only into the kernel's own files (a cgroup or
  // proc filesystem); true also writes v1 registrations into a fixture
  // tree's regular files, whose eventfds a test then signals. Tests only.
  bool fixture_files_for_test = false;

  static std::vector<double> DefaultThresholdRatios();
  // Defaults for an IO or CPU check: follow-ups every 2 s for 10 s.
  static MemoryEventsOptions ForPsi();
  // OK or InvalidArgument naming the field ("memory_events.min_spacing: ...").
  absl::Status Validate() const;
};

class MemoryEvents {
 public:
  // Arms the sources for `detector`'s cgroup (its root, cgroup and PSI
  // file; the v1 thresholds are placed against the limit read now). Not
  // started. InvalidArgument for bad options. A source that cannot be armed
  // is not an error.
  static absl::StatusOr<std::unique_ptr<MemoryEvents>> Create(
      const MemoryDetector& detector, MemoryEventsOptions options);
  // Only the PSI trigger, on `psi_path` (of `resource`: "io", "cpu"; the
  // detector's PsiPath(), "" when it has none). The v1/v2 fields of
  // `options` are unused. Errors as Create().
  static absl::StatusOr<std::unique_ptr<MemoryEvents>> CreateForPsi(
      absl::string_view resource, const std::string& psi_path,
      MemoryEventsOptions options);
  // Stops and joins the thread, closes every fd (which unregisters the
  // kernel notifications).
  ~MemoryEvents();

  MemoryEvents(const MemoryEvents&) = delete;
  MemoryEvents& operator=(const MemoryEvents&) = delete;

  // Starts the thread (idempotent).
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops and joins it (idempotent).
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Armed sources ("v1_thresholds", ...) in the order of the list above.
  const std::vector<std::string>& armed() const { return armed_; }
  // Sources not armed, with the reason.
  const std::map<std::string, std::string>& unavailable() const {
    return unavailable_;
  }
  bool any_armed() const { return !armed_.empty(); }
  // Kernel notifications received, and on_event calls made (events plus
  // follow-ups, minus folded ones).
  int64_t event_count() const { return shared_->events.load(); }
  int64_t call_count() const { return calls_.load(); }
  // The v1 thresholds armed, in bytes of memory.usage_in_bytes.
  const std::vector<uint64_t>& v1_thresholds_bytes() const {
    return thresholds_bytes_;
  }
  // Adds "events" (armed sources while the thread runs, else "none
  // (polling only)" with the reason),
  // "events_unavailable" and "event_wakeups" to a check's details; the
  // returned function does the same and may outlive this object.
  // Thread-safe.
  void AddDetails(std::map<std::string, std::string>* details) const {
    DetailsAdder()(details);
  }
  std::function<void(std::map<std::string, std::string>*)> DetailsAdder() const;

  // One synchronous step without blocking: takes pending notifications and
  // makes the calls due at the clock's current time. Not to be mixed with a
  // running thread. Returns the number of notifications taken.
  int PollOnceForTest() { return Step(0); }

 private:
  struct Source {
    std::string name;
    int fd = -1;            // Polled; eventfd, inotify fd or PSI fd.
    std::vector<int> keep;  // Opened files the registration refers to.
  };
  explicit MemoryEvents(MemoryEventsOptions options);
  // Validated options, epoll and wake fds; no source armed.
  static absl::StatusOr<std::unique_ptr<MemoryEvents>> New(
      MemoryEventsOptions options);
  void ArmV1(const std::string& dir);
  void ArmV1Thresholds(const std::string& dir, int control_fd);
  void ArmV1Event(const std::string& dir, int control_fd,
                  const std::string& name, const char* file, const char* args);
  void ArmV2(const std::string& dir);
  void ArmPsi(const std::string& path, absl::string_view resource);
  void Add(Source source);
  // Waits up to `timeout_ms` (-1: forever) for notifications or Stop(),
  // then makes the due calls. Returns notifications taken.
  int Step(int timeout_ms);
  // epoll_wait timeout until the next due call, -1 when none is due.
  int NextTimeoutMs() const;
  void Loop();

  MemoryEventsOptions options_;
  Clock* clock_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the epoll_wait.
  std::vector<Source> sources_;
  std::vector<std::string> armed_;
  std::map<std::string, std::string> unavailable_;
  std::vector<uint64_t> thresholds_bytes_;
  // Shared with the check built by MakeMemoryCheckWithEvents().
  struct Shared {
    std::atomic<int64_t> events{0};
    std::atomic<bool> running{false};
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::atomic<int64_t> calls_{0};
  // Used by the events thread only (or PollOnceForTest()).
  absl::Time last_call_ = absl::InfinitePast();
  absl::Time pending_call_ = absl::InfiniteFuture();
  absl::Time follow_up_until_ = absl::InfinitePast();

  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// A memory check whose runs carry the events' details, and the MemoryEvents
// (armed, not started) that re-run it in `registry` by name.
struct MemoryCheckWithEvents {
  Check check;
  std::unique_ptr<MemoryEvents> events;
  std::shared_ptr<MemoryDetector> detector;
};
// Errors: those of MemoryCheck and MemoryEventsOptions::Validate
// (`events.on_event` is set here).
absl::StatusOr<MemoryCheckWithEvents> MakeMemoryCheckWithEvents(
    HealthRegistry* registry, MemoryOptions memory,
    MemoryEventsOptions events = {});

// MakeMemoryCheckWithEvents, the check registered in `registry` and the
// events started. The returned object must be destroyed before `registry`
// (it calls RunNow on it). Errors: those of MakeMemoryCheckWithEvents and
// HealthRegistry::Register.
absl::StatusOr<std::unique_ptr<MemoryEvents>> RegisterMemoryCheck(
    HealthRegistry* registry, MemoryOptions memory,
    MemoryEventsOptions events = {},
    std::shared_ptr<MemoryDetector>* detector = nullptr);

// A check whose runs carry the details of the events (armed, not started)
// that re-run it by name.
struct CheckWithEvents {
  Check check;
  std::unique_ptr<MemoryEvents> events;
};

// The IO / CPU check re-run on PSI triggers (MemoryEvents::CreateForPsi).
// `*detector` (optional) receives the detector. Errors: those of
// IoCheck / CpuCheck (FailedPrecondition without any signal) and of
// MemoryEventsOptions::Validate.
absl::StatusOr<CheckWithEvents> MakeIoCheckWithEvents(
    HealthRegistry* registry, IoOptions io,
    MemoryEventsOptions events = MemoryEventsOptions::ForPsi(),
    std::shared_ptr<IoDetector>* detector = nullptr);
absl::StatusOr<CheckWithEvents> MakeCpuCheckWithEvents(
    HealthRegistry* registry, CpuOptions cpu,
    MemoryEventsOptions events = MemoryEventsOptions::ForPsi(),
    std::shared_ptr<CpuDetector>* detector = nullptr);

// The above, registered in `registry` and started; as RegisterMemoryCheck,
// the returned object must be destroyed before `registry`.
absl::StatusOr<std::unique_ptr<MemoryEvents>> RegisterIoCheck(
    HealthRegistry* registry, IoOptions io,
    MemoryEventsOptions events = MemoryEventsOptions::ForPsi(),
    std::shared_ptr<IoDetector>* detector = nullptr);
absl::StatusOr<std::unique_ptr<MemoryEvents>> RegisterCpuCheck(
    HealthRegistry* registry, CpuOptions cpu,
    MemoryEventsOptions events = MemoryEventsOptions::ForPsi(),
    std::shared_ptr<CpuDetector>* detector = nullptr);

}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_EVENTS_H_
