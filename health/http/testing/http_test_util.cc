#include "health/http/testing/http_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "health/checks/internal/http_client.h"

namespace vigil {
namespace testing {

std::optional<RawResponse> ParseResponse(absl::string_view bytes,
                                         bool head_request) {
  const size_t end = bytes.find("\r\n\r\n");
  if (end == absl::string_view::npos) return std::nullopt;
  // The head is parsed by the library's HTTP client parser.
  absl::StatusOr<checks::internal::HttpResponse> head =
      checks::internal::ParseResponseHead(bytes.substr(0, end));
  if (!head.ok()) return std::nullopt;
  RawResponse r;
  r.status = head->status_code;
  for (auto& [name, value] : head->headers) {
    r.headers[absl::AsciiStrToLower(name)] = std::move(value);
  }
  absl::string_view rest = bytes.substr(end + 4);
  auto cl = r.headers.find("content-length");
  if (head_request || r.status == 204) return r;
  if (cl == r.headers.end()) {
    r.body = std::string(rest);
    return r;
  }
  size_t length;
  if (!absl::SimpleAtoi(cl->second, &length) || rest.size() < length) {
    return std::nullopt;
  }
  r.body = std::string(rest.substr(0, length));
  return r;
}

RawConnection::RawConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(other.fd_), buffered_(std::move(other.buffered_)) {
  other.fd_ = -1;
}

bool RawConnection::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void RawConnection::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

// Reads once with a deadline: >0 bytes, 0 EOF, -1 error or timeout.
static ssize_t ReadOnce(int fd, std::string* out, absl::Time deadline) {
  const int ms = static_cast<int>(
      std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) {
    errno = ETIMEDOUT;
    return -1;
  }
  char buf[65536];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  if (n > 0) out->append(buf, static_cast<size_t>(n));
  return n;
}

std::optional<RawResponse> RawConnection::ReadResponse(absl::Duration timeout,
                                                       bool head_request) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::optional<RawResponse> r = ParseResponse(buffered_, head_request);
    const bool has_length = r && (head_request || r->status == 204 ||
                                  r->headers.count("content-length") > 0);
    if (r && has_length) {
      // Drop the consumed bytes.
      const size_t head_end = buffered_.find("\r\n\r\n") + 4;
      buffered_.erase(0, head_end + r->body.size());
      return r;
    }
    const ssize_t n = ReadOnce(fd_, &buffered_, deadline);
    if (n == 0) return ParseResponse(buffered_, head_request);
    if (n < 0) return std::nullopt;
  }
}

std::string RawConnection::ReadUntilClosed(absl::Duration timeout, bool* eof) {
  const absl::Time deadline = absl::Now() + timeout;
  *eof = false;
  while (true) {
    const ssize_t n = ReadOnce(fd_, &buffered_, deadline);
    if (n == 0) {
      *eof = true;
      break;
    }
    if (n < 0) {
      // A reset counts as closed.
      if (errno == ECONNRESET) *eof = true;
      break;
    }
  }
  std::string out = std::move(buffered_);
  buffered_.clear();
  return out;
}

}  // namespace testing
}  // namespace vigil
