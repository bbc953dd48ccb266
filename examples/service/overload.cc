#include "examples/service/overload.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "health/http/overload_hook.h"

namespace vigil_example {

std::unique_ptr<vigil::pressure::OverloadManager> InstallOverload(
    vigil::HealthRegistry& registry, httplib::Server& app,
    vigil::http::HealthEndpoints* endpoints) {
  vigil::pressure::OverloadOptions options;  // memory: shed at UNHEALTHY.
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
