// Internal: a minimal HTTP/1.1 client for health checks: one request per
// connection (Connection: close), bounded by an IoDeadline, with a cap on the
// body kept. Understands Content-Length, chunked transfer coding and
// read-until-close bodies, and skips 1xx interim responses.

#ifndef VIGIL_HEALTH_CHECKS_INTERNAL_HTTP_CLIENT_H_
#define VIGIL_HEALTH_CHECKS_INTERNAL_HTTP_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/stream.h"

namespace vigil {
namespace checks {
namespace internal {

// A parsed http:// or https:// URL.
struct Url {
  bool https = false;
  std::string host;  // Without brackets.
  uint16_t port = 0;
  bool explicit_port = false;
  // Path and query ("/healthz?full=1"); "/" when the URL has none.
  std::string target;
  // Path only, without the query (queries may carry tokens).
  std::string path;

  // scheme://host[:port]/path, without the query string: safe for reports.
  std::string Display() const;
  // The Host header value.
  std::string HostHeader() const;
};

// Parses `text`; InvalidArgument naming `field` when it is not an absolute
// http(s) URL with a valid host, an optional valid port and no whitespace or
// control characters. URLs carrying credentials ("user:pass@host") are
// rejected (they would end up in reports); the error does not echo them.
absl::StatusOr<Url> ParseUrl(absl::string_view text, absl::string_view field);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status_code = 0;
  std::string reason;
  HeaderList headers;
  std::string body;
  // The body was longer than the cap; `body` holds its beginning.
  bool body_truncated = false;

  // First header named `name` (case-insensitive), if any.
  std::optional<std::string> Header(absl::string_view name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string host_header;
  std::string target = "/";
  HeaderList headers;
};

// Parses a response head: the status line ("HTTP/1.1 200 OK") and the
// header lines, without the blank line that ends them. Fills status_code,
// reason and headers (in order, values trimmed). Errors carry kProtocol.
// The one HTTP/1 response parser: HttpExchange uses it, and so do the HTTP
// layer's test helpers.
absl::StatusOr<HttpResponse> ParseResponseHead(absl::string_view head);

// Sends `request` on `stream` and reads the response, keeping at most
// `max_body` bytes of body. Errors carry kProtocol for a malformed response,
// kTimedOut, kReset.
absl::StatusOr<HttpResponse> HttpExchange(Stream& stream,
                                          const HttpRequest& request,
                                          size_t max_body,
                                          const IoDeadline& deadline);

// The outcome of HttpFetch: the peer's address ("" when no connection was
// made) and the response or the error.
struct HttpFetchResult {
  std::string address;
  absl::StatusOr<HttpResponse> response;
};

// One request to `url` on a fresh connection, all by `deadline`: resolves
// the host with `resolver` (addresses of `family`, an AF_* value), connects,
// performs the TLS handshake with `tls` for https:// URLs (`tls` must then
// be non-null; not owned), and HttpExchange()s `request`. Errors carry a
// FailureKind (Dial's, TlsStream::Handshake's, HttpExchange's). Used by
// HttpCheck and by the sidecar's deploy gate. Thread-safe if `resolver` is.
HttpFetchResult HttpFetch(Resolver& resolver, const Url& url,
                          const TlsContext* tls, int family,
                          const HttpRequest& request, size_t max_body,
                          const IoDeadline& deadline);

// True if `name` is a valid HTTP header name (RFC 7230 token) and `value`
// has no CR, LF or NUL.
bool ValidHeaderName(absl::string_view name);
bool ValidHeaderValue(absl::string_view value);

}  // namespace internal
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_INTERNAL_HTTP_CLIENT_H_
