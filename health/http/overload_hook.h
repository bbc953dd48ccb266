// The cpp-httplib side of overload actions (health/pressure/overload.h):
// a pre-routing hook that sheds an application's new requests while the
// OverloadManager says so, and its actions on /metrics.
//
//   httplib::Server app;
//   vigil::http::OverloadHookOptions hook;
//   hook.exempt_prefixes = {"/health"};   // mounted probes keep answering
//   vigil::http::InstallOverloadHook(&app, overload.get(), hook);
//   vigil::http::AddOverloadMetrics(endpoints.get(), overload.get());
//
// While `shedding()`: every request not under an exempt prefix gets 503
// with "Retry-After: <seconds>" and "Connection: close", before routing (no
// handler runs). While `closing_connections()`: requests are served, with
// "Connection: close" so clients do not hold idle keep-alive connections
// (cpp-httplib keeps a server thread per connection).
//
// The hook costs one or two relaxed atomic loads per request when no action
// is on. It replaces any pre-routing handler already set on the server
// (cpp-httplib holds one); set `next` to chain one.

#ifndef VIGIL_HEALTH_HTTP_OVERLOAD_HOOK_H_
#define VIGIL_HEALTH_HTTP_OVERLOAD_HOOK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "health/http/endpoints.h"
#include "health/pressure/overload.h"
#include "httplib.h"

namespace vigil {
namespace http {

struct OverloadHookOptions {
  // Paths starting with one of these are never shed (e.g. the prefix the
  // health endpoints are mounted under).
  std::vector<std::string> exempt_prefixes;
  // Body of shed answers.
  std::string body = "overloaded, retry later\n";
  // Called for requests the hook lets through (optional).
  httplib::Server::HandlerWithResponse next;
};

// Installs the hook on `server` (before it listens). `manager` is not owned
// and must outlive the server. InvalidArgument for null arguments.
absl::Status InstallOverloadHook(httplib::Server* server,
                                 pressure::OverloadManager* manager,
                                 OverloadHookOptions options = {});

// Exports vigil_overload_action_active{action} (0/1),
// vigil_overload_action_activations_total{action} and
// vigil_overload_level (0 healthy, 1 degraded, 2 unhealthy) on /metrics.
// `manager` must outlive `endpoints`' scrapes. Returns the collector id.
uint64_t AddOverloadMetrics(HealthEndpoints* endpoints,
                            const pressure::OverloadManager* manager);

}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_OVERLOAD_HOOK_H_
