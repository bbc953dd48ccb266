// MountHealthEndpoints: serve HealthEndpoints on an application's own
// httplib::Server.
//
// The simplest setup: one port, one server. The probes then share the
// application's threads: while those are all busy (cpp-httplib serves one
// connection per pool thread, and an idle keep-alive connection holds its
// thread for the read timeout), probes wait too, and an orchestrator may
// restart a healthy but busy instance. Prefer a dedicated `ProbeServer`
// (probe_server.h) for liveness; mounting is fine for human-facing status
// pages and for readiness behind a load balancer that tolerates it.
//
//   httplib::Server app;
//   app.set_tcp_nodelay(true);  // cpp-httplib leaves Nagle on otherwise
//   app.Get("/", ...);          // the application's own routes first
//   auto endpoints = vigil::http::HealthEndpoints::Create(&registry).value();
//   vigil::http::MountOptions mount;
//   mount.path_prefix = "/health";   // /health/readyz, /health/metrics...
//   if (absl::Status s = vigil::http::MountHealthEndpoints(
//           endpoints.get(), &app, mount); !s.ok()) ...
//   app.listen("0.0.0.0", 8080);
//
// Routes registered: GET (and so HEAD), POST, PUT, PATCH, DELETE and
// OPTIONS for each endpoint path and, when custom groups are on, for
// `<prefix>/<name>z` (so that other methods get 405 with Allow rather than
// 404). cpp-httplib uses the first matching route: register the
// application's own routes first, or use a prefix, if it has paths ending in
// "z". Request size limits, timeouts and keep-alive are the application
// server's settings; an error handler set on it also sees 4xx/5xx probe
// answers.

#ifndef VIGIL_HEALTH_HTTP_MOUNT_H_
#define VIGIL_HEALTH_HTTP_MOUNT_H_

#include <string>

#include "absl/status/status.h"
#include "health/http/endpoints.h"
#include "httplib.h"

namespace vigil {
namespace http {

struct MountOptions {
  // "" or a path like "/health" (no trailing '/').
  std::string path_prefix;
};

// Registers the routes on `server` (before it starts listening: cpp-httplib
// does not allow adding routes to a running server). `endpoints` is not
// owned and must outlive the server. InvalidArgument for a bad prefix or
// null argument.
absl::Status MountHealthEndpoints(HealthEndpoints* endpoints,
                                  httplib::Server* server,
                                  const MountOptions& options = {});

namespace internal {

// The HttpRequest for a cpp-httplib request, path made relative to
// `prefix` (which the route already matched).
HttpRequest FromHttplib(const httplib::Request& req, absl::string_view prefix);

// Copies `response` into cpp-httplib's.
void ToHttplib(const HttpResponse& response, httplib::Response* res);

}  // namespace internal
}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_MOUNT_H_
