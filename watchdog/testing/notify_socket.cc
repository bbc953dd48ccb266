#include "watchdog/testing/notify_socket.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace testing {
namespace {

std::atomic<int> g_counter{0};

}  // namespace

NotifySocket::NotifySocket(Kind kind) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  socklen_t len;
  const int n = g_counter.fetch_add(1);
  if (kind == Kind::kAbstract) {
    // Concurrent sandboxed tests share the abstract namespace but may have
    // the same pid (each in its own pid namespace): add randomness.
    address_ = absl::StrCat("@vigil-test-notify-", getpid(), "-", n, "-",
                            std::random_device()());
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    addr.sun_path[0] = '\0';
    len = offsetof(sockaddr_un, sun_path) + address_.size();
  } else {
    const char* tmp = getenv("TEST_TMPDIR");
    path_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/notify-", n, ".sock");
    if (path_.size() >= sizeof(addr.sun_path)) {
      char dir[] = "/tmp/vigil-notify-XXXXXX";
      if (mkdtemp(dir) == nullptr) std::abort();
      path_ = absl::StrCat(dir, "/notify.sock");
    }
    address_ = path_;
    unlink(path_.c_str());
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    len = offsetof(sockaddr_un, sun_path) + path_.size() + 1;
  }
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    std::perror("NotifySocket bind");
    std::abort();
  }
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
}

NotifySocket::~NotifySocket() {
  if (fd_ >= 0) close(fd_);
  if (!path_.empty()) unlink(path_.c_str());
}

std::optional<std::string> NotifySocket::Receive(absl::Duration timeout) {
  std::optional<Datagram> d = ReceiveFrom(timeout);
  if (!d.has_value()) return std::nullopt;
  return d->text;
}

std::optional<NotifySocket::Datagram> NotifySocket::ReceiveFrom(
    absl::Duration timeout) {
  pollfd p{fd_, POLLIN, 0};
  const int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  if (poll(&p, 1, ms) <= 0) return std::nullopt;
  char buf[4096];
  iovec iov{buf, sizeof(buf)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  msghdr msg;
  std::memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  Datagram d;
  d.text.assign(buf, static_cast<size_t>(n));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      d.pid = cred.pid;
    }
  }
  return d;
}

std::vector<std::string> NotifySocket::Drain() {
  std::vector<std::string> out;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) break;
    out.emplace_back(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace testing
}  // namespace vigil
