// A small service for the watchdog's real-process tests: optionally
// supervised, with a Watchdog, a HealthRegistry (watchdog liveness +
// supervisor incident check) and a SystemdNotifier, and a worker thread that
// beats and then, on request, gets stuck in one of several ways.
//
// It prints one line per fact the tests look for, on stdout with write(2)
// (unbuffered; times are Unix nanoseconds of the real clock):
//   CHILD pid=<pid> restart=<n> at=<ns>
//   INCIDENT cause=<cause> heartbeat=<name> summary=<text>
//   REPORT supervisor: <message of the supervisor incident check>
//   ENV NOTIFY_SOCKET=<value or unset>
//   HANG mode=<mode> at=<ns>
//   EVENT <kind> heartbeat=<name> silent_ms=<n> lateness_us=<n> at=<ns>
//   HEALTHY pid=<pid> at=<ns>            (liveness passes, first time)
//   LIVENESS failing at=<ns>              (liveness turned unhealthy)
//   STOPPING pid=<pid>
// The watchdog's own reports (with stacks) and the supervisor's log go to
// stderr.

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/attributes.h"
#include "absl/base/config.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "health/registry.h"
#include "health/sync.h"
#include "watchdog/internal/lifeline.h"
#include "watchdog/liveness.h"
#include "watchdog/supervisor.h"
#include "watchdog/systemd.h"
#include "watchdog/watchdog.h"

#if defined(ABSL_HAVE_ADDRESS_SANITIZER) || defined(ABSL_HAVE_THREAD_SANITIZER)
// From <sanitizer/allocator_interface.h>, which GCC does not install.
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, size_t),
    void (*free_hook)(const volatile void*));
#define VIGIL_SANITIZED_MALLOC 1
#endif

ABSL_FLAG(bool, supervise, false, "Call vigil::Supervise() first.");
ABSL_FLAG(std::string, mode, "healthy",
          "healthy | deadlock | malloc | crash | exit | wait | monitor");
ABSL_FLAG(absl::Duration, hang_after, absl::Milliseconds(300),
          "When the worker gets stuck (or the process crashes/exits).");
ABSL_FLAG(bool, hang_on_restart, false,
          "Also get stuck in restarted children (default: first child only).");
ABSL_FLAG(absl::Duration, tick, absl::Milliseconds(50), "Watchdog tick.");
ABSL_FLAG(absl::Duration, miss, absl::Milliseconds(300), "miss_after.");
ABSL_FLAG(absl::Duration, long_miss, absl::Milliseconds(600),
          "long_miss_after.");
ABSL_FLAG(absl::Duration, kill, absl::Seconds(1), "kill_after.");
ABSL_FLAG(std::string, kill_action, "none", "none | abort | reexec");
ABSL_FLAG(absl::Duration, hang_timeout, absl::Seconds(2),
          "Supervisor: lifeline silence that counts as a hang.");
ABSL_FLAG(absl::Duration, stop_grace, absl::Seconds(1),
          "Supervisor: SIGTERM to SIGKILL.");
ABSL_FLAG(absl::Duration, capture_timeout, absl::Seconds(2),
          "Supervisor: bound of the out-of-process stack capture.");
ABSL_FLAG(absl::Duration, initial_backoff, absl::Milliseconds(100), "");
ABSL_FLAG(absl::Duration, max_backoff, absl::Seconds(5), "");
ABSL_FLAG(int, max_restarts, 5, "");
ABSL_FLAG(absl::Duration, restart_window, absl::Seconds(60), "");
ABSL_FLAG(bool, notify, false, "Use a SystemdNotifier (READY, WATCHDOG).");
ABSL_FLAG(bool, thread_before_supervise, false,
          "Start a thread before Supervise() (which must then refuse).");

