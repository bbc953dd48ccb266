// vigil example service: a small program that links vigil, declares what
// "alive", "ready" and "started" mean for it (checks.h), and exposes them
// over HTTP the two ways vigil offers:
//
//   - a dedicated probe server (--port, default 8080) with its own event
//     loop: /livez /readyz /startupz /healthz /<group>z/<check> /metrics,
//     and /statusz, a status page for people (with /statusz/history);
//   - the same endpoints mounted under /health on the application's own
//     server (--app_port, default 8081), next to the application's traffic
//     (app_server.h: / and /work?ms=N, which burns CPU on --app_threads
//     worker threads).
//
// On SIGTERM (or SIGINT) it drains: readiness answers 503 at once while
// liveness and the application keep working for --drain_delay, so a load
// balancer or Kubernetes takes the instance out of rotation before it stops.
// A second signal skips the rest of the delay.
//
// Deployed as in production (examples/deploy/vigil-example.service):
//   - main() calls vigil::Supervise() first (--supervise): a small parent
//     restarts the service when it crashes, when a watched thread hangs past
//     its kill threshold, or when the whole process stops (SIGSTOP, a
//     deadlock in malloc) for --supervisor_hang_timeout;
//   - it speaks systemd's notify protocol (vigil::SystemdNotifier; through
//     the supervisor, the main PID): READY=1 when startup completes,
//     STATUS= with a one-line summary, STOPPING=1 on drain, WATCHDOG=1 only
//     while liveness passes when WATCHDOG_USEC is set;
//   - the main loop beats a vigil::Watchdog heartbeat ("main-loop", silent
//     for --main_loop_deadline fails liveness naming it, with its stack in
//     the log; --simulate_hang_after demonstrates it), and every application
//     request handler runs under a watchdog scope of --handler_deadline
//     (app_server.h; /demo/hang demonstrates it);
//   - a self-probe ("app-port", liveness) connects to the application's own
//     port, so "process alive, port dead" fails liveness
//     (/demo/close-listener demonstrates it).
// The watchdog's counters are on /metrics.
//
// On start it prints one machine-readable line,
//   vigil-example: probe=127.0.0.1:8080 app=127.0.0.1:8081 pid=1234
// then the URLs to try.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/service/app_server.h"
#include "examples/service/checks.h"
#include "examples/service/grpc_health.h"
#include "examples/service/overload.h"
#include "health/history.h"
#include "health/http/endpoints.h"
#include "health/http/mount.h"
#include "health/http/probe_server.h"
#include "health/pressure/defaults.h"
#include "health/registry.h"
#include "health/report.h"
#include "health/version.h"
#include "monitoring/collectors/supervisor_metrics.h"
#include "monitoring/collectors/watchdog_metrics.h"
#include "watchdog/history.h"
#include "watchdog/liveness.h"
#include "watchdog/supervisor.h"
#include "watchdog/systemd.h"
#include "watchdog/watchdog.h"

ABSL_FLAG(std::string, address, "127.0.0.1",
          "Address both servers listen on (0.0.0.0 for every interface).");
ABSL_FLAG(int, port, 8080, "Port of the dedicated probe server; 0 picks one.");
ABSL_FLAG(int, app_port, 8081, "Port of the application server; 0 picks one.");
ABSL_FLAG(int, grpc_port, -1,
          "Port of the gRPC health server (grpc.health.v1); 0 picks one, "
          "-1 (default) serves no gRPC.");
ABSL_FLAG(int, app_threads, 4, "Worker threads of the application server.");
ABSL_FLAG(int, probe_threads, 2,
          "Worker threads of the probe server (for /metrics; probes are "
          "answered on its event loop).");
ABSL_FLAG(absl::Duration, drain_delay, absl::Seconds(5),
          "After SIGTERM, how long /readyz answers 503 while the service "
          "keeps serving, before it stops.");
ABSL_FLAG(std::string, details, "loopback_or_token",
          "Who sees check messages and values: always, loopback_or_token, "
          "never.");
