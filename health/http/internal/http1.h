// A minimal, bounded HTTP/1.x request parser and response writer for the
// dedicated probe server. It parses one request at a time from the front of
// a buffer, so keep-alive and pipelining work, and it refuses anything over
// its limits with the right 4xx instead of buffering it.

#ifndef VIGIL_HEALTH_HTTP_INTERNAL_HTTP1_H_
#define VIGIL_HEALTH_HTTP_INTERNAL_HTTP1_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "health/http/endpoints.h"

namespace vigil {
namespace http {
namespace internal {

struct Http1Limits {
  // Longest request line (method, target, version); longer: 414.
  size_t max_request_line = 8192;
  // All header lines together, and how many; more: 431.
  size_t max_header_bytes = 16384;
  size_t max_headers = 100;
  // Largest body accepted, by Content-Length or as the sum of its chunks
  // (Transfer-Encoding: chunked); the body is read and ignored. More: 413.
  size_t max_body = 4096;
};

struct ParseResult {
  enum class State {
    kIncomplete,  // Need more bytes; nothing is consumed.
    kComplete,    // `request` is set; `consumed` bytes were used.
    kError,       // Answer `error_status` with `error_message` and close.
  };
  State state = State::kIncomplete;
  // kIncomplete only: the headers are complete, asked for
  // "Expect: 100-continue" and the body is still to come (and within the
  // limits): the server should answer "100 Continue" once, then read on.
  bool expect_continue = false;
  HttpRequest request;  // remote_address left empty
  bool keep_alive = false;
  size_t consumed = 0;
  int error_status = 0;
  std::string error_message;
};

// Parses the request at the front of `buffer`. Lenient where probes need it
// (LF-only line ends, no Host header, empty lines before the request line),
// strict where ambiguity could smuggle requests (obs-fold, conflicting
// Content-Length, Transfer-Encoding with Content-Length: 400). Chunked
// bodies are read and discarded within max_body; any other
// Transfer-Encoding is 501. An Expect other than 100-continue is 417.
ParseResult ParseRequest(absl::string_view buffer, const Http1Limits& limits);

// Decodes %XX escapes (and '+' as space when `plus_is_space`). False on a
// malformed escape or a decoded NUL.
bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out);

// "HTTP/1.1 100 Continue" and its empty line.
inline constexpr absl::string_view kContinueResponse =
    "HTTP/1.1 100 Continue\r\n\r\n";

// The bytes of a response. For `head`, the headers (with the body's
// Content-Length) and no body. `keep_alive` false adds Connection: close.
std::string SerializeResponse(const HttpResponse& response, bool head,
                              bool keep_alive);

}  // namespace internal
}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_INTERNAL_HTTP1_H_
