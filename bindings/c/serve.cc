// The C ABI's probe server (bindings/c/vigil.h).

#include <exception>
#include <memory>
#include <utility>

#include "bindings/c/internal/abi.h"
#include "bindings/c/vigil.h"
#include "health/http/endpoints.h"
#include "health/http/probe_server.h"

struct vigil_probe_server {
  std::unique_ptr<vigil::http::HealthEndpoints> endpoints;
  // Declared after `endpoints`: stopped (destroyed) first.
  std::unique_ptr<vigil::http::ProbeServer> server;
};

extern "C" {

vigil_probe_server* vigil_probe_server_start(vigil_registry* r,
                                             const char* address, int port,
                                             char* err, size_t err_len) {
  using vigil::internal::CopyOut;
  if (r == nullptr) {
    CopyOut("registry: must not be NULL", err, err_len);
    return nullptr;
  }
  try {
    auto endpoints = vigil::http::HealthEndpoints::Create(r->registry.get());
    if (!endpoints.ok()) {
      CopyOut(endpoints.status().message(), err, err_len);
      return nullptr;
    }
    vigil::http::ProbeServerOptions options;
    if (address != nullptr) options.address = address;
    options.port = port;
    auto server = vigil::http::ProbeServer::Start(endpoints->get(), options);
    if (!server.ok()) {
      CopyOut(server.status().message(), err, err_len);
      return nullptr;
    }
    auto s = std::make_unique<vigil_probe_server>();
    s->endpoints = *std::move(endpoints);
    s->server = *std::move(server);
    return s.release();
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return nullptr;
  }
}

int vigil_probe_server_port(const vigil_probe_server* s) {
  return s == nullptr ? 0 : s->server->port();
}

void vigil_probe_server_stop(vigil_probe_server* s) {
  if (s == nullptr) return;
  s->server->Stop();
  delete s;
}

}  // extern "C"