ABSL_FLAG(std::string, token, "",
          "Bearer token that unlocks details from any address.");
ABSL_FLAG(std::string, upstream, "127.0.0.1:6379",
          "host:port of the dependency this service needs (readiness). Point "
          "it at a closed port to see readiness fail.");
ABSL_FLAG(std::string, scratch_dir, "/tmp",
          "Directory that must be writable (non-critical).");
ABSL_FLAG(absl::Duration, report_interval, absl::ZeroDuration(),
          "How often to print the health report as JSON; 0 never.");
ABSL_FLAG(bool, vigil, true,
          "Run vigil (checks, detectors, probe server, mounted probes). "
          "--vigil=false serves the bare application: the baseline of the "
          "idle-cost benchmark.");
ABSL_FLAG(bool, pressure, true,
          "Register vigil's resource-pressure detectors (memory, cpu, io, "
          "disk for / and --scratch_dir, fds, tasks) in readiness.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Simulated start-up work before the service is ready.");
ABSL_FLAG(absl::Duration, main_loop_deadline, absl::Seconds(5),
          "The main loop's watchdog heartbeat: silent this long, /livez fails "
          "naming it. Its silence is reported at 1/5 of this and its stack "
          "captured at 2/5.");
ABSL_FLAG(absl::Duration, simulate_hang_after, absl::ZeroDuration(),
          "Demonstration: this long after start the main loop stops beating "
          "(blocks) for --simulate_hang_for; 0 never.");
ABSL_FLAG(absl::Duration, simulate_hang_for, absl::Seconds(10),
          "How long the simulated hang lasts.");
ABSL_FLAG(absl::Duration, handler_deadline, absl::Seconds(15),
          "Every application request handler runs under a watchdog scope of "
          "this deadline: past it the handler is reported, at 2x its stack "
          "is captured, at 4x liveness fails and the supervisor restarts the "
          "process.");
ABSL_FLAG(bool, demo_endpoints, true,
          "Serve /demo/hang (blocks a handler) and /demo/close-listener "
          "(closes the application's port) on the application server, to "
          "watch vigil catch each. Turn off in production.");
ABSL_FLAG(bool, demo_stuck_check, false,
          "Also register \"stuck\", a non-critical readiness check that "
          "never returns (demonstrates that drain and exit stay bounded).");
ABSL_FLAG(bool, self_probe, true,
          "Liveness check \"app-port\": a TCP connect to the application's "
          "own port (catches a live process whose port is dead).");
ABSL_FLAG(bool, supervise, true,
          "Run under vigil's supervisor (a parent process that restarts this "
          "one when it crashes or hangs). VIGIL_SUPERVISOR=off also turns it "
          "off.");
ABSL_FLAG(absl::Duration, supervisor_hang_timeout, absl::Seconds(10),
          "The supervisor restarts a child whose watchdog has not ticked for "
          "this long (the whole process stuck or stopped).");
ABSL_FLAG(absl::Duration, supervisor_stop_grace, absl::Seconds(10),
          "Between the supervisor's SIGTERM (a hung child, or a stop it "
          "forwards) and SIGKILL; at least --drain_delay + 2s, so that a "
          "forwarded SIGTERM's drain completes.");

namespace {

using vigil_example::AppServer;
using vigil_example::AppServerOptions;

std::atomic<int> g_signals{0};

void OnSignal(int) { g_signals.fetch_add(1); }

void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "vigil-example: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  std::exit(2);
}

vigil::RegistryOptions RegistryConfig() {
  vigil::RegistryOptions options;
  options.service.name = "vigil-example";
  options.service.version = vigil::kVersion;
  return options;
}

void LogTransitions(vigil::HealthRegistry& registry) {
  registry.AddListener([](const vigil::Transition& t) {
    std::printf(
        "[transition] %s %s: %s -> %s %s\n",
        t.subject == vigil::Transition::Subject::kCheck ? "check" : "group",
        t.name.c_str(), std::string(vigil::StatusName(t.from)).c_str(),
        std::string(vigil::StatusName(t.to)).c_str(), t.message.c_str());
    std::fflush(stdout);
  });
}

