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
// (cpp-httplib keeps a server thread per connection). While
// `stopping_accept()`: the server accepts no new connection (the accept
// gate below).
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
  // The accept gate learns the listening socket through the server's socket
  // options, so InstallOverloadHook() sets them: put yours here rather than
  // calling Server::set_socket_options() (after the hook, that would leave
  // the gate blind and it would hold nothing).
  httplib::SocketOptions socket_options = httplib::default_socket_options;
};

// Installs the hook and the accept gate on `server` (before it listens).
// `manager` is not owned and must outlive the server. InvalidArgument for
// null arguments.
//
// The accept gate wraps the server's task queue (`new_task_queue`, whatever
// it was when this is called): while `manager->stopping_accept()`, the
// listener thread holds the connection it has just accepted instead of
// handing it to a worker, so it calls accept() no more; new clients wait in
// the kernel's listen backlog (their SYNs are dropped once it is full) and
// are served, the held one first, when the action turns off. Connections
// already handed over are served as usual. The held listener re-checks at
// least every 100 ms (a release after `hold`; Server::stop(), seen on the
// listening socket); no wake-up while the action is off: one relaxed atomic
// load per accepted connection.
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
