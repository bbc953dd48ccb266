#include "health/testing/upstream.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace vigil {
namespace testing {

void Upstream::Open() {
  Close();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port_);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(fd_, 64) != 0) {
    ADD_FAILURE() << "upstream listen on port " << port_;
    return;
  }
  socklen_t len = sizeof(a);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  stop_.store(false);
  const int fd = fd_;
  // Until Close(): wakes every 50 ms to see whether to stop.
  thread_ = std::thread([this, fd] {
    while (!stop_.load()) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) {
        const int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) close(c);
      }
    }
  });
}

void Upstream::Close() {
  if (fd_ < 0) return;
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  close(fd_);
  fd_ = -1;
}

std::string Upstream::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

}  // namespace testing
}  // namespace vigil
