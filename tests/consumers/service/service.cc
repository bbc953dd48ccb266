// The consumer service: what a user's program linking vigil looks like. The
// Bazel, CMake and Makefile consumer projects all build this one file
// against vigil as they see it (an external repository, an installed SDK).
//
// It registers one check, serves the probes on a free loopback port (printed
// as "port N" on stdout), and beats a heartbeat from its main loop, with the
// watchdog as a liveness check. SIGTERM drains (readiness fails at once) and
// exits 0 after `--drain_ms` (default 200).

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "health/http/endpoints.h"
#include "health/http/probe_server.h"
#include "health/registry.h"
#include "health/version.h"
#include "watchdog/liveness.h"
#include "watchdog/watchdog.h"

namespace {

std::atomic<bool> terminated{false};

void OnTerm(int) { terminated.store(true); }

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "consumer_service: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int drain_ms = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--drain_ms=", 11) == 0) {
      drain_ms = std::atoi(argv[i] + 11);
    }
  }
  signal(SIGTERM, OnTerm);

  vigil::RegistryOptions options;
  options.service.name = "consumer";
  options.service.version = vigil::kVersion;
  vigil::HealthRegistry registry(options);
  vigil::Check app;
  app.name = "app";
  app.options.interval = absl::Milliseconds(100);
  app.function = [](const vigil::CheckContext&) {
    return vigil::CheckResult::Healthy("serving");
  };
  if (absl::Status s = registry.Register(app); !s.ok()) return Fail(s);

  vigil::Watchdog watchdog;
  if (absl::Status s = vigil::RegisterWatchdogLiveness(registry, watchdog);
      !s.ok()) {
    return Fail(s);
  }
  registry.Start();

  auto endpoints = vigil::http::HealthEndpoints::Create(&registry);
  if (!endpoints.ok()) return Fail(endpoints.status());
  auto server = vigil::http::ProbeServer::Start(endpoints->get());
  if (!server.ok()) return Fail(server.status());
  std::printf("port %d\nvigil %s\n", (*server)->port(), vigil::kVersion);
  std::fflush(stdout);

  absl::StatusOr<vigil::Heartbeat> heartbeat = watchdog.Register("main-loop");
  if (!heartbeat.ok()) return Fail(heartbeat.status());
  while (!terminated.load()) {
    heartbeat->Beat();
    absl::SleepFor(absl::Milliseconds(20));  // the service's own work
  }
  registry.BeginShutdown();
  absl::SleepFor(absl::Milliseconds(drain_ms));
  return 0;
}