namespace {

std::atomic<bool> g_stop{false};
std::mutex g_contended;  // Held forever by the holder thread.
int g_never[2];          // A pipe nobody writes to.

void OnSignal(int) { g_stop.store(true); }

int64_t NowNanos() { return absl::ToUnixNanos(absl::Now()); }

void Say(const std::string& line) {
  const std::string out = line + "\n";
  ssize_t ignored = write(STDOUT_FILENO, out.data(), out.size());
  (void)ignored;
}

void BlockForever() {
  char c;
  for (;;) {
    if (read(g_never[0], &c, 1) >= 0 || errno != EINTR) break;
  }
}

// The stuck function the tests look for in the stack.
ABSL_ATTRIBUTE_NOINLINE void BlockOnContendedLock() {
  g_contended.lock();
  g_contended.unlock();
  asm volatile("");
}

#if defined(VIGIL_SANITIZED_MALLOC)
std::atomic<bool> g_freeze_malloc{false};
// Runs inside the sanitizer's malloc: once armed, every allocation in every
// thread blocks here, inside malloc.
void FreezingMallocHook(const volatile void*, size_t) {
  if (g_freeze_malloc.load(std::memory_order_relaxed)) {
    for (;;) syscall(SYS_pause);
  }
}
// The sanitizers install hooks only in pairs.
void NoFreeHook(const volatile void*) {}
void* volatile g_sink;
#else
ssize_t BlockingWrite(void*, const char*, size_t n) {
  BlockForever();
  return static_cast<ssize_t>(n);
}
#endif

// Leaves the calling thread stuck inside malloc with the allocator's lock
// held (glibc) or blocked in a malloc hook (sanitizers), so that every other
// thread that allocates gets stuck too: nothing in the process can help.
ABSL_ATTRIBUTE_NOINLINE void DeadlockInMalloc() {
#if defined(VIGIL_SANITIZED_MALLOC)
  g_freeze_malloc.store(true);
  g_sink = std::malloc(64);  // Never returns.
#else
  // glibc's malloc_stats() prints each arena's figures to stderr while
  // holding that arena's lock; a stderr that never accepts a byte keeps
  // the lock held forever. (M_ARENA_MAX=1 was set at start-up, so every
  // thread allocates from that one arena.)
  cookie_io_functions_t io{nullptr, BlockingWrite, nullptr, nullptr};
  FILE* never = fopencookie(nullptr, "w", io);
  setvbuf(never, nullptr, _IONBF, 0);
  stderr = never;
  malloc_stats();
#endif
}

// --mode=malloc: a second thread that allocates in a loop, so that two
// threads are inside the allocator when it deadlocks.
ABSL_ATTRIBUTE_NOINLINE void AllocateForever() {
  // Larger than glibc's per-thread cache (1032 bytes), so every call takes
  // the arena's lock.
  for (size_t i = 0;; ++i) {
    void* volatile p = std::malloc(2048 + i % 1024);
    std::free(p);
  }
}

// --mode=monitor: the watchdog's own monitor thread gets stuck here, in a
// listener, on the first miss: nothing in the process reports any more.
ABSL_ATTRIBUTE_NOINLINE void BlockInWatchdogListener() {
  BlockForever();
  asm volatile("");
}

vigil::KillAction ParseKillAction(const std::string& s) {
  if (s == "abort") return vigil::KillAction::kAbort;
  if (s == "reexec") return vigil::KillAction::kReExec;
  return vigil::KillAction::kNone;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (pipe(g_never) != 0) return 4;

  std::thread early;
  static vigil::Notification* const early_started = new vigil::Notification();
  if (absl::GetFlag(FLAGS_thread_before_supervise)) {
    early = std::thread([] {
      early_started->Notify();
      BlockForever();
    });
    early_started->WaitForNotification();
    early.detach();
  }
  if (absl::GetFlag(FLAGS_supervise)) {
    vigil::SupervisorOptions s;
    s.name = "hang-child";
    s.hang_timeout = absl::GetFlag(FLAGS_hang_timeout);
    s.stop_grace = absl::GetFlag(FLAGS_stop_grace);
    s.capture_timeout = absl::GetFlag(FLAGS_capture_timeout);
    s.initial_backoff = absl::GetFlag(FLAGS_initial_backoff);
    s.max_backoff = absl::GetFlag(FLAGS_max_backoff);
    s.max_restarts = absl::GetFlag(FLAGS_max_restarts);
    s.restart_window = absl::GetFlag(FLAGS_restart_window);
    s.poll_interval = absl::Milliseconds(20);
    if (absl::Status st = vigil::Supervise(s); !st.ok()) {
      Say(absl::StrCat("SUPERVISE_ERROR ", st.ToString()));
      return 3;
    }
  }
  // Re-exec'd children count their generations in the environment.
  const char* gen_env = std::getenv("HANG_CHILD_GENERATION");
  const int generation = gen_env != nullptr ? std::atoi(gen_env) : 0;
  setenv("HANG_CHILD_GENERATION", absl::StrCat(generation + 1).c_str(), 1);

  const int restart = vigil::RestartCount();
  Say(absl::StrCat("CHILD pid=", getpid(), " restart=", restart,
                   " generation=", generation, " at=", NowNanos()));
  if (std::optional<vigil::Incident> i = vigil::LastIncident()) {
    Say(absl::StrCat(
        "INCIDENT cause=", vigil::IncidentCauseName(i->cause),
        " heartbeat=", i->heartbeat, " signal=", i->signal,
        " stack_lines=", std::count(i->stack.begin(), i->stack.end(), '\n'),
        " external_stack_lines=",
        std::count(i->external_stacks.begin(), i->external_stacks.end(), '\n'),
        " summary=", i->summary));
  }
  const bool first = restart == 0 && generation == 0;
  const bool misbehave = first || absl::GetFlag(FLAGS_hang_on_restart);
  if (mode == "malloc" && misbehave) {
#if !defined(VIGIL_SANITIZED_MALLOC)
    mallopt(M_ARENA_MAX, 1);
#else
    if (__sanitizer_install_malloc_and_free_hooks(FreezingMallocHook,
                                                  NoFreeHook) == 0) {
      return 8;
    }
#endif
  }
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);