std::unique_ptr<vigil::http::HealthEndpoints> MakeEndpoints(
    vigil::HealthRegistry& registry, const vigil::HealthHistory* history) {
  absl::StatusOr<vigil::http::DetailsPolicy> policy =
      vigil::http::ParseDetailsPolicy(absl::GetFlag(FLAGS_details));
  if (!policy.ok()) Die("--details", policy.status());
  vigil::http::EndpointsOptions options;
  options.details = *policy;
  options.bearer_token = absl::GetFlag(FLAGS_token);
  options.history = history;  // /statusz and /statusz/history
  auto endpoints = vigil::http::HealthEndpoints::Create(&registry, options);
  if (!endpoints.ok()) Die("endpoints", endpoints.status());
  return *std::move(endpoints);
}

std::unique_ptr<vigil::http::ProbeServer> StartProbeServer(
    vigil::http::HealthEndpoints* endpoints) {
  vigil::http::ProbeServerOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.port = absl::GetFlag(FLAGS_port);
  options.worker_threads = absl::GetFlag(FLAGS_probe_threads);
  auto server = vigil::http::ProbeServer::Start(endpoints, options);
  if (!server.ok()) Die("probe server", server.status());
  return *std::move(server);
}

std::string UrlHost(const std::string& address);

// Resource-pressure detectors with their defaults (health/pressure/).
void RegisterPressure(vigil::HealthRegistry& registry,
                      vigil::pressure::DefaultDetectors* detectors) {
  vigil::pressure::DefaultDetectorOptions pressure;
  pressure.disk_paths = {"/"};
  if (absl::GetFlag(FLAGS_scratch_dir) != "/") {
    pressure.disk_paths.push_back(absl::GetFlag(FLAGS_scratch_dir));
  }
  if (absl::Status s = vigil::pressure::RegisterDefaultDetectors(
          registry, pressure, detectors);
      !s.ok()) {
    Die("pressure detectors", s);
  }
  for (const std::string& why : detectors->skipped) {
    std::printf("pressure: skipped %s\n", why.c_str());
  }
}

// --help lists this program's own flags (absl shows only flags of files
// named after the binary by default).
void SetUsage() {
  absl::SetProgramUsageMessage(
      "vigil example service: health checks, pressure detectors, watchdog, "
      "supervisor and systemd notify, with /livez /readyz /startupz /healthz "
      "/metrics on a dedicated probe port.\n"
      "  service [--port=8080] [--app_port=8081] [--upstream=HOST:PORT] ...");
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "examples/service/");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
}

// Forks the supervisor (the parent never returns from Supervise()). Must run
// before any thread exists.
void SuperviseIfAsked() {
  vigil::SupervisorOptions options;
  options.enabled = absl::GetFlag(FLAGS_supervise);
  options.name = "vigil-example";
  options.hang_timeout = absl::GetFlag(FLAGS_supervisor_hang_timeout);
  options.stop_grace =
      std::max(absl::GetFlag(FLAGS_supervisor_stop_grace),
               absl::GetFlag(FLAGS_drain_delay) + absl::Seconds(2));
  if (absl::Status s = vigil::Supervise(options); !s.ok()) {
    std::fprintf(stderr, "vigil-example: running unsupervised: %s\n",
                 s.ToString().c_str());
  }
}

// --vigil=false: the same application, no vigil at all.
int RunWithoutVigil() {
  AppServerOptions bare;
  bare.threads = absl::GetFlag(FLAGS_app_threads);
  AppServer app(bare);
  if (absl::Status s = app.Start(absl::GetFlag(FLAGS_address),
                                 absl::GetFlag(FLAGS_app_port));
      !s.ok()) {
    Die("application server", s);
  }
  std::printf("vigil-example: probe=disabled app=%s:%d pid=%d\n",
              UrlHost(absl::GetFlag(FLAGS_address)).c_str(), app.port(),
              getpid());
  std::fflush(stdout);
  while (g_signals.load() == 0) absl::SleepFor(absl::Milliseconds(50));
  app.Stop();
  return 0;
}

