// Upstream: a loopback TCP listener owned by a test, standing for a
// service's dependency. A thread accepts and closes connections (so a
// connect check passes however often it runs); Close() makes connections
// refused, Open() listens again on the same port.
//
//   vigil::testing::Upstream upstream;
//   auto service = StartService({"--upstream=" + upstream.address()});
//   upstream.Close();  // the dependency goes away: readiness fails
//
// Not thread-safe: Open() and Close() from one thread. Part of
// //health:toolkit.

#ifndef VIGIL_HEALTH_TESTING_UPSTREAM_H_
#define VIGIL_HEALTH_TESTING_UPSTREAM_H_

#include <atomic>
#include <string>
#include <thread>

namespace vigil {
namespace testing {

class Upstream {
 public:
  // Listens on a free loopback port (Open()).
  Upstream() { Open(); }
  ~Upstream() { Close(); }
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // Listens (again, on the same port once one was chosen). A gtest failure
  // if it cannot.
  void Open();
  // Stops listening: connections to port() are refused. Idempotent.
  void Close();

  int port() const { return port_; }
  // "127.0.0.1:<port>".
  std::string address() const;

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_HEALTH_TESTING_UPSTREAM_H_
