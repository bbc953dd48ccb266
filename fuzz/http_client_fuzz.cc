// Fuzzes the health checks' HTTP/1.1 response parser (health/checks/
// internal/http_client.h): status line, headers, Content-Length, chunked
// and read-until-close bodies, 1xx interim responses, the body cap. The
// input is what the server sends, delivered in reads of varying size.
//
// Properties: a parsed response has a status in 100..999, 1xx only 101; the
// body kept is at most the cap, and a body is marked truncated only when
// the server sent more than the cap; each header is one line's name (before
// its first ':') and trimmed value; the request written is well formed.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "health/checks/internal/http_client.h"
#include "health/clock.h"

namespace {

namespace ci = vigil::checks::internal;

// Serves `input` in reads whose sizes cycle through its first byte's bits;
// end of stream after it.
class ReplayStream : public ci::Stream {
 public:
  explicit ReplayStream(absl::string_view input) : input_(input) {}

  absl::Status WriteAll(absl::string_view data,
                        const ci::IoDeadline&) override {
    written_.append(data.data(), data.size());
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadSome(char* buf, size_t n,
                                  const ci::IoDeadline&) override {
    const size_t step = 1 + (reads_++ * 7 + pattern_) % 64;
    const size_t len = std::min({n, step, input_.size()});
    std::copy_n(input_.data(), len, buf);
    input_.remove_prefix(len);
    return len;
  }

  void set_pattern(size_t p) { pattern_ = p; }
  const std::string& written() const { return written_; }

 private:
  absl::string_view input_;
  std::string written_;
  size_t reads_ = 0;
  size_t pattern_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t cap = 1 + data[0] % 128;
  const absl::string_view input(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  ReplayStream stream(input);
  stream.set_pattern(data[0] >> 4);
  ci::HttpRequest request;
  request.host_header = "127.0.0.1:8080";
  request.target = "/healthz";
  request.headers = {{"Accept", "application/json"}};
  const ci::IoDeadline deadline(vigil::Clock::Real(), absl::InfiniteFuture());
  absl::StatusOr<ci::HttpResponse> r =
      ci::HttpExchange(stream, request, cap, deadline);

  FUZZ_CHECK(absl::StartsWith(stream.written(), "GET /healthz HTTP/1.1\r\n"));
  FUZZ_CHECK(absl::EndsWith(stream.written(), "\r\n\r\n"));
  if (!r.ok()) return 0;
  FUZZ_CHECK(r->status_code >= 100 && r->status_code <= 999);
  // Interim answers are skipped; 101 (Switching Protocols) is final.
  FUZZ_CHECK(r->status_code >= 200 || r->status_code == 101);
  FUZZ_CHECK(r->body.size() <= cap);
  if (r->body_truncated) FUZZ_CHECK(r->body.size() == cap);
  FUZZ_CHECK(r->body.size() <= input.size());
  // The parser is lenient (a check must not fail over a header it does not
  // read): any name before the first ':' of a CRLF-separated line.
  for (const auto& [name, value] : r->headers) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(name.find(':') == std::string::npos);
    FUZZ_CHECK(!absl::StrContains(name, "\r\n"));
    FUZZ_CHECK(!absl::StrContains(value, "\r\n"));
    FUZZ_CHECK(value == absl::StripAsciiWhitespace(value));
  }
  return 0;
}
