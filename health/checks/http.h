// HttpCheck: does an HTTP(S) endpoint answer as expected, in time?
//
// Sends one GET (or HEAD) request over a fresh connection (Connection:
// close) and checks the answer:
//   - the status code is within [min_status, max_status] (default 200-399,
//     Kubernetes' httpGet rule; redirects are not followed);
//   - optionally, the body contains `expected_body`;
//   - optionally, a response header `expected_header` is present (and
//     contains `expected_header_value`).
// For https:// URLs the server's chain and name are verified by default
// (against `ca_file`, or the system's trust store), with SNI.
//
// Results:
//   HEALTHY   "HTTP 200 in 3.2ms"
//   UNHEALTHY "HTTP 503 (expected 200-399)", "body does not contain ...",
//             "no response header X-Ready", "connection refused (...)",
//             "timed out after 900ms waiting for a reply",
//             "TLS certificate verification failed: certificate has expired"
// details: "url" (without the query string), "address", "status_code",
// "latency_ms", "body_bytes", and "reason" on failure (refused,
// unreachable, timed_out, resolve, tls_verify, tls_handshake, protocol,
// status, body, header). The observed value is the latency in seconds.
//
// Secrets: request header values (e.g. Authorization) are never reported,
// and are scrubbed from any message; URLs with "user:password@" are
// rejected; the query string is left out of names and details.
//
//   absl::StatusOr<vigil::Check> c = vigil::checks::HttpCheck({
//       .url = "https://api.internal/healthz",
//       .expected_body = "ok",
//       .ca_file = "/etc/ssl/internal-ca.pem"});
//
// Thread safety: like every Check, copies may run concurrently; one copy is
// run by one registry worker at a time.

#ifndef VIGIL_HEALTH_CHECKS_HTTP_H_
#define VIGIL_HEALTH_CHECKS_HTTP_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

enum class HttpMethod { kGet, kHead };

struct HttpCheckOptions {
  // Required. "http://host[:port]/path?query" or "https://...". IPv6 hosts
  // in brackets.
  std::string url = {};
  // The check's name; default "<scheme>://<host>[:port]<path>".
  std::string name = {};
  HttpMethod method = HttpMethod::kGet;
  // Accepted status codes, inclusive. 100 <= min_status <= max_status <= 999.
  int min_status = 200;
  int max_status = 399;
  // If non-empty, the (first `max_body_bytes` of the) body must contain it.
  // GET only.
  std::string expected_body = {};
  // If non-empty, the response must carry this header; if
  // `expected_header_value` is non-empty too, the header's value must
  // contain it.
  std::string expected_header = {};
  std::string expected_header_value = {};
  // Headers sent with the request, e.g. {"Authorization", "Bearer ..."}.
  // Their values are treated as secrets.
  std::vector<std::pair<std::string, std::string>> request_headers = {};
  // https only: verify the chain and the host name (default). Turning it off
  // accepts any certificate.
  bool verify_tls = true;
  // https only: PEM file of trusted CAs; empty = the system's store. Must be
  // loadable at construction.
  std::string ca_file = {};
  // How much of the body is read and searched. >= 1.
  size_t max_body_bytes = 1 << 20;
  AddressFamily family = AddressFamily::kAny;
  CheckOptions check = DependencyCheckOptions();
  // Time source for deadlines and latency. Not owned; nullptr = real.
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming the field: "url" (malformed,
// credentials), "min_status"/"max_status", "expected_body" (with HEAD),
// "expected_header", "request_headers" (bad name or value), "ca_file"
// (unreadable or not PEM), "max_body_bytes", or a CheckOptions field.
absl::StatusOr<Check> HttpCheck(HttpCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_HTTP_H_
