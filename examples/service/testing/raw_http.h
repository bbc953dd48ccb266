// RawHttpConnection: one HTTP/1.1 keep-alive connection to 127.0.0.1:port
// spoken over a plain socket, so a test sees exactly what a server sends and
// when it closes (cpp-httplib's client hides both).
//
//   RawHttpConnection c(port);
//   RawHttpConnection::Response r = c.Get("/");
//   EXPECT_TRUE(r.ok);
//   EXPECT_TRUE(r.closes());             // Connection: close
//   EXPECT_TRUE(c.ClosedByPeer(absl::Seconds(5)));
//
// Responses must be Content-Length framed, or delimited by the server's
// close (no Transfer-Encoding). Not thread-safe; test-only.

#ifndef VIGIL_EXAMPLES_SERVICE_TESTING_RAW_HTTP_H_
#define VIGIL_EXAMPLES_SERVICE_TESTING_RAW_HTTP_H_

#include <string>

#include "absl/time/time.h"

namespace vigil_example {
namespace testing {

class RawHttpConnection {
 public:
  struct Response {
    bool ok = false;        // a complete response was read
    size_t bytes_read = 0;  // of this response, even when !ok
    int status = 0;
    std::string head;  // status line and headers
    std::string body;
    std::string error;  // why !ok

    // The value of header `name` (case-insensitive), or "".
    std::string Header(const std::string& name) const;
    // The server closes the connection after this response.
    bool closes() const;
  };

  // Connects (blocking, loopback). connected() says whether it worked.
  explicit RawHttpConnection(int port,
                             absl::Duration timeout = absl::Seconds(10));
  ~RawHttpConnection();
  RawHttpConnection(const RawHttpConnection&) = delete;
  RawHttpConnection& operator=(const RawHttpConnection&) = delete;

  bool connected() const { return connected_; }
  // Responses read completely on this connection.
  int responses() const { return responses_; }

  // Sends GET `path`. False if the send failed.
  bool Send(const std::string& path);
  // Reads one response, each wait bounded by the timeout.
  Response Read();
  Response Get(const std::string& path);
  // True once the server closed the connection (EOF) within `timeout`.
  bool ClosedByPeer(absl::Duration timeout);

 private:
  // Reads more into data_; false on EOF, error or timeout (`why` says).
  bool Fill(std::string* why);

  int fd_ = -1;
  bool connected_ = false;
  int responses_ = 0;
  const absl::Duration timeout_;
  std::string data_;
};

}  // namespace testing
}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_TESTING_RAW_HTTP_H_
