// Sidecar: vigil watching a process from outside. Registers the plan's
// checks (config.h) and the default pressure detectors in a registry and
// serves the aggregated /livez /readyz /startupz /healthz /metrics with the
// library's ProbeServer.
//
//   auto plan = vigil_sidecar::LoadConfigFile(path).value();
//   auto sidecar = vigil_sidecar::Sidecar::Start(std::move(plan)).value();
//   ...                          // SIGHUP:
//   absl::Status s = sidecar->Reload(new_plan);  // old config kept on error
//   sidecar->BeginDrain();       // SIGTERM: /readyz 503 at once
//
// Thread-compatible: call Reload and BeginDrain from one thread.

#ifndef VIGIL_EXAMPLES_SIDECAR_SIDECAR_H_
#define VIGIL_EXAMPLES_SIDECAR_SIDECAR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "examples/sidecar/config.h"
#include "health/history.h"
#include "health/http/endpoints.h"
#include "health/http/probe_server.h"
#include "health/registry.h"

namespace vigil_sidecar {

class Sidecar {
 public:
  // Registers everything, starts the registry and the probe server on the
  // plan's address and port. Errors: a check or detector that cannot be
  // registered (e.g. a disk path that does not exist), or the port in use.
  static absl::StatusOr<std::unique_ptr<Sidecar>> Start(SidecarPlan plan);

  ~Sidecar();

  // Replaces the checks and detectors with `plan`'s. All of the new ones are
  // first registered in a scratch registry; on any error nothing changes
  // and the error says why. Address, port, details and token changes need a
  // restart (ignored here, with a note in the returned message list).
  absl::Status Reload(SidecarPlan plan, std::vector<std::string>* notes);

  // Readiness fails from now on (drain). Idempotent.
  void BeginDrain() { registry_.BeginShutdown(); }

  int port() const { return server_->port(); }
  const SidecarPlan& plan() const { return plan_; }
  // Names of the registered checks.
  const std::vector<std::string>& check_names() const { return names_; }
  vigil::HealthRegistry& registry() { return registry_; }

 private:
  explicit Sidecar(SidecarPlan plan);
  // Registers plan's checks and detectors in `registry`, returning names.
  static absl::StatusOr<std::vector<std::string>> RegisterAll(
      const SidecarPlan& plan, vigil::HealthRegistry& registry);

  SidecarPlan plan_;
  vigil::HealthRegistry registry_;
  // Journal and samples for /statusz and /statusz/history.
  std::unique_ptr<vigil::HealthHistory> history_;
  std::vector<std::string> names_;
  std::unique_ptr<vigil::http::HealthEndpoints> endpoints_;
  std::unique_ptr<vigil::http::ProbeServer> server_;
};

}  // namespace vigil_sidecar

#endif  // VIGIL_EXAMPLES_SIDECAR_SIDECAR_H_
