#include "examples/service/testing/raw_http.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vigil_example {
namespace testing {

std::string RawHttpConnection::Response::Header(const std::string& name) const {
  bool first = true;
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    if (first) {  // the status line
      first = false;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "";
}

bool RawHttpConnection::Response::closes() const {
  return absl::EqualsIgnoreCase(Header("Connection"), "close") ||
         absl::StartsWith(head, "HTTP/1.0");
}

RawHttpConnection::RawHttpConnection(int port, absl::Duration timeout)
    : timeout_(timeout) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
}

RawHttpConnection::~RawHttpConnection() { close(fd_); }

bool RawHttpConnection::Send(const std::string& path) {
  const std::string req =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  return send(fd_, req.data(), req.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(req.size());
}

bool RawHttpConnection::Fill(std::string* why) {
  pollfd p{fd_, POLLIN, 0};
  const int r =
      poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout_)));
  if (r <= 0) {
    *why = r == 0 ? "timed out" : absl::StrCat("poll: ", std::strerror(errno));
    return false;
  }
  char buf[16384];
  const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) {
    *why = n == 0 ? "closed by peer"
                  : absl::StrCat("recv: ", std::strerror(errno));
    return false;
  }
  data_.append(buf, static_cast<size_t>(n));
  return true;
}

RawHttpConnection::Response RawHttpConnection::Read() {
  Response r;
  const size_t had = data_.size();
  size_t end;
  while ((end = data_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(&r.error)) {
      r.bytes_read = data_.size() - had;
      return r;
    }
  }
  r.head = data_.substr(0, end);
  std::vector<absl::string_view> status_line = absl::StrSplit(
      absl::string_view(r.head).substr(0, r.head.find("\r\n")), ' ');
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) {
    r.error = "bad status line";
    return r;
  }
  if (!r.Header("Transfer-Encoding").empty()) {
    r.error = "Transfer-Encoding is not supported";
    return r;
  }
  const std::string length_header = r.Header("Content-Length");
  size_t length = 0;
  const bool framed = !length_header.empty();
  if (framed && !absl::SimpleAtoi(length_header, &length)) {
    r.error = "bad Content-Length";
    return r;
  }
  std::string why;
  while (!framed || data_.size() < end + 4 + length) {
    if (!Fill(&why)) {
      if (!framed && why == "closed by peer") break;  // close-delimited
      r.error = why;
      r.bytes_read = data_.size() - had;
      return r;
    }
  }
  if (!framed) length = data_.size() - end - 4;
  r.body = data_.substr(end + 4, length);
  data_.erase(0, end + 4 + length);
  r.bytes_read = end + 4 + length;
  r.ok = true;
  ++responses_;
  return r;
}

RawHttpConnection::Response RawHttpConnection::Get(const std::string& path) {
  if (!Send(path)) {
    Response r;
    r.error = absl::StrCat("send: ", std::strerror(errno));
    return r;
  }
  return Read();
}

bool RawHttpConnection::ClosedByPeer(absl::Duration timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) {
    return false;
  }
  char c;
  return recv(fd_, &c, 1, MSG_PEEK) == 0;
}

}  // namespace testing
}  // namespace vigil_example
