#include "watchdog/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "watchdog/internal/external_stacks.h"
#include "watchdog/internal/lifeline.h"
#include "watchdog/internal/procfs.h"
#include "watchdog/internal/restart_policy.h"
#include "watchdog/systemd.h"

namespace vigil {
namespace {

using internal::IncidentCause;
using internal::IncidentRecord;
using internal::LifelineBlock;

// The parent's self-pipe: signal handlers write the signal number.
int g_signal_pipe[2] = {-1, -1};

void OnParentSignal(int signo) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(signo);
  ssize_t ignored = write(g_signal_pipe[1], &b, 1);
  (void)ignored;
  errno = saved;
}

constexpr int kForwardedSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};

absl::Status Validate(const SupervisorOptions& o) {
  if (o.hang_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("hang_timeout: must be > 0");
  }
  if (o.stop_grace <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("stop_grace: must be > 0");
  }
  if (o.initial_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("initial_backoff: must be >= 0");
  }
  if (o.max_backoff < o.initial_backoff) {
    return absl::InvalidArgumentError(
        "max_backoff: must be >= initial_backoff");
  }
  if (!(o.backoff_multiplier >= 1.0)) {
    return absl::InvalidArgumentError("backoff_multiplier: must be >= 1");
  }
  if (o.max_restarts < 0) {
    return absl::InvalidArgumentError("max_restarts: must be >= 0");
  }
  if (o.restart_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("restart_window: must be > 0");
  }
  if (o.capture_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("capture_timeout: must be > 0");
  }
  if (o.poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("poll_interval: must be > 0");
  }
  return absl::OkStatus();
}

std::string SignalName(int signo) {
  const char* abbrev = sigabbrev_np(signo);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev)
                           : absl::StrCat("signal ", signo);
}

// The single-threaded parent. Owns the child's lifetime, the restart policy
// and the systemd relay.
class Parent {
 public:
  Parent(const SupervisorOptions& o, LifelineBlock* block,
         SystemdEnvironment env)
      : o_(o),
        clock_(o.clock != nullptr ? o.clock : Clock::Real()),
        block_(block),
        env_(std::move(env)),
        policy_(internal::RestartPolicyOptions{
            o.initial_backoff, o.max_backoff, o.backoff_multiplier,
            o.stable_uptime, o.max_restarts, o.restart_window}),
        self_(getpid()) {}

  // Returns the exit code for the parent, or -1 in a freshly forked child.
  int Run();

 private:
  struct Outcome {
    int status = 0;  // From waitpid.
    bool stop_requested = false;
  };

  void Log(const std::string& line) {
    const std::string msg = absl::StrCat("[vigil-supervisor ", o_.name, " ",
                                         self_, "] ", line, "\n");
    ssize_t ignored = write(STDERR_FILENO, msg.data(), msg.size());
    (void)ignored;
  }

  // Forks; returns the child's pid, 0 in the child, -1 on failure.
  pid_t StartChild();
  Outcome WatchChild(pid_t pid, absl::Time started);
  // Waits until `until`, handling signals; false if asked to stop.
  bool Backoff(absl::Time until);
  // Reads pending signal numbers from the self-pipe.
  std::string DrainSignals();
  // Sleeps until `until` or until a signal arrives.
  void WaitUntil(absl::Time until);
  void BeginStop(pid_t pid, absl::Time now, const std::string& why);
  // Captures every thread's stack of the (hung) child from outside into
  // external_stacks_ and the log; bounded by capture_timeout.
  void CaptureStacks(pid_t pid);
  void Relay(absl::Time now, bool child_ok);
  void Notify(const std::string& message) {
    if (env_.notify_socket.empty()) return;
    if (absl::Status s = SdNotify(env_.notify_socket, message); !s.ok()) {
      Log(absl::StrCat("systemd notify: ", s.message()));
    }
  }
  void RecordIncident(pid_t pid, int status, absl::Time started,
                      absl::Time died);

  const SupervisorOptions& o_;
  Clock* const clock_;
  LifelineBlock* const block_;
  const SystemdEnvironment env_;
  internal::RestartPolicy policy_;
  const pid_t self_;
  int restarts_ = 0;

  // The stop in progress for the current child.
  bool stopping_child_ = false;  // SIGTERM sent (hang or forwarded stop).
  bool sigkill_sent_ = false;
  absl::Time kill_deadline_ = absl::InfiniteFuture();
  IncidentCause hang_cause_ = IncidentCause::kNone;
  std::string hang_heartbeat_;
  absl::Duration hang_silence_ = absl::ZeroDuration();
  bool stop_requested_ = false;
  int stop_signal_ = 0;
  std::string external_stacks_;

