// systemd's notify protocol, implemented directly (no libsystemd).
//
// A `Type=notify` service tells systemd when it is ready (READY=1), what it
// is doing (STATUS=...), that it is stopping (STOPPING=1), and, with
// `WatchdogSec=`, that it is still alive (WATCHDOG=1, at least once per
// WATCHDOG_USEC). Each message is one datagram on the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
//
// vigil sends WATCHDOG=1 at half of WATCHDOG_USEC and only while liveness
// passes, so a process whose heartbeats are hung (watchdog/liveness.h)
// stops pinging and systemd restarts it. The variables are taken from the
// environment at load time, before any thread exists, so no child process
// inherits them (see TakeSystemdEnvironment()).
//
// Under the supervisor (watchdog/supervisor.h) the same calls work: the
// child publishes readiness, status, stopping and liveness through the
// supervisor's shared memory, and the supervisor -- systemd's main PID --
// sends the datagrams (READY=1 together with MAINPID=<its pid>), so
// `NotifyAccess=main` suffices and the main PID never changes.
//
//   vigil::SystemdNotifierOptions o;
//   o.liveness = vigil::LivenessOf(registry);
//   vigil::SystemdNotifier systemd(o);
//   ... start serving ...
//   systemd.Ready();
//   ...
//   systemd.Stopping();

#ifndef VIGIL_WATCHDOG_SYSTEMD_H_
#define VIGIL_WATCHDOG_SYSTEMD_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/clock.h"
#include "health/registry.h"
#include "health/sync.h"

namespace vigil {

// What systemd passed to this process.
struct SystemdEnvironment {
  // $NOTIFY_SOCKET; empty when not started by systemd as Type=notify.
  std::string notify_socket;
  // $WATCHDOG_USEC; zero when systemd's watchdog is off.
  absl::Duration watchdog_timeout = absl::ZeroDuration();
  // $WATCHDOG_PID; 0 when unset.
  pid_t watchdog_pid = 0;

  // True when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names
  // `pid` (systemd's rule: the pings are expected from that process only).
  bool WatchdogEnabledFor(pid_t pid) const;
};

// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and, if the process
// has a single thread at that moment, removes them from the environment so
// that no child inherits them. With more threads running they are left in
// place (unsetenv() racing another thread's getenv() is undefined
// behaviour in glibc): vigil never modifies the environment while threads
// run. The variables are taken when the program is loaded (before main,
// before any thread) if any is set; otherwise the first call reads them.
// The first result is remembered and returned by every later call.
// Malformed numbers read as unset. Thread-safe.
SystemdEnvironment TakeSystemdEnvironment();

// Sends `message` as one datagram to the AF_UNIX datagram socket `socket`
// (a path, or "@name" for an abstract name). InvalidArgument for an empty or
// over-long address or an empty message; Unavailable if sending failed (no
// listener, socket full), with errno's text.
absl::Status SdNotify(absl::string_view socket, absl::string_view message);

// Liveness of `registry` (its liveness group passes) as a predicate for
// SystemdNotifierOptions::liveness. `registry` must outlive the predicate.
std::function<bool()> LivenessOf(const HealthRegistry& registry);

struct SystemdNotifierOptions {
  // Time source of the ping loop. Not owned. nullptr means Clock::Real().
  Clock* clock = nullptr;
  // WATCHDOG=1 is sent only while this returns true. nullptr: always.
  std::function<bool()> liveness;
  // What systemd passed. nullopt: TakeSystemdEnvironment().
  std::optional<SystemdEnvironment> environment;
  // Start the ping thread (only when the watchdog is enabled, or under a
  // supervisor). Tests set false and call RunOnceForTest().
  bool start_thread = true;
  // Under a supervisor: how often liveness is published to it.
  absl::Duration supervised_interval = absl::Milliseconds(500);
};

// Talks to systemd, or to the supervisor that does. Thread-safe. Without
// NOTIFY_SOCKET and without a supervisor every call is a successful no-op,
// so services call it unconditionally.
class SystemdNotifier {
 public:
  explicit SystemdNotifier(SystemdNotifierOptions options = {});
  // Joins the ping thread.
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // READY=1.
  absl::Status Ready();
  // STATUS=<text> (newlines are replaced by spaces).
  absl::Status SetStatus(absl::string_view text);
  // STOPPING=1. Also stops the WATCHDOG=1 pings.
  absl::Status Stopping() ABSL_LOCKS_EXCLUDED(mu_);

  // True when there is someone to notify (NOTIFY_SOCKET, or a supervisor).
  bool enabled() const { return !socket_.empty() || supervised_; }
  // True when this process sends WATCHDOG=1 pings itself.
  bool watchdog_enabled() const {
    return ping_interval_ > absl::ZeroDuration();
  }
  // Half of WATCHDOG_USEC (zero when the watchdog is off).
  absl::Duration ping_interval() const { return ping_interval_; }

  // One step of the ping loop at the clock's current time: sends WATCHDOG=1
  // (or publishes liveness to the supervisor) if liveness passes. Returns
  // when the next step is due (InfiniteFuture when there is nothing to do).
  absl::Time RunOnceForTest() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Time Step() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Send(absl::string_view message);

  Clock* const clock_;
  const std::function<bool()> liveness_;
  std::string socket_;
  bool supervised_ = false;
  absl::Duration ping_interval_ = absl::ZeroDuration();
  absl::Duration supervised_interval_;

  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vigil

#endif  // VIGIL_WATCHDOG_SYSTEMD_H_
