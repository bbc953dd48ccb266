// Loopback ports and misbehaving listeners for tests.
//
//   int port = *PickFreePort();             // nothing listens: "refused"
//   auto silent = SilentListener::Start();  // accepts, never answers
//   auto full = FullBacklogListener::Start();  // connects time out

#ifndef VIGIL_HEALTH_CHECKS_TESTING_PORTS_H_
#define VIGIL_HEALTH_CHECKS_TESTING_PORTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil {
namespace checks {
namespace testing {

// A TCP port on `host` that was free a moment ago (bound to port 0, read
// back, closed). Another process could take it, so servers started on it
// should retry on "address in use".
absl::StatusOr<int> PickFreePort(const std::string& host = "127.0.0.1");

// True if a TCP connection to host:port succeeds within `timeout_ms`.
bool CanConnect(const std::string& host, int port, int timeout_ms = 1000);

// A client TCP connection held open by a test (e.g. to use up a server's
// connection limit). Closed on destruction.
class TcpConnection {
 public:
  static absl::StatusOr<std::unique_ptr<TcpConnection>> Open(
      const std::string& host, int port, int timeout_ms = 5000);
  ~TcpConnection();
  // Sends all of `data`.
  bool Send(const std::string& data);
  // Reads up to and including the next "\r\n" (returned without it), or
  // what arrived before EOF / `timeout_ms`.
  std::string ReadLine(int timeout_ms = 5000);

 private:
  explicit TcpConnection(int fd) : fd_(fd) {}
  int fd_;
  std::string buf_;
};

// A listening socket whose connections complete in the kernel but that never
// accepts, reads or writes: clients connect, send, and wait forever for an
// answer. No thread.
class SilentListener {
 public:
  static absl::StatusOr<std::unique_ptr<SilentListener>> Start(
      const std::string& host = "127.0.0.1");
  ~SilentListener();
  int port() const { return port_; }

 private:
  SilentListener(int fd, int port) : fd_(fd), port_(port) {}
  int fd_;
  int port_;
};

// A listening socket whose accept queue is full: new connection attempts get
// no SYN-ACK and time out (the kernel drops SYNs to a full queue). No thread.
class FullBacklogListener {
 public:
  static absl::StatusOr<std::unique_ptr<FullBacklogListener>> Start(
      const std::string& host = "127.0.0.1");
  ~FullBacklogListener();
  int port() const { return port_; }

 private:
  FullBacklogListener(int fd, int port) : fd_(fd), port_(port) {}
  int fd_;
  int port_;
  std::vector<int> fillers_;
};

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_PORTS_H_