  // systemd relay.
  bool ready_sent_ = false;
  bool stopping_sent_ = false;
  uint32_t status_version_ = 0;
  absl::Time next_ping_ = absl::InfinitePast();
};

std::string Parent::DrainSignals() {
  std::string out;
  unsigned char buf[64];
  for (;;) {
    const ssize_t n = read(g_signal_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

void Parent::WaitUntil(absl::Time until) {
  const absl::Duration left = until - clock_->Now();
  if (left <= absl::ZeroDuration()) return;
  const int ms = static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      60000));
  pollfd p{g_signal_pipe[0], POLLIN, 0};
  poll(&p, 1, ms);  // EINTR and timeouts alike: the caller re-checks.
}

pid_t Parent::StartChild() {
  block_->ResetForChild();
  block_->restart_count = static_cast<uint32_t>(restarts_);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: undo the parent's signal plumbing, die with the parent.
  for (int signo : kForwardedSignals) signal(signo, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  g_signal_pipe[0] = g_signal_pipe[1] = -1;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != self_) _exit(1);  // The parent died before prctl.
  // Lets the supervisor's capture helper (its child, our sibling) trace us
  // under Yama's ptrace_scope = 1; harmless where Yama is absent.
  prctl(PR_SET_PTRACER, static_cast<unsigned long>(self_), 0, 0, 0);
  internal::AttachLifeline(block_);
  return 0;
}

void Parent::CaptureStacks(pid_t pid) {
  if (!o_.capture_stacks) return;
  absl::StatusOr<internal::ExternalStacks> s =
      internal::CaptureExternalStacks(pid, o_.capture_timeout);
  if (!s.ok()) {
    external_stacks_ = absl::StrCat("stacks of child ", pid,
                                    " not captured: ", s.status().message());
    Log(external_stacks_);
    return;
  }
  external_stacks_ = absl::StrCat(
      "stacks of child ", pid, " (", s->threads, " threads), captured from ",
      "outside in ", absl::FormatDuration(s->took), ":\n", s->text);
  Log(absl::StrCat("captured the stacks of child ", pid, " (", s->threads,
                   " threads) from outside in ", absl::FormatDuration(s->took),
                   ":\n", s->text));
}

void Parent::BeginStop(pid_t pid, absl::Time now, const std::string& why) {
  Log(absl::StrCat("child ", pid, " ", why, "; capturing its stacks"));
  CaptureStacks(pid);
  now = std::max(now, clock_->Now());
  Log(absl::StrCat("child ", pid, " ", why, "; sending SIGTERM"));
  kill(pid, SIGTERM);
  kill(pid, SIGCONT);  // A stopped child must run to handle SIGTERM.
  stopping_child_ = true;
  kill_deadline_ = now + o_.stop_grace;
}

void Parent::Relay(absl::Time now, bool child_ok) {
  if (env_.notify_socket.empty()) return;
  if (!ready_sent_ && block_->ready.load(std::memory_order_acquire) != 0) {
    ready_sent_ = true;
    Notify(absl::StrCat("READY=1\nMAINPID=", self_));
  }
  const uint32_t version = block_->status.version();
  if (version != status_version_ && (version & 1) == 0) {
    status_version_ = version;
    const std::string text = block_->status.Read();
    if (!text.empty()) Notify(absl::StrCat("STATUS=", text));
  }
  if (!stopping_sent_ && block_->stopping.load(std::memory_order_acquire)) {
    stopping_sent_ = true;
    Notify("STOPPING=1");
  }
  if (env_.WatchdogEnabledFor(self_) && !stopping_sent_ && now >= next_ping_) {
    if (child_ok) {
      Notify("WATCHDOG=1");
      next_ping_ = now + env_.watchdog_timeout / 2;
    }
  }
}

Parent::Outcome Parent::WatchChild(pid_t pid, absl::Time started) {
  internal::SilenceDetector silence;
  silence.Reset(started);
  stopping_child_ = false;
  sigkill_sent_ = false;
  kill_deadline_ = absl::InfiniteFuture();
  hang_cause_ = IncidentCause::kNone;
  hang_heartbeat_.clear();
  hang_silence_ = absl::ZeroDuration();
  external_stacks_.clear();
  for (;;) {
    const absl::Time now = clock_->Now();
    for (char c : DrainSignals()) {
      const int signo = static_cast<unsigned char>(c);
      if (signo == SIGCHLD) continue;
      kill(pid, signo);
      if (signo != SIGTERM && signo != SIGINT) {
        Log(absl::StrCat("forwarded ", SignalName(signo), " to child ", pid));
        continue;
      }
      if (!stop_requested_) {
        stop_requested_ = true;
        stop_signal_ = signo;
        Log(absl::StrCat("received ", SignalName(signo),
                         "; forwarded to child ", pid,
                         "; supervision ends when it exits"));
        if (!stopping_sent_) {
          stopping_sent_ = true;
          Notify("STOPPING=1");
        }
        kill(pid, SIGCONT);
        stopping_child_ = true;
        kill_deadline_ = std::min(kill_deadline_, now + o_.stop_grace);
      }
    }
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return Outcome{status, stop_requested_};
    if (r < 0 && errno == ECHILD) return Outcome{status, stop_requested_};

    const bool armed = block_->armed.load(std::memory_order_acquire) != 0;
    const absl::Duration silent = silence.Observe(
        block_->progress.load(std::memory_order_acquire), armed, now);
    const bool hung = block_->hung.load(std::memory_order_acquire) != 0;
    if (!stopping_child_) {
      if (armed && silent >= o_.hang_timeout) {
        hang_cause_ = IncidentCause::kUnresponsive;
        hang_silence_ = silent;
        BeginStop(
            pid, now,
            absl::StrCat("unresponsive: its lifeline has been silent for ",
                         absl::FormatDuration(silent)));
      } else if (hung && o_.restart_on_hung_heartbeat) {
        hang_cause_ = IncidentCause::kHung;
        hang_heartbeat_ = block_->hung_heartbeat.Read();
        hang_silence_ = absl::Nanoseconds(
            block_->hung_silent_nanos.load(std::memory_order_relaxed));
        BeginStop(
            pid, now,
            absl::StrCat("hung: heartbeat \"", hang_heartbeat_,
                         "\" silent for ", absl::FormatDuration(hang_silence_),
                         ", past its kill threshold"));
      }
    }
    if (stopping_child_ && !sigkill_sent_ && now >= kill_deadline_) {
      Log(absl::StrCat("child ", pid, " still running ",
                       absl::FormatDuration(o_.stop_grace),
                       " after SIGTERM; sending SIGKILL"));
      kill(pid, SIGKILL);
      sigkill_sent_ = true;
    }
    const bool child_ok =
        !stopping_child_ && !hung && silent < o_.hang_timeout &&
        block_->liveness.load(std::memory_order_acquire) !=
            static_cast<uint32_t>(internal::LifelineLiveness::kFailing);
    Relay(now, child_ok);

    absl::Time wake = now + o_.poll_interval;
    if (stopping_child_ && !sigkill_sent_)
      wake = std::min(wake, kill_deadline_);
    if (env_.WatchdogEnabledFor(self_)) wake = std::min(wake, next_ping_);
    WaitUntil(std::max(wake, now));
  }
}

bool Parent::Backoff(absl::Time until) {
  for (;;) {
    for (char c : DrainSignals()) {
      const int signo = static_cast<unsigned char>(c);
      if (signo == SIGTERM || signo == SIGINT) {
        Log(absl::StrCat("received ", SignalName(signo),
                         " while no child runs; supervision ends"));
        if (!stopping_sent_) Notify("STOPPING=1");
        return false;
      }
    }
    const absl::Time now = clock_->Now();
    if (now >= until) return true;
    // The supervisor is making progress: keep systemd's watchdog fed.
    Relay(now, /*child_ok=*/true);
    absl::Time wake = std::min(until, now + o_.poll_interval);
    if (env_.WatchdogEnabledFor(self_)) wake = std::min(wake, next_ping_);
    WaitUntil(std::max(wake, now));
  }
}

void Parent::RecordIncident(pid_t pid, int status, absl::Time started,
                            absl::Time died) {
  IncidentRecord& rec = block_->incident;
  rec = IncidentRecord();
  rec.pid = pid;
  rec.time_unix_nanos = absl::ToUnixNanos(died);
  rec.uptime_nanos = absl::ToInt64Nanoseconds(died - started);
  if (WIFSIGNALED(status)) rec.signal = WTERMSIG(status);
  if (WIFEXITED(status)) rec.exit_code = WEXITSTATUS(status);
  std::string heartbeat = hang_heartbeat_;
  absl::Duration silence = hang_silence_;
  IncidentCause cause = hang_cause_;
  // The child's own watchdog may have killed it (KillAction::kAbort) right
  // after flagging the heartbeat.
  if (cause == IncidentCause::kNone &&
      block_->hung.load(std::memory_order_acquire) != 0) {
    cause = IncidentCause::kHung;
    heartbeat = block_->hung_heartbeat.Read();
    silence = absl::Nanoseconds(block_->hung_silent_nanos.load());
  }
  if (cause == IncidentCause::kNone) {
    cause =
        WIFSIGNALED(status) ? IncidentCause::kCrashed : IncidentCause::kExited;
  }
  rec.cause = cause;
  rec.silent_nanos = absl::ToInt64Nanoseconds(silence);
  internal::CopyText(rec.heartbeat, heartbeat);
  internal::CopyText(rec.stack, block_->stack.Read());
  internal::CopyText(rec.external_stacks, external_stacks_);

  std::string how = WIFSIGNALED(status)
                        ? absl::StrCat("killed by ", SignalName(rec.signal))
                        : absl::StrCat("exit status ", rec.exit_code);
  std::string what;
  switch (cause) {
    case IncidentCause::kHung:
      what = absl::StrCat("hung: heartbeat \"", heartbeat, "\" silent for ",
                          absl::FormatDuration(silence));
      break;
    case IncidentCause::kUnresponsive:
      what = absl::StrCat("unresponsive: lifeline silent for ",
                          absl::FormatDuration(silence));
      break;
    case IncidentCause::kCrashed:
      what = "crashed";
      break;
    default:
      what = "exited";
      break;
  }
  const std::string summary =
      absl::StrCat("child ", pid, " ", what, "; ", how, " after ",
                   absl::FormatDuration(died - started));
  internal::CopyText(rec.detail, summary);
  block_->has_incident = 1;
  Log(summary);
}

int Parent::Run() {
  for (;;) {
    const pid_t pid = StartChild();
    if (pid == 0) return -1;  // The child.
    const absl::Time started = clock_->Now();
    if (pid < 0) {
      Log(absl::StrCat("fork failed: ", std::strerror(errno)));
    } else {
      Log(absl::StrCat("started child ", pid, " (restart ", restarts_, ")"));
    }
    Outcome outcome;
    if (pid > 0) outcome = WatchChild(pid, started);
    const absl::Time died = clock_->Now();
    if (pid > 0) RecordIncident(pid, outcome.status, started, died);
    const int status = outcome.status;
    if (outcome.stop_requested) {
      const int code =
          WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      Log(absl::StrCat("supervision ended by ", SignalName(stop_signal_),
                       "; exiting with ", code));
      return code;
    }
    if (pid > 0 && !stopping_child_ && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0 &&
        block_->hung.load(std::memory_order_acquire) == 0) {
      Log(absl::StrCat("child ", pid,
                       " exited cleanly; supervision ends with it"));
      return 0;
    }
    const std::optional<absl::Duration> delay =
        policy_.OnChildExit(started, died);
    if (!delay.has_value()) {
      const std::string msg = absl::StrCat(
          "giving up: ", policy_.RestartsInWindow(died), " restarts within ",
          absl::FormatDuration(o_.restart_window), " (max_restarts ",
          o_.max_restarts, "); exiting with ", kSupervisorGaveUpExitCode);
      Log(msg);
      Notify(absl::StrCat("STATUS=", msg));
      return kSupervisorGaveUpExitCode;
    }
    ++restarts_;
    Log(absl::StrCat(
        "restarting in ", absl::FormatDuration(*delay), " (restart ", restarts_,
        "; ", policy_.RestartsInWindow(died), " of at most ", o_.max_restarts,
        " within ", absl::FormatDuration(o_.restart_window), ")"));
    Notify(absl::StrCat("STATUS=restarting: ", block_->incident.detail));
    if (!Backoff(died + *delay)) return 0;
  }
}

}  // namespace

