#include "examples/service/overload.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/flags/flag.h"
#include "health/http/overload_hook.h"

ABSL_FLAG(bool, overload_stop_accepting, false,
          "While memory is UNHEALTHY, the application server also accepts no "
          "new connection: new clients wait in the listen backlog (a load "
          "balancer's connect timeout sends them elsewhere) and are served "
          "once memory recovers; open connections are still answered.");

namespace vigil_example {

std::unique_ptr<vigil::pressure::OverloadManager> InstallOverload(
    vigil::HealthRegistry& registry, httplib::Server& app,
    vigil::http::HealthEndpoints* endpoints) {
  vigil::pressure::OverloadOptions options;  // memory: shed at UNHEALTHY.
  if (absl::GetFlag(FLAGS_overload_stop_accepting)) {
    options.stop_accepting_at = vigil::Status::kUnhealthy;
  }
  auto manager = vigil::pressure::OverloadManager::Create(&registry, options);
  if (!manager.ok()) {
    std::fprintf(stderr, "overload: %s\n", manager.status().ToString().c_str());
    std::exit(1);
  }
  (*manager)->AddCallback("log", vigil::Status::kDegraded, [](bool on) {
    std::printf("overload: memory pressure %s\n",
                on ? "on: closing connections" : "off");
    std::fflush(stdout);
  });
  vigil::http::OverloadHookOptions hook;
  hook.exempt_prefixes = {"/health"};  // StartApp mounts the probes there.
  if (absl::Status s =
          vigil::http::InstallOverloadHook(&app, manager->get(), hook);
      !s.ok()) {
    std::fprintf(stderr, "overload: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  vigil::http::AddOverloadMetrics(endpoints, manager->get());
  return *std::move(manager);
}

}  // namespace vigil_example
