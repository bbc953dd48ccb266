// HealthEndpoints: the HTTP face of a HealthRegistry, independent of any
// HTTP server.
//
// It answers Kubernetes-style probe paths and Prometheus scrapes from the
// registry's latest snapshot. It never runs a check: every answer is built
// from `registry->snapshot()`, so a flood of probes costs nothing and a hung
// check cannot block one. Serve it with one (or both) of:
//   - `ProbeServer` (probe_server.h): a dedicated server on its own port and
//     threads, answering even while the application's threads are saturated;
//   - `MountHealthEndpoints` (mount.h): routes on the application's own
//     httplib::Server.
//
//   vigil::HealthRegistry registry;
//   ... register checks, registry.Start() ...
//   auto endpoints = vigil::http::HealthEndpoints::Create(&registry).value();
//   vigil::http::ProbeServerOptions options;
//   options.port = 8080;
//   auto server =
//       vigil::http::ProbeServer::Start(endpoints.get(), options).value();
//
// Paths (all configurable, see EndpointPaths; a transport may add a prefix):
//   /livez /readyz /startupz   the liveness, readiness and startup groups
//   /healthz                   every check (the "all" group)
//   /<group>z                  any custom group, e.g. /dbz for group "db"
//   /<path>/<check>            one check of that group, e.g. /readyz/postgres
//   /metrics                   Prometheus text format 0.0.4
//   /statusz                   the status page for people (HTML; README
//                              "History and /statusz")
//   /statusz/history           the HealthHistory (vigil.v1) as JSON/protobuf
//   /statusz/events            Server-Sent Events (streamed by the probe
//                              server; other transports get an empty stream)
//
// Status codes: 200 when the group or check passes (HEALTHY or DEGRADED),
// 503 when it does not (UNHEALTHY, or UNKNOWN: never evaluated), 404 for an
// unknown path, group or check, 405 (with Allow) for a method other than
// GET/HEAD/OPTIONS, 406 for an unknown ?format=. Every answer carries
// `Cache-Control: no-store`.
//
// Formats (probe paths): plain text by default, like Kubernetes ("ok", or
// with ?verbose one "[+]name ok" / "[-]name failed: reason" line per check and
// a last "readyz check passed|failed" line); the vigil.v1.HealthReport as
// proto3 JSON for `Accept: application/json` or ?format=json; binary protobuf
// for `Accept: application/x-protobuf` or ?format=protobuf. ?exclude=name
// (repeatable) leaves checks out of the answer; an excluded name that is not
// in the group is reported ("warn: ..." line in text, `Vigil-Warning` header
// in every format).
//
// Details policy: everyone gets check names and statuses; messages, observed
// values, thresholds, time to exhaustion and details only when
// `DetailsAllowed()` says so (by default: loopback clients, or a request with
// the configured bearer token).
//
// Thread safety: Handle() and RenderMetrics() may be called concurrently
// from any number of threads; collectors may be added and removed at any
// time.

#ifndef VIGIL_HEALTH_HTTP_ENDPOINTS_H_
#define VIGIL_HEALTH_HTTP_ENDPOINTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "health/history.h"
#include "health/http/prometheus.h"
#include "health/registry.h"
#include "health/sync.h"
#include "health/version.h"

namespace vigil {
namespace http {

// Who may see messages, observed values and details. Names and statuses are
// always visible.
enum class DetailsPolicy {
  // Everyone. Only for endpoints reachable by trusted clients alone.
  kAlways,
  // Clients whose remote address is local (loopback by default), and
  // requests carrying `Authorization: Bearer <bearer_token>`. Behind a
  // reverse proxy on the same host every client looks local: do not route
  // the probe port through it, or make `is_local_address` return false
  // (token only), or choose kNever.
  kLoopbackOrToken,
  // Nobody, not even with a token.
  kNever,
};

// Parses "always", "loopback_or_token" or "never" (for flags and config
// files). InvalidArgument otherwise.
absl::StatusOr<DetailsPolicy> ParseDetailsPolicy(absl::string_view text);
absl::string_view DetailsPolicyName(DetailsPolicy policy);

// A request as any transport sees it. Plain value type.
struct HttpRequest {
  // "GET", "HEAD", ...
  std::string method;
  // Percent-decoded path without the query string, relative to the
  // transport's prefix: "/readyz", "/readyz/postgres".
  std::string path;
  // Percent-decoded query parameters in order; "?verbose" gives
  // {"verbose", ""}.
  std::vector<std::pair<std::string, std::string>> query;
  // Header fields as received (names in any case).
  std::vector<std::pair<std::string, std::string>> headers;
  // The peer's IP address as text: "127.0.0.1", "::1", "10.0.0.7".
  std::string remote_address;