absl::string_view IncidentCauseName(Incident::Cause cause) {
  switch (cause) {
    case Incident::Cause::kCrashed:
      return "crashed";
    case Incident::Cause::kExited:
      return "exited";
    case Incident::Cause::kHung:
      return "hung";
    case Incident::Cause::kUnresponsive:
      return "unresponsive";
  }
  return "?";
}

absl::Status Supervise(const SupervisorOptions& options) {
  if (!options.enabled) return absl::OkStatus();
  if (const char* env = std::getenv("VIGIL_SUPERVISOR");
      env != nullptr &&
      (std::strcmp(env, "off") == 0 || std::strcmp(env, "0") == 0)) {
    return absl::OkStatus();
  }
  if (absl::Status s = Validate(options); !s.ok()) return s;
  if (internal::AttachedLifeline() != nullptr) {
    return absl::FailedPreconditionError(
        "Supervise: this process is already a supervised child");
  }
  absl::StatusOr<int> threads = internal::ThreadCount(options.root);
  if (threads.ok() && *threads > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("Supervise: must be called before any thread starts (",
                     *threads, " threads running)"));
  }
  void* mem = mmap(nullptr, sizeof(LifelineBlock), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    return absl::InternalError(
        absl::StrCat("Supervise: mmap: ", std::strerror(errno)));
  }
  if (pipe2(g_signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    munmap(mem, sizeof(LifelineBlock));
    return absl::InternalError(
        absl::StrCat("Supervise: pipe2: ", std::strerror(errno)));
  }
  auto* block = new (mem) LifelineBlock();
  // The parent takes systemd's variables: the child must not see them.
  SystemdEnvironment env;
  if (options.relay_systemd) env = TakeSystemdEnvironment();

  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnParentSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int signo : kForwardedSignals) sigaction(signo, &sa, nullptr);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);

  static Parent* parent = nullptr;  // Leaked in the child on purpose.
  parent = new Parent(options, block, env);
  const int code = parent->Run();
  if (code < 0) return absl::OkStatus();  // The child.
  std::fflush(nullptr);
  std::exit(code);
}