// The watchdog's event counters and each heartbeat's silence on /metrics.
void ExportWatchdogMetrics(const vigil::Watchdog& watchdog,
                           vigil::http::HealthEndpoints* endpoints) {
  endpoints->AddMetricsCollector(
      [&watchdog](vigil::http::PrometheusWriter& w, bool) {
        vigil::WriteWatchdogMetrics(watchdog, w);
      });
}

void StartApp(AppServer& app, vigil::http::HealthEndpoints* endpoints,
              vigil::HealthRegistry& registry) {
  vigil::http::MountOptions mount;
  mount.path_prefix = "/health";
  if (absl::Status s =
          vigil::http::MountHealthEndpoints(endpoints, &app.server(), mount);
      !s.ok()) {
    Die("mount", s);
  }
  endpoints->AddMetricsCollector(
      [&app](vigil::http::PrometheusWriter& w, bool) { app.WriteMetrics(w); });
  if (absl::Status s = app.Start(absl::GetFlag(FLAGS_address),
                                 absl::GetFlag(FLAGS_app_port));
      !s.ok()) {
    Die("application server", s);
  }
  if (absl::GetFlag(FLAGS_self_probe)) {
    if (absl::Status s = vigil_example::RegisterAppPortCheck(
            registry, absl::StrCat(UrlHost(absl::GetFlag(FLAGS_address)), ":",
                                   app.port()));
        !s.ok()) {
      Die("app-port check", s);
    }
  }
}

// How clients reach `address`: wildcards become loopback, IPv6 gets [].
std::string UrlHost(const std::string& address) {
  if (address == "0.0.0.0") return "127.0.0.1";
  if (address == "::") return "[::1]";
  if (address.find(':') != std::string::npos) return "[" + address + "]";
  return address;
}

// Prints commands with their comments aligned in one column.
void PrintCommands(
    const std::vector<std::pair<std::string, std::string>>& commands) {
  size_t width = 0;
  for (const auto& [command, comment] : commands) {
    width = std::max(width, command.size());
  }
  for (const auto& [command, comment] : commands) {
    std::printf("  %-*s  # %s\n", static_cast<int>(width), command.c_str(),
                comment.c_str());
  }
}

// How to watch vigil catch each failure, and what it reports.
void PrintFailurePaths(const std::string& probe, const std::string& web) {
  const std::string upstream = absl::GetFlag(FLAGS_upstream);
  std::printf(
      "\nSee vigil catch a failure (watch `curl '%s/healthz?verbose'`):\n",
      probe.c_str());
  std::vector<std::pair<std::string, std::string>> paths = {
      {absl::StrCat("stop the dependency at ", upstream),
       "/readyz 503 \"[-]upstream failed: connection refused\"; /livez stays "
       "200; start it again: ready again, no restart"},
  };
  if (absl::GetFlag(FLAGS_demo_endpoints)) {
    paths.push_back(
        {absl::StrCat("curl '", web, "/demo/hang?s=120' &"),
         absl::StrCat(
             "a handler hangs: MISS after --handler_deadline (",
             absl::FormatDuration(absl::GetFlag(FLAGS_handler_deadline)),
             "), its stack at 2x, /livez 503 and a supervised "
             "restart at 4x")});
    paths.push_back(
        {absl::StrCat("curl ", web, "/demo/close-listener"),
         "the port dies, the process lives: /livez 503 \"[-]app-port failed: "
         "connection refused\" (systemd's watchdog or Kubernetes restarts "
         "it)"});
  }
  paths.push_back(
      {"--simulate_hang_after=5s",
       "the main loop blocks: LONG MISS with its stack, /livez 503"});
  paths.push_back(
      {absl::StrCat("kill -STOP ", getpid()),
       absl::StrCat(
           "the whole process stops: the supervisor restarts it "
           "after --supervisor_hang_timeout (",
           absl::FormatDuration(absl::GetFlag(FLAGS_supervisor_hang_timeout)),
           ")")});
  paths.push_back(
      {"fill memory or the disk",
       absl::StrCat(
           "memory, disk:/ and disk:", absl::GetFlag(FLAGS_scratch_dir),
           " go DEGRADED at warn, UNHEALTHY at critical, with a time "
           "to exhaustion (readiness; /metrics "
           "vigil_check_time_to_exhaustion_seconds)")});
  for (const auto& [what, reported] : paths) {
    std::printf("  %s\n      -> %s\n", what.c_str(), reported.c_str());
  }
}

