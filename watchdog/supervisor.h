// Supervisor: self-restart for hangs no in-process thread can escape.
//
// An in-process watchdog cannot help when the whole process is stuck: every
// thread deadlocked inside malloc, or the process stopped with SIGSTOP. So
// the first thing main does is fork: the parent becomes a small,
// single-threaded supervisor (no Abseil threads, no registry, no locks) and
// the child goes on to be the service. The parent watches the child
//
//   - through its exit status (waitpid): a crash or a non-zero exit is
//     restarted;
//   - through a shared-memory lifeline (mapped before the fork): the child's
//     Watchdog advances a counter on every monitor tick and flags any
//     heartbeat past its kill threshold. A counter that stops moving for
//     `hang_timeout` (the whole child is stuck), or a flagged heartbeat,
//     makes the parent stop the child (SIGTERM + SIGCONT, then SIGKILL after
//     `stop_grace`) and start a new one.
//
// Restarts wait a capped exponential backoff (reset after a child stayed up
// `stable_uptime`), and at most `max_restarts` happen within
// `restart_window`: one more death ends supervision with exit code
// kSupervisorGaveUpExitCode and a message on stderr. SIGTERM and SIGINT sent
// to the parent are forwarded to the child and end supervision: the parent
// exits with the child's status (128 + signal if it was killed). SIGHUP,
// SIGUSR1 and SIGUSR2 are forwarded without ending anything.
//
// Bounded shutdown: after a SIGTERM or SIGINT the parent exits within
// `stop_grace` plus one `poll_interval` (plus `capture_timeout` if it was
// just capturing a hung child's stacks) however the child behaves: a child
// whose own stop never finishes (a stuck thread it joins, a check or
// listener that never returns) is SIGKILLed at the grace, and the parent
// exits with 128 + 9. The parent runs no checks, listeners or threads of
// its own that could hold it up.
//
// Each restart leaves an incident record -- why the previous child died:
// signal, exit code, hang of which heartbeat, the last stack its watchdog
// captured, and every thread's stack as the supervisor saw it -- that the
// new child reads with LastIncident() and exposes in its health report with
// SupervisorIncidentCheck().
//
// Supervised capture: before it stops a hung or unresponsive child, the
// supervisor records the stacks of all the child's threads from outside
// (ptrace, unwound by elfutils' libdw in a short-lived helper process it
// forks; the child calls prctl(PR_SET_PTRACER) for it at start). Nothing
// runs in the child: no signal handler, so no EINTR and no handler-safety
// question, and it works when the child is deadlocked in malloc, when its
// watchdog thread is stuck, or when it is stopped. The child is frozen
// while it is traced (measured: about 50-200 ms for a 10-thread child);
// the capture is bounded by `capture_timeout`, after which the helper is
// killed and the stop proceeds. The stacks go to stderr and to the
// incident (Incident::external_stacks).
//
//   int main(int argc, char** argv) {
//     vigil::SupervisorOptions supervisor;
//     supervisor.hang_timeout = absl::Seconds(10);
//     if (absl::Status s = vigil::Supervise(supervisor); !s.ok()) {
//       // Not supervised (e.g. threads already running); carry on alone.
//     }
//     // From here on: the child. Start threads, the Watchdog, the registry.
//     vigil::Watchdog watchdog;   // publishes to the supervisor
//     vigil::HealthRegistry registry;
//     registry.Register(vigil::SupervisorIncidentCheck());
//     ...
//   }
//
// With systemd (watchdog/systemd.h) the parent is the main PID and sends
// the notifications the child asks for through SystemdNotifier.
// VIGIL_SUPERVISOR=off in the environment disables supervision (handy
// under a debugger).

#ifndef VIGIL_WATCHDOG_SUPERVISOR_H_
#define VIGIL_WATCHDOG_SUPERVISOR_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/clock.h"

