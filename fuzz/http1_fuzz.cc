// Fuzzes the probe server's HTTP/1 request parser (health/http/internal/
// http1.h) and its response writer.
//
// Properties: the parser never reads past the buffer or consumes more than
// it was given; an error is a 4xx/5xx; a complete request does not depend on
// the bytes after it (pipelining); percent-decoding never grows its input;
// a response built from parsed (hostile) fields has exactly one header end,
// so no request can split the response.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "health/http/internal/http1.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

void CheckResponse(const ParseResult& r) {
  HttpResponse response;
  response.status =
      r.state == ParseResult::State::kError ? r.error_status : 200;
  response.content_type = r.request.path;
  response.headers = r.request.headers;
  for (const auto& [k, v] : r.request.query) response.headers.push_back({k, v});
  response.body = r.request.method;
  const std::string out =
      SerializeResponse(response, /*head=*/false, r.keep_alive);
  const size_t end = out.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string::npos);
  // The first header end is the only one: it is followed by the body.
  FUZZ_CHECK(end + 4 + response.body.size() == out.size());
}

}  // namespace
}  // namespace internal
}  // namespace http
}  // namespace vigil

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vigil::http::internal::ParseRequest;
  using State = vigil::http::internal::ParseResult::State;
  const absl::string_view buf(reinterpret_cast<const char*>(data), size);

  // Small limits too, so every limit's edge is reachable by short inputs.
  vigil::http::internal::Http1Limits small;
  small.max_request_line = 64;
  small.max_header_bytes = 128;
  small.max_headers = 4;
  small.max_body = 16;
  for (const auto& limits : {vigil::http::internal::Http1Limits(), small}) {
    const auto r = ParseRequest(buf, limits);
    FUZZ_CHECK(r.consumed <= size);
    switch (r.state) {
      case State::kIncomplete:
        FUZZ_CHECK(r.consumed == 0);
        break;
      case State::kError:
        FUZZ_CHECK(r.error_status >= 400 && r.error_status <= 599);
        FUZZ_CHECK(!r.error_message.empty());
        break;
      case State::kComplete: {
        FUZZ_CHECK(r.consumed > 0);
        FUZZ_CHECK(!r.request.method.empty());
        // The next pipelined request's bytes change nothing.
        const std::string more = std::string(buf) + "GET / HTTP/1.1\r\n";
        const auto again = ParseRequest(more, limits);
        FUZZ_CHECK(again.state == State::kComplete);
        FUZZ_CHECK(again.consumed == r.consumed);
        FUZZ_CHECK(again.request.path == r.request.path);
        break;
      }
    }
    vigil::http::internal::CheckResponse(r);
  }

  std::string decoded;
  for (const bool plus : {false, true}) {
    if (vigil::http::internal::PercentDecode(buf, plus, &decoded)) {
      FUZZ_CHECK(decoded.size() <= size);
      FUZZ_CHECK(decoded.find('\0') == std::string::npos ||
                 buf.find('\0') != absl::string_view::npos);
    }
  }
  return 0;
}