void PrintUrls(const std::string& host, int probe_port, const AppServer& app) {
  const std::string probe = absl::StrCat("http://", host, ":", probe_port);
  const std::string web = absl::StrCat("http://", host, ":", app.port());
  std::printf("vigil-example: probe=%s:%d app=%s:%d pid=%d\n\n", host.c_str(),
              probe_port, host.c_str(), app.port(), getpid());
  std::printf("Status page: %s/statusz  (open in a browser)\n\n",
              probe.c_str());
  std::printf("Probe server (dedicated) on %s -- try:\n", probe.c_str());
  PrintCommands({
      {absl::StrCat("curl -i ", probe, "/livez"), "liveness (text)"},
      {absl::StrCat("curl -i ", probe, "/readyz"), "readiness"},
      {absl::StrCat("curl -i ", probe, "/startupz"), "startup"},
      {absl::StrCat("curl '", probe, "/healthz?verbose'"),
       "every check, one line each"},
      {absl::StrCat("curl '", probe, "/readyz/upstream?verbose'"), "one check"},
      {absl::StrCat("curl -H 'Accept: application/json' ", probe, "/healthz"),
       "JSON (or ?format=json)"},
      {absl::StrCat("curl ", probe, "/metrics"), "Prometheus"},
      {absl::StrCat("curl ", probe, "/statusz/history"),
       "transitions and samples (JSON)"},
  });
  std::printf(
      "  # binary protobuf, decoded (from the repository root):\n"
      "  curl -s -H 'Accept: application/x-protobuf' %s/healthz | protoc "
      "--decode=vigil.v1.HealthReport -I health/proto -I /usr/include "
      "health/proto/health.proto\n",
      probe.c_str());
  std::printf("\nApplication (%d threads) on %s -- try:\n", app.threads(),
              web.c_str());
  PrintCommands({
      {absl::StrCat("curl '", web, "/work?ms=200'"), "burns 200 ms of CPU"},
      {absl::StrCat("curl ", web, "/health/readyz"),
       "probes mounted on the application's server"},
  });
  PrintFailurePaths(probe, web);
  std::printf(
      "Stop: Ctrl-C or `kill -TERM %d` (readiness drains for %s first).\n",
      vigil::IsSupervised() ? getppid() : getpid(),
      absl::FormatDuration(absl::GetFlag(FLAGS_drain_delay)).c_str());
  std::fflush(stdout);
}

void PrintReport(const vigil::HealthRegistry& registry) {
  auto report = vigil::ToHealthReport(*registry.snapshot(), registry.service());
  std::printf("%s\n", vigil::ToJson(report, true).value_or("?").c_str());
  std::fflush(stdout);
}

// Keeps systemd (or the supervisor that relays to it) told: READY=1 once
// startup completes, STATUS= whenever the summary changes, STOPPING=1 when
// the drain begins. Called from the main loop.
class SystemdReporter {
 public:
  SystemdReporter(vigil::SystemdNotifier& systemd,
                  const vigil::HealthRegistry& registry)
      : systemd_(systemd), registry_(registry) {}

