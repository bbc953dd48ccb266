// Test helpers for vigil's HTTP layer: raw loopback connections (for
// malformed and slow clients) and response parsing. Test-only. (Bounded
// waiting: health/testing/wait_for.h.)

#ifndef VIGIL_HEALTH_HTTP_TESTING_HTTP_TEST_UTIL_H_
#define VIGIL_HEALTH_HTTP_TESTING_HTTP_TEST_UTIL_H_

#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {
namespace testing {

// A parsed HTTP/1.x response.
struct RawResponse {
  int status = 0;
  // Header names lower-cased; the last value wins.
  std::map<std::string, std::string> headers;
  std::string body;
};

// Parses one response from the front of `bytes` (Content-Length bodies, or
// everything after the head when there is no Content-Length). nullopt if
// incomplete or malformed.
std::optional<RawResponse> ParseResponse(absl::string_view bytes,
                                         bool head_request = false);

// A blocking TCP client connection to a loopback port, for tests that send
// malformed bytes, hold connections idle, or close half-way.
class RawConnection {
 public:
  // Connects to 127.0.0.1:port (bounded by 5 s). Check ok().
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends all of `bytes`; false on error.
  bool Send(absl::string_view bytes);
  // Half-closes the write side (a client that sent everything).
  void ShutdownWrite();

  // Reads until one complete response is buffered, EOF, or `timeout`.
  std::optional<RawResponse> ReadResponse(
      absl::Duration timeout = absl::Seconds(5), bool head_request = false);
  // Reads until EOF or `timeout`; returns everything read. `eof` says
  // whether the peer closed.
  std::string ReadUntilClosed(absl::Duration timeout, bool* eof);

 private:
  int fd_ = -1;
  std::string buffered_;
};

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_TESTING_HTTP_TEST_UTIL_H_
