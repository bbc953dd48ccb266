#include "health/checks/testing/ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace checks {
namespace testing {
namespace {

bool ToSockaddr(const std::string& host, int port, sockaddr_storage* ss,
                socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(*v4);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(*v6);
    return true;
  }
  return false;
}

// Binds a listening socket on host:0 with `backlog`; returns fd and port.
absl::StatusOr<std::pair<int, int>> Listen(const std::string& host,
                                           int backlog) {
  sockaddr_storage ss;
  socklen_t len;
  if (!ToSockaddr(host, 0, &ss, &len)) {
    return absl::InvalidArgumentError(absl::StrCat("bad host ", host));
  }
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      listen(fd, backlog) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("bind/listen on ", host, ": ", strerror(err)));
  }
  len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const int port = ss.ss_family == AF_INET
                       ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                       : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return std::make_pair(fd, port);
}

// Non-blocking connect; returns the fd if connected within `timeout_ms`,
// else -1.
int ConnectWithin(const std::string& host, int port, int timeout_ms) {
  sockaddr_storage ss;
  socklen_t len;
  if (!ToSockaddr(host, port, &ss, &len)) return -1;
  const int fd =
      socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) return fd;
  if (errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  pollfd p = {fd, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) {
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t elen = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

absl::StatusOr<int> PickFreePort(const std::string& host) {
  absl::StatusOr<std::pair<int, int>> l = Listen(host, 1);
  if (!l.ok()) return l.status();
  close(l->first);
  return l->second;
}

bool CanConnect(const std::string& host, int port, int timeout_ms) {
  const int fd = ConnectWithin(host, port, timeout_ms);
  if (fd < 0) return false;
  close(fd);
  return true;
}

absl::StatusOr<std::unique_ptr<TcpConnection>> TcpConnection::Open(
    const std::string& host, int port, int timeout_ms) {
  const int fd = ConnectWithin(host, port, timeout_ms);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", host, ":", port));
  }
  // Blocking from here on; reads are bounded with poll.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return std::unique_ptr<TcpConnection>(new TcpConnection(fd));
}

TcpConnection::~TcpConnection() { close(fd_); }

bool TcpConnection::Send(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n =
        send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string TcpConnection::ReadLine(int timeout_ms) {
  while (buf_.find("\r\n") == std::string::npos) {
    pollfd p = {fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) break;
    char chunk[1024];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    buf_.append(chunk, static_cast<size_t>(n));
  }
  const size_t end = buf_.find("\r\n");
  std::string line = buf_.substr(0, end);
  buf_.erase(0, end == std::string::npos ? buf_.size() : end + 2);
  return line;
}

absl::StatusOr<std::unique_ptr<SilentListener>> SilentListener::Start(
    const std::string& host) {
  absl::StatusOr<std::pair<int, int>> l = Listen(host, 64);
  if (!l.ok()) return l.status();
  return std::unique_ptr<SilentListener>(
      new SilentListener(l->first, l->second));
}

SilentListener::~SilentListener() { close(fd_); }

absl::StatusOr<std::unique_ptr<FullBacklogListener>> FullBacklogListener::Start(
    const std::string& host) {
  absl::StatusOr<std::pair<int, int>> l = Listen(host, 0);
  if (!l.ok()) return l.status();
  std::unique_ptr<FullBacklogListener> out(
      new FullBacklogListener(l->first, l->second));
  // Fill the accept queue until a connection attempt no longer completes.
  for (int i = 0; i < 16; ++i) {
    const int fd = ConnectWithin(host, out->port_, 300);
    if (fd < 0) return out;
    out->fillers_.push_back(fd);
  }
  return absl::UnavailableError(
      "could not fill the accept queue: connections keep succeeding");
}

FullBacklogListener::~FullBacklogListener() {
  for (int fd : fillers_) close(fd);
  close(fd_);
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
