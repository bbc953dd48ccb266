#include "examples/sidecar/sidecar.h"

#include <utility>

#include "health/pressure/defaults.h"
#include "health/version.h"

namespace vigil_sidecar {
namespace {

vigil::RegistryOptions Options() {
  vigil::RegistryOptions o;
  o.service.name = "vigil-sidecar";
  o.service.version = vigil::kVersion;
  return o;
}

}  // namespace

Sidecar::Sidecar(SidecarPlan plan)
    : plan_(std::move(plan)), registry_(Options()) {}

Sidecar::~Sidecar() {
  server_.reset();
  registry_.Stop();
}

absl::StatusOr<std::vector<std::string>> Sidecar::RegisterAll(
    const SidecarPlan& plan, vigil::HealthRegistry& registry) {
  std::vector<std::string> names;
  for (const vigil::Check& c : plan.checks) {
    if (absl::Status s = registry.Register(c); !s.ok()) return s;
    names.push_back(c.name);
  }
  if (plan.pressure) {
    vigil::pressure::DefaultDetectors detectors;
    if (absl::Status s = vigil::pressure::RegisterDefaultDetectors(
            registry, plan.pressure_options, &detectors);
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pressure: ", s.message()));
    }
    names.insert(names.end(), detectors.registered.begin(),
                 detectors.registered.end());
  }
  return names;
}

absl::StatusOr<std::unique_ptr<Sidecar>> Sidecar::Start(SidecarPlan plan) {
  std::unique_ptr<Sidecar> s(new Sidecar(std::move(plan)));
  s->history_ = vigil::HealthHistory::Create(&s->registry_).value();
  auto names = RegisterAll(s->plan_, s->registry_);
  if (!names.ok()) return names.status();
  s->names_ = *std::move(names);
  vigil::http::EndpointsOptions eo;
  eo.details = s->plan_.details;
  eo.bearer_token = s->plan_.token;
  eo.history = s->history_.get();
  auto endpoints = vigil::http::HealthEndpoints::Create(&s->registry_, eo);
  if (!endpoints.ok()) return endpoints.status();
  s->endpoints_ = *std::move(endpoints);
  s->registry_.Start();
  vigil::http::ProbeServerOptions po;
  po.address = s->plan_.address;
  po.port = s->plan_.port;
  auto server = vigil::http::ProbeServer::Start(s->endpoints_.get(), po);
  if (!server.ok()) return server.status();
  s->server_ = *std::move(server);
  return s;
}

absl::Status Sidecar::Reload(SidecarPlan plan,
                             std::vector<std::string>* notes) {
  {
    // Dry run: everything must register in a registry that never runs.
    vigil::HealthRegistry scratch(Options());
    auto names = RegisterAll(plan, scratch);
    if (!names.ok()) return names.status();
  }
  if (notes != nullptr) {
    if (plan.address != plan_.address || plan.port != plan_.port) {
      notes->push_back("address/port changes need a restart; kept " +
                       plan_.address + ":" + std::to_string(plan_.port));
    }
    if (plan.details != plan_.details || plan.token != plan_.token) {
      notes->push_back("details/token changes need a restart");
    }
  }
  for (const std::string& name : names_) {
    registry_.Unregister(name).IgnoreError();
  }
  names_.clear();
  auto names = RegisterAll(plan, registry_);
  if (!names.ok()) {
    // Cannot happen after the dry run short of a race with the file
    // system; restore the previous configuration.
    for (const vigil::Check& c : plan.checks) {
      registry_.Unregister(c.name).IgnoreError();
    }
    auto old = RegisterAll(plan_, registry_);
    if (old.ok()) names_ = *std::move(old);
    return names.status();
  }
  names_ = *std::move(names);
  const std::string address = plan_.address;
  const int port = plan_.port;
  plan_ = std::move(plan);
  plan_.address = address;
  plan_.port = port;
  return absl::OkStatus();
}

}  // namespace vigil_sidecar
