// A real AF_UNIX datagram socket standing in for systemd's notify socket.
//
//   vigil::testing::NotifySocket systemd;            // bound, path or @name
//   setenv("NOTIFY_SOCKET", systemd.address().c_str(), 1);
//   ...
//   std::optional<std::string> msg = systemd.Receive(absl::Seconds(10));

#ifndef VIGIL_WATCHDOG_TESTING_NOTIFY_SOCKET_H_
#define VIGIL_WATCHDOG_TESTING_NOTIFY_SOCKET_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace vigil {
namespace testing {

class NotifySocket {
 public:
  enum class Kind { kPath, kAbstract };
  // Binds a fresh socket: a file under $TEST_TMPDIR (or /tmp if that path
  // would be too long for sun_path), or a unique abstract name. Aborts the
  // test binary if it cannot bind (nothing sensible to test then).
  explicit NotifySocket(Kind kind = Kind::kPath);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // What to put in NOTIFY_SOCKET: "/path/notify.sock" or "@name".
  const std::string& address() const { return address_; }

  struct Datagram {
    std::string text;
    // The sender's pid, from SCM_CREDENTIALS (the socket sets SO_PASSCRED).
    pid_t pid = 0;
  };

  // The next datagram's text, waiting up to `timeout`; nullopt if none came.
  std::optional<std::string> Receive(absl::Duration timeout);
  // The next datagram with its sender, waiting up to `timeout`.
  std::optional<Datagram> ReceiveFrom(absl::Duration timeout);
  // The texts of every datagram already queued, without waiting.
  std::vector<std::string> Drain();

 private:
  int fd_ = -1;
  std::string address_;
  std::string path_;  // Unlinked on destruction; empty when abstract.
};

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_TESTING_NOTIFY_SOCKET_H_