bool IsSupervised() { return internal::AttachedLifeline() != nullptr; }

int RestartCount() {
  const LifelineBlock* b = internal::AttachedLifeline();
  return b != nullptr ? static_cast<int>(b->restart_count) : 0;
}

std::optional<Incident> LastIncident() {
  const LifelineBlock* b = internal::AttachedLifeline();
  if (b == nullptr || b->has_incident == 0) return std::nullopt;
  const IncidentRecord& r = b->incident;
  Incident i;
  switch (r.cause) {
    case IncidentCause::kHung:
      i.cause = Incident::Cause::kHung;
      break;
    case IncidentCause::kUnresponsive:
      i.cause = Incident::Cause::kUnresponsive;
      break;
    case IncidentCause::kExited:
      i.cause = Incident::Cause::kExited;
      break;
    default:
      i.cause = Incident::Cause::kCrashed;
      break;
  }
  i.pid = r.pid;
  i.signal = r.signal;
  i.exit_code = r.exit_code;
  i.heartbeat = r.heartbeat;
  i.silent_for = absl::Nanoseconds(r.silent_nanos);
  i.uptime = absl::Nanoseconds(r.uptime_nanos);
  i.time = absl::FromUnixNanos(r.time_unix_nanos);
  i.stack = r.stack;
  i.external_stacks = r.external_stacks;
  i.summary = r.detail;
  return i;
}