  void Update() {
    const vigil::Status live = registry_.GroupStatus(vigil::kLiveness);
    const vigil::Status ready = registry_.GroupStatus(vigil::kReadiness);
    const vigil::Status startup = registry_.GroupStatus(vigil::kStartup);
    if (!ready_sent_ && vigil::IsPassing(startup)) {
      ready_sent_ = true;
      Report("READY=1", systemd_.Ready());
    }
    const bool draining = registry_.shutting_down();
    if (draining && !stopping_sent_) {
      stopping_sent_ = true;
      Report("STOPPING=1", systemd_.Stopping());
    }
    std::string status = absl::StrCat(
        draining ? "draining; " : "", "liveness ", vigil::StatusName(live),
        ", readiness ", vigil::StatusName(ready),
        vigil::IsPassing(startup) ? "" : ", starting up");
    if (status != status_) {
      status_ = std::move(status);
      Report("STATUS=", systemd_.SetStatus(status_));
    }
  }

 private:
  void Report(const char* what, const absl::Status& s) {
    if (!s.ok()) {
      std::fprintf(stderr, "vigil-example: systemd %s: %s\n", what,
                   s.ToString().c_str());
    }
  }

  vigil::SystemdNotifier& systemd_;
  const vigil::HealthRegistry& registry_;
  bool ready_sent_ = false;
  bool stopping_sent_ = false;
  std::string status_;
};