  vigil::WatchdogOptions wo;
  wo.tick = absl::GetFlag(FLAGS_tick);
  wo.kill_action = ParseKillAction(absl::GetFlag(FLAGS_kill_action));
  vigil::Watchdog watchdog(wo);
  if (!watchdog.status().ok()) return 5;
  watchdog.AddListener([&](const vigil::WatchdogEvent& e) {
    if (mode == "monitor" && misbehave &&
        e.kind == vigil::WatchdogEvent::Kind::kMiss) {
      Say(absl::StrCat("MONITOR blocked at=", NowNanos()));
      BlockInWatchdogListener();
    }
    Say(absl::StrCat(
        "EVENT ", vigil::EventKindName(e.kind), " heartbeat=", e.heartbeat,
        " silent_ms=", absl::ToInt64Milliseconds(e.silent_for),
        " lateness_us=", absl::ToInt64Microseconds(e.monitor_lateness),
        " stack_frames=", e.stack.size(), " at=", absl::ToUnixNanos(e.time)));
  });

  vigil::RegistryOptions ro;
  ro.service.name = "hang-child";
  ro.worker_threads = 2;
  vigil::HealthRegistry registry(ro);
  vigil::WatchdogLivenessOptions lo;
  lo.interval = absl::Milliseconds(50);
  if (!vigil::RegisterWatchdogLiveness(registry, watchdog, lo).ok()) return 6;
  if (!registry.Register(vigil::SupervisorIncidentCheck()).ok()) return 7;
  std::atomic<bool> was_healthy{false};
  registry.AddListener([&](const vigil::Transition& t) {
    if (t.subject != vigil::Transition::Subject::kGroup ||
        t.name != vigil::kLiveness) {
      return;
    }
    // Reported by the main loop once the supervisor's lifeline is armed
    // too (the watchdog's first tick): a test that stops the child right
    // after HEALTHY must find the lifeline armed, or the supervisor rightly
    // ignores its silence.
    if (vigil::IsPassing(t.to)) was_healthy.store(true);
    if (t.to == vigil::Status::kUnhealthy) {
      Say(absl::StrCat("LIVENESS failing at=", NowNanos(), " ", t.message));
    }
  });

