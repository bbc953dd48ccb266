// vigil example service: a small program that links vigil, declares what
// "alive", "ready" and "started" mean for it (checks.h), and exposes them
// over HTTP the two ways vigil offers:
//
//   - a dedicated probe server (--port, default 8080) with its own event
//     loop: /livez /readyz /startupz /healthz /<group>z/<check> /metrics;
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
// The main loop beats a vigil::Watchdog heartbeat ("main-loop"): silent for
// --main_loop_deadline, /livez fails naming it, with the loop's stack in the
// log (--simulate_hang_after demonstrates it); the watchdog's counters are on
// /metrics.
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
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/service/app_server.h"
#include "examples/service/checks.h"
#include "examples/service/grpc_health.h"
#include "health/http/endpoints.h"
#include "health/http/mount.h"
#include "health/http/probe_server.h"
#include "health/pressure/defaults.h"
#include "health/registry.h"
#include "health/report.h"
#include "watchdog/liveness.h"
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

namespace {

using vigil_example::AppServer;

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
  options.service.version = "0.1.0";
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
    vigil::HealthRegistry& registry) {
  absl::StatusOr<vigil::http::DetailsPolicy> policy =
      vigil::http::ParseDetailsPolicy(absl::GetFlag(FLAGS_details));
  if (!policy.ok()) Die("--details", policy.status());
  vigil::http::EndpointsOptions options;
  options.details = *policy;
  options.bearer_token = absl::GetFlag(FLAGS_token);
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
void RegisterPressure(vigil::HealthRegistry& registry) {
  vigil::pressure::DefaultDetectorOptions pressure;
  pressure.disk_paths = {"/"};
  if (absl::GetFlag(FLAGS_scratch_dir) != "/") {
    pressure.disk_paths.push_back(absl::GetFlag(FLAGS_scratch_dir));
  }
  vigil::pressure::DefaultDetectors detectors;
  if (absl::Status s = vigil::pressure::RegisterDefaultDetectors(
          registry, pressure, &detectors);
      !s.ok()) {
    Die("pressure detectors", s);
  }
  for (const std::string& why : detectors.skipped) {
    std::printf("pressure: skipped %s\n", why.c_str());
  }
}

// --vigil=false: the same application, no vigil at all.
int RunWithoutVigil() {
  AppServer app(absl::GetFlag(FLAGS_app_threads));
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
        const vigil::WatchdogCounters c = watchdog.counters();
        w.BeginFamily("vigil_watchdog_events_total",
                      vigil::http::MetricType::kCounter,
                      "Watchdog escalations and recoveries since start.");
        const std::pair<const char*, uint64_t> events[] = {
            {"miss", c.misses},
            {"long_miss", c.long_misses},
            {"kill", c.kills},
            {"kill_suppressed", c.kills_suppressed},
            {"recovered", c.recoveries}};
        for (const auto& [event, count] : events) {
          w.Add({{"event", event}}, static_cast<double>(count));
        }
        w.BeginFamily("vigil_watchdog_heartbeat_silence_seconds",
                      vigil::http::MetricType::kGauge,
                      "How long each heartbeat has been silent.");
        for (const vigil::HeartbeatStatus& h : watchdog.Statuses()) {
          w.Add({{"heartbeat", h.name}}, absl::ToDoubleSeconds(h.silent_for));
        }
      });
}

void StartApp(AppServer& app, vigil::http::HealthEndpoints* endpoints) {
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

void PrintUrls(const std::string& host, int probe_port, const AppServer& app) {
  const std::string probe = absl::StrCat("http://", host, ":", probe_port);
  const std::string web = absl::StrCat("http://", host, ":", app.port());
  std::printf("vigil-example: probe=%s:%d app=%s:%d pid=%d\n\n", host.c_str(),
              probe_port, host.c_str(), app.port(), getpid());
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
  std::printf(
      "\nReadiness needs --upstream=%s to accept TCP connections (e.g. "
      "`redis-server --port 6379 --daemonize yes`).\n"
      "Stop: Ctrl-C or `kill -TERM %d` (readiness drains for %s first).\n",
      absl::GetFlag(FLAGS_upstream).c_str(), getpid(),
      absl::FormatDuration(absl::GetFlag(FLAGS_drain_delay)).c_str());
  std::fflush(stdout);
}

void PrintReport(const vigil::HealthRegistry& registry) {
  auto report = vigil::ToHealthReport(*registry.snapshot(), registry.service());
  std::printf("%s\n", vigil::ToJson(report, true).value_or("?").c_str());
  std::fflush(stdout);
}

// Runs the main loop, beating its watchdog heartbeat, until a signal arrives
// and the drain delay has passed, or a second signal arrives.
void RunUntilDrained(vigil::HealthRegistry& registry,
                     vigil::Heartbeat& heartbeat) {
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
      stop_at = now + absl::GetFlag(FLAGS_drain_delay);
      std::printf(
          "draining: /readyz answers 503, still serving for %s\n",
          absl::FormatDuration(absl::GetFlag(FLAGS_drain_delay)).c_str());
      std::fflush(stdout);
    }
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
  absl::ParseCommandLine(argc, argv);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  if (!absl::GetFlag(FLAGS_vigil)) return RunWithoutVigil();

  // Declared before the registry: its liveness check reads the watchdog.
  vigil::Watchdog watchdog;
  vigil::HealthRegistry registry(RegistryConfig());
  vigil::Heartbeat heartbeat = WatchMainLoop(watchdog, registry);
  vigil_example::CheckConfig checks;
  checks.warm_at = absl::Now() + absl::GetFlag(FLAGS_warmup);
  checks.upstream = absl::GetFlag(FLAGS_upstream);
  checks.scratch_dir = absl::GetFlag(FLAGS_scratch_dir);
  if (absl::Status s = vigil_example::RegisterChecks(registry, checks);
      !s.ok()) {
    Die("register", s);
  }
  if (absl::GetFlag(FLAGS_pressure)) RegisterPressure(registry);
  LogTransitions(registry);
  registry.Start();

  std::unique_ptr<vigil::http::HealthEndpoints> endpoints =
      MakeEndpoints(registry);
  ExportWatchdogMetrics(watchdog, endpoints.get());
  AppServer app(absl::GetFlag(FLAGS_app_threads));
  StartApp(app, endpoints.get());
  std::unique_ptr<vigil::http::ProbeServer> probe =
      StartProbeServer(endpoints.get());
  PrintUrls(UrlHost(absl::GetFlag(FLAGS_address)), probe->port(), app);
  std::unique_ptr<vigil::grpc_health::HealthServer> grpc_health =
      vigil_example::StartGrpcHealth(registry, absl::GetFlag(FLAGS_address),
                                     absl::GetFlag(FLAGS_grpc_port));

  RunUntilDrained(registry, heartbeat);
  std::printf("stopping\n");
  std::fflush(stdout);
  if (grpc_health) grpc_health->Stop();  // Ends its Watch streams (OK).
  app.Stop();
  probe.reset();
  registry.Stop();
  return 0;
}