// Runs the main loop, beating its watchdog heartbeat and keeping systemd
// told, until a signal arrives and the drain delay has passed, or a second
// signal arrives.
void RunUntilDrained(vigil::HealthRegistry& registry,
                     vigil::Heartbeat& heartbeat, AppServer& app,
                     SystemdReporter& systemd) {
  const absl::Duration report_every = absl::GetFlag(FLAGS_report_interval);
  absl::Time next_report = absl::Now();
  absl::Time stop_at = absl::InfiniteFuture();
  absl::Time hang_at = absl::InfiniteFuture();
  if (absl::GetFlag(FLAGS_simulate_hang_after) > absl::ZeroDuration()) {
    hang_at = absl::Now() + absl::GetFlag(FLAGS_simulate_hang_after);
  }
  while (true) {
    heartbeat.Beat();
    const absl::Time now = absl::Now();
    if (now >= hang_at) {
      hang_at = absl::InfiniteFuture();
      std::printf(
          "simulating a hang of the main loop for %s\n",
          absl::FormatDuration(absl::GetFlag(FLAGS_simulate_hang_for)).c_str());
      std::fflush(stdout);
      absl::SleepFor(absl::GetFlag(FLAGS_simulate_hang_for));
      continue;
    }
    if (report_every > absl::ZeroDuration() && now >= next_report) {
      next_report = now + report_every;
      PrintReport(registry);
    }
    const int signals = g_signals.load();
    if (signals >= 1 && !registry.shutting_down()) {
      registry.BeginShutdown();
      app.BeginDrain();
      stop_at = now + absl::GetFlag(FLAGS_drain_delay);
      std::printf(
          "draining: /readyz answers 503, still serving for %s\n",
          absl::FormatDuration(absl::GetFlag(FLAGS_drain_delay)).c_str());
      std::fflush(stdout);
    }
    systemd.Update();
    if (signals >= 2 || now >= stop_at) return;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// The main loop's heartbeat on `watchdog`, bound to this thread, and the
// watchdog's verdict as a liveness check.
vigil::Heartbeat WatchMainLoop(vigil::Watchdog& watchdog,
                               vigil::HealthRegistry& registry) {
  const absl::Duration deadline = absl::GetFlag(FLAGS_main_loop_deadline);
  vigil::HeartbeatOptions hb;
  hb.miss_after = deadline / 5;
  hb.long_miss_after = deadline * 2 / 5;
  hb.kill_after = deadline;
  absl::StatusOr<vigil::Heartbeat> heartbeat =
      watchdog.Register("main-loop", hb);
  if (!heartbeat.ok()) Die("--main_loop_deadline", heartbeat.status());
  if (absl::Status s = vigil::RegisterWatchdogLiveness(registry, watchdog);
      !s.ok()) {
    Die("watchdog liveness", s);
  }
  return *std::move(heartbeat);
}

}  // namespace

int main(int argc, char** argv) {
  SetUsage();
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_vigil)) {
    SuperviseIfAsked();  // first, before any thread; the parent stays there
    // Read (and removed from the environment) before any thread exists.
    vigil::TakeSystemdEnvironment();
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  if (!absl::GetFlag(FLAGS_vigil)) return RunWithoutVigil();

  // Declared before the registry: its liveness check reads the watchdog,
  // its listener the overload manager.
  vigil::Watchdog watchdog;
  std::unique_ptr<vigil::pressure::OverloadManager> overload;
  vigil::HealthRegistry registry(RegistryConfig());
  vigil::pressure::DefaultDetectors detectors;  // Memory events: RunNow.
  // Before any check: the journal starts with their first results.
  std::unique_ptr<vigil::HealthHistory> history =
      vigil::HealthHistory::Create(&registry).value();
  vigil::WatchdogHistory watchdog_history(&watchdog, history.get());
  vigil::Heartbeat heartbeat = WatchMainLoop(watchdog, registry);
  if (absl::Status s = registry.Register(vigil::SupervisorIncidentCheck());
      !s.ok()) {
    Die("supervisor check", s);
  }
  vigil_example::CheckConfig checks;
  checks.warm_at = absl::Now() + absl::GetFlag(FLAGS_warmup);
  checks.upstream = absl::GetFlag(FLAGS_upstream);
  checks.scratch_dir = absl::GetFlag(FLAGS_scratch_dir);
  if (absl::Status s = vigil_example::RegisterChecks(registry, checks);
      !s.ok()) {
    Die("register", s);
  }
  if (absl::GetFlag(FLAGS_demo_stuck_check)) {
    if (absl::Status s = vigil_example::RegisterStuckCheck(registry); !s.ok()) {
      Die("stuck check", s);
    }
  }
  if (absl::GetFlag(FLAGS_pressure)) RegisterPressure(registry, &detectors);
  LogTransitions(registry);

  std::unique_ptr<vigil::http::HealthEndpoints> endpoints =
      MakeEndpoints(registry, history.get());
  ExportWatchdogMetrics(watchdog, endpoints.get());
  endpoints->AddMetricsCollector([](vigil::http::PrometheusWriter& w, bool) {
    vigil::WriteSupervisorMetrics(w);
  });
  AppServerOptions app_options;
  app_options.threads = absl::GetFlag(FLAGS_app_threads);
  app_options.watchdog = &watchdog;
  app_options.handler_deadline = absl::GetFlag(FLAGS_handler_deadline);
  app_options.demo_endpoints = absl::GetFlag(FLAGS_demo_endpoints);
  AppServer app(app_options);
  overload =
      vigil_example::InstallOverload(registry, app.server(), endpoints.get());
  StartApp(app, endpoints.get(), registry);  // registers the self-probe
  registry.Start();
  std::unique_ptr<vigil::http::ProbeServer> probe =
      StartProbeServer(endpoints.get());
  PrintUrls(UrlHost(absl::GetFlag(FLAGS_address)), probe->port(), app);
  std::unique_ptr<vigil::grpc_health::HealthServer> grpc_health =
      vigil_example::StartGrpcHealth(registry, absl::GetFlag(FLAGS_address),
                                     absl::GetFlag(FLAGS_grpc_port));

  vigil::SystemdNotifierOptions sd;
  sd.liveness = vigil::LivenessOf(registry);  // WATCHDOG=1 only while alive
  vigil::SystemdNotifier systemd(sd);
  SystemdReporter reporter(systemd, registry);
  RunUntilDrained(registry, heartbeat, app, reporter);
  std::printf("stopping\n");
  std::fflush(stdout);
  if (grpc_health) grpc_health->Stop();  // Ends its Watch streams (OK).
  app.Stop();
  probe.reset();
  registry.Stop();
  return 0;
}