namespace vigil {

// The supervisor's exit code when its restart budget is spent
// (EX_TEMPFAIL: "try again later"; systemd's Restart=on-failure restarts the
// whole unit).
inline constexpr int kSupervisorGaveUpExitCode = 75;

struct SupervisorOptions {
  // Set false to make Supervise() a no-op (so is VIGIL_SUPERVISOR=off).
  bool enabled = true;
  // Names the service in the supervisor's log lines.
  std::string name = "vigil";
  // A child whose armed lifeline has not moved for this long is stuck as a
  // whole and is restarted. Must be > 0; keep it well above the child's
  // watchdog tick.
  absl::Duration hang_timeout = absl::Seconds(10);
  // Restart the child when its watchdog reports a heartbeat past its kill
  // threshold (the child may be otherwise fine, e.g. KillAction::kNone).
  bool restart_on_hung_heartbeat = true;
  // Between SIGTERM and SIGKILL, when stopping a hung child or forwarding a
  // stop. Must be > 0.
  absl::Duration stop_grace = absl::Seconds(10);
  // Before stopping a hung or unresponsive child, capture every thread's
  // stack from outside (ptrace + libdw, in a helper process; see the
  // overview). The SIGTERM follows the capture, at most
  // `capture_timeout` later (must be > 0) whether or not it succeeded.
  bool capture_stacks = true;
  absl::Duration capture_timeout = absl::Seconds(2);
  // Backoff before restart n (n = 0, 1, ...): initial * multiplier^n, capped
  // at max. Reset to initial after a child ran `stable_uptime`.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(30);
  double backoff_multiplier = 2.0;
  absl::Duration stable_uptime = absl::Seconds(60);
  // The restart budget: at most `max_restarts` (>= 0) restarts within
  // `restart_window`; the next death exits with kSupervisorGaveUpExitCode.
  int max_restarts = 5;
  absl::Duration restart_window = absl::Seconds(60);
  // How often the parent reads the lifeline. Must be > 0.
  absl::Duration poll_interval = absl::Milliseconds(100);
  // The parent's time source. Not owned. nullptr means Clock::Real().
  Clock* clock = nullptr;
  // Prefix for /proc reads (the thread count check).
  std::string root;
  // Take NOTIFY_SOCKET/WATCHDOG_* in the parent and relay the child's
  // notifications (see watchdog/systemd.h).
  bool relay_systemd = true;
};

// Forks and supervises. Returns OK in the child (which goes on to be the
// service), or when supervision is disabled; never returns in the parent,
// which exits when supervision ends. Call it first thing in main, before any
// thread exists. Errors (the caller is then simply not supervised):
// InvalidArgument naming a bad option; FailedPrecondition if the process
// already has more than one thread, or is already a supervised child;
// Internal if the shared memory cannot be mapped.
absl::Status Supervise(const SupervisorOptions& options = {});

// True in a child started by Supervise().
bool IsSupervised();

// How many times the supervisor restarted the service before this child
// (0 for the first child, and when not supervised).
int RestartCount();

// Why the previous child died. A plain value type.
struct Incident {
  enum class Cause {
    kCrashed,       // Killed by a signal (segfault, abort, OOM kill...).
    kExited,        // Exited with a non-zero status.
    kHung,          // A heartbeat passed its kill threshold.
    kUnresponsive,  // The whole child stopped: its lifeline went silent.
  };
  Cause cause = Cause::kCrashed;
  pid_t pid = 0;
  // The terminating signal (0 if it exited).
  int signal = 0;
  // The exit status (if it exited).
  int exit_code = 0;
  // kHung: the heartbeat past its kill threshold.
  std::string heartbeat;
  // kHung / kUnresponsive: how long it had been silent.
  absl::Duration silent_for = absl::ZeroDuration();
  // How long the child ran.
  absl::Duration uptime = absl::ZeroDuration();
  // When it died, on the supervisor's clock.
  absl::Time time = absl::InfinitePast();
  // The last stack its watchdog captured (with a header line), if any.
  std::string stack;
  // kHung / kUnresponsive: every thread's stack as the supervisor captured
  // it from outside before stopping the child (a header line, then one
  // block per thread), or a line saying why it could not.
  std::string external_stacks;
  // One line: "child 1234 hung: heartbeat \"worker\" silent for 5.1s;
  // stopped with SIGKILL after 12s".
  std::string summary;
};

// "crashed", "exited", "hung", "unresponsive".
absl::string_view IncidentCauseName(Incident::Cause cause);

// The previous child's incident; nullopt for the first child or when not
// supervised. Cheap; safe from any thread.
std::optional<Incident> LastIncident();

// A check (kind self, group "incidents" only, so it never fails liveness or
// readiness; not "supervisor", since a group may not share a check's name:
// HealthRegistry::Register) that is always HEALTHY and reports the
// supervision state: "not supervised", "supervised, no restarts", or
// "restarted 3 times; last: <summary>", with details restarts, last_cause,
// last_pid, last_signal, last_exit_code, last_heartbeat, last_silent_for,
// last_uptime, last_time, last_stack and last_external_stacks.
Check SupervisorIncidentCheck(std::string name = "supervisor");

}  // namespace vigil

#endif  // VIGIL_WATCHDOG_SUPERVISOR_H_