  // Value of the first header named `name` (case-insensitive), or "".
  absl::string_view Header(absl::string_view name) const;
  bool HasQuery(absl::string_view name) const;
  // Every value of query parameter `name`, in order.
  std::vector<std::string> QueryValues(absl::string_view name) const;
};

// An answer as any transport writes it. For HEAD the transport sends the
// headers (with the body's Content-Length) and no body.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  // Extra header fields. Every response of HealthEndpoints carries
  // Cache-Control: no-store here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // A small text/plain answer with Cache-Control: no-store.
  static HttpResponse Text(int status, std::string body);
};

// The paths served. Each is "/" followed by one path segment, or "" to
// disable that endpoint.
struct EndpointPaths {
  std::string livez = "/livez";
  std::string readyz = "/readyz";
  std::string startupz = "/startupz";
  std::string healthz = "/healthz";
  std::string metrics = "/metrics";
  // The status page for people (README "History and /statusz"), and below it
  // <statusz>/history, the HealthHistory as JSON (default) or protobuf with
  // ?check=NAME, ?after=SEQUENCE, ?since=RFC3339-or-duration ("10m" = the
  // last ten minutes); and <statusz>/events, a Server-Sent Events stream of
  // new journal entries where the transport supports streaming (the probe
  // server does). The history parts need EndpointsOptions::history.
  std::string statusz = "/statusz";
  // Serve /<group>z for every custom group in the snapshot.
  bool custom_groups = true;
};

struct EndpointsOptions {
  EndpointPaths paths;
  DetailsPolicy details = DetailsPolicy::kLoopbackOrToken;
  // With kLoopbackOrToken, requests with `Authorization: Bearer <token>` see
  // details from anywhere. Empty: no token is accepted.
  std::string bearer_token;
  // Whether a remote address counts as local for kLoopbackOrToken.
  // nullptr means IsLoopbackAddress. Tests inject one to act as a remote
  // client over loopback.
  std::function<bool(absl::string_view remote_address)> is_local_address;
  // The journal and samples behind /statusz and <statusz>/history. Not
  // owned; must outlive the endpoints. nullptr: the page shows the snapshot
  // only and <statusz>/history answers 404.
  const HealthHistory* history = nullptr;
  // Seconds between the status page's in-page refreshes (0: none).
  int statusz_refresh_seconds = 5;
  // Reported as vigil_build_info's vigil_version label.
  std::string vigil_version = kVersion;
};

// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses.
bool IsLoopbackAddress(absl::string_view address);

// The details decision for one request: `authorization` is the value of its
// Authorization header ("" if none). The token is compared in constant time.
bool DetailsAllowed(const EndpointsOptions& options,
                    absl::string_view remote_address,
                    absl::string_view authorization);

// Appends metric families to a /metrics answer. Called on every scrape, on
// the serving thread, after vigil's own families; it must be quick and must
// not block (a collector that hangs holds a serving thread). `details` says
// whether this scrape may see details (observed values and the like). An
// exception it throws is caught and reported as a comment in the exposition.
using MetricsCollector =
    std::function<void(PrometheusWriter& writer, bool details)>;

class HealthEndpoints {
 public:
  // Validates `options` (InvalidArgument naming the bad path) and returns
  // endpoints reading `registry`, which is not owned and must outlive them
  // and every transport serving them.
  static absl::StatusOr<std::unique_ptr<HealthEndpoints>> Create(
      HealthRegistry* registry, EndpointsOptions options = {});

  HealthEndpoints(const HealthEndpoints&) = delete;
  HealthEndpoints& operator=(const HealthEndpoints&) = delete;

  // Answers one request. Never blocks on a check; never throws.
  HttpResponse Handle(const HttpRequest& request) const;
  // Answers from `snapshot`, which must be one of registry()'s snapshots.
  // The answer is a function of the snapshot, the request's method, path,
  // query, Accept header and details decision (see DetailsAllowed()), so a
  // transport may reuse it for equal requests while the snapshot is current.
  HttpResponse Handle(const HttpRequest& request,
                      const Snapshot& snapshot) const;

  // The /metrics body: vigil's families (README "/metrics") then every
  // collector's, in the order they were added.
  std::string RenderMetrics(bool details) const;

  // Adds a collector; returns an id for RemoveMetricsCollector.
  uint64_t AddMetricsCollector(MetricsCollector collector)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes a collector. A scrape already running may still call it once.
  void RemoveMetricsCollector(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  const EndpointsOptions& options() const { return options_; }
  HealthRegistry* registry() const { return registry_; }

 private:
  HealthEndpoints(HealthRegistry* registry, EndpointsOptions options);

  using Collectors = std::vector<std::pair<uint64_t, MetricsCollector>>;

  HealthRegistry* const registry_;
  const EndpointsOptions options_;

  mutable Mutex mu_;
  // Copy-on-write: a scrape takes the pointer and runs without the lock.
  std::shared_ptr<const Collectors> collectors_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_ENDPOINTS_H_