  std::optional<vigil::SystemdNotifier> systemd;
  if (absl::GetFlag(FLAGS_notify)) {
    vigil::SystemdNotifierOptions no;
    no.liveness = vigil::LivenessOf(registry);
    systemd.emplace(no);
  }
  const char* ns = std::getenv("NOTIFY_SOCKET");
  Say(absl::StrCat("ENV NOTIFY_SOCKET=", ns != nullptr ? ns : "unset"));

  // The holder takes the lock the worker will want, then waits forever.
  std::thread holder;
  if (mode == "deadlock" && misbehave) {
    // Static: vigil::Mutex wakes waiters after unlocking, so Notify() may
    // still be running when WaitForNotification() returns.
    static vigil::Notification* const held = new vigil::Notification();
    holder = std::thread([] {
      g_contended.lock();
      held->Notify();
      BlockForever();
    });
    held->WaitForNotification();
    holder.detach();  // Never returns; the process exits around it.
  }

  if (mode == "malloc" && misbehave) {
    std::thread([] {
      pthread_setname_np(pthread_self(), "hang-allocator");
      AllocateForever();
    }).detach();
  }

  // Set once HEALTHY was said: the tests wait for that line before the
  // hang, so a worker that hangs (other than by crashing or exiting) waits
  // for it -- under TSan on a loaded machine start-up can outlast
  // --hang_after.
  std::atomic<bool> said_healthy_flag{false};
  const bool hang_after_healthy = mode != "crash" && mode != "exit";
  std::thread worker([&] {
    pthread_setname_np(pthread_self(), "hang-worker");
    vigil::HeartbeatOptions ho;
    ho.miss_after = absl::GetFlag(FLAGS_miss);
    ho.long_miss_after = absl::GetFlag(FLAGS_long_miss);
    ho.kill_after = absl::GetFlag(FLAGS_kill);
    vigil::Heartbeat hb = watchdog.Register("worker", ho).value();
    const absl::Time hang_at = absl::Now() + absl::GetFlag(FLAGS_hang_after);
    while (!g_stop.load()) {
      hb.Beat();
      if (misbehave && mode != "healthy" && absl::Now() >= hang_at &&
          (!hang_after_healthy || said_healthy_flag.load())) {
        Say(absl::StrCat("HANG mode=", mode, " at=", NowNanos()));
        if (mode == "deadlock") BlockOnContendedLock();
        if (mode == "malloc") DeadlockInMalloc();
        if (mode == "crash") std::abort();
        if (mode == "exit") _exit(0);
        if (mode == "wait" || mode == "monitor") BlockForever();
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  });

  registry.Start();
  bool ready = false;
  bool reported = false;
  bool said_healthy = false;
  while (!g_stop.load()) {
    if (!said_healthy && was_healthy.load()) {
      const vigil::internal::LifelineBlock* lifeline =
          vigil::internal::AttachedLifeline();
      if (lifeline == nullptr || lifeline->armed.load() != 0) {
        said_healthy = true;
        Say(absl::StrCat("HEALTHY pid=", getpid(), " at=", NowNanos()));
        said_healthy_flag.store(true);
      }
    }
    if (!ready && vigil::IsPassing(registry.GroupStatus(vigil::kLiveness))) {
      ready = true;
      if (systemd) systemd->Ready().IgnoreError();
    }
    if (!reported) {
      auto snap = registry.snapshot();
      const vigil::CheckSnapshot* c = snap->FindCheck("supervisor");
      if (c != nullptr && c->run_count > 0) {
        reported = true;
        Say(absl::StrCat("REPORT supervisor: ", c->result.message));
      }
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Say(absl::StrCat("STOPPING pid=", getpid()));
  if (systemd) systemd->Stopping().IgnoreError();
  worker.join();  // Blocks forever if the worker is stuck: SIGKILL ends it.
  return 0;
}