Check SupervisorIncidentCheck(std::string name) {
  Check check;
  check.name = std::move(name);
  check.options.groups = {"incidents"};
  check.options.kind = CheckKind::kSelf;
  check.options.critical = false;
  check.options.interval = absl::Seconds(10);
  check.options.failure_threshold = 1;
  check.function = [](const CheckContext&) {
    if (!IsSupervised()) return CheckResult::Healthy("not supervised");
    const int restarts = RestartCount();
    std::optional<Incident> last = LastIncident();
    if (!last.has_value()) {
      return CheckResult::Healthy("supervised, no restarts");
    }
    CheckResult r = CheckResult::Healthy(
        absl::StrCat("restarted ", restarts, restarts == 1 ? " time" : " times",
                     "; last: ", last->summary));
    r.observed_value = restarts;
    r.observed_unit = "count";
    r.details["restarts"] = absl::StrCat(restarts);
    r.details["last_cause"] = std::string(IncidentCauseName(last->cause));
    r.details["last_pid"] = absl::StrCat(last->pid);
    r.details["last_signal"] =
        last->signal != 0 ? SignalName(last->signal) : "";
    r.details["last_exit_code"] = absl::StrCat(last->exit_code);
    r.details["last_heartbeat"] = last->heartbeat;
    r.details["last_silent_for"] = absl::FormatDuration(last->silent_for);
    r.details["last_uptime"] = absl::FormatDuration(last->uptime);
    r.details["last_time"] = absl::FormatTime(last->time);
    r.details["last_stack"] = last->stack;
    r.details["last_external_stacks"] = last->external_stacks;
    return r;
  };
  return check;
}

}  // namespace vigil
