#include "health/checks/internal/http_client.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil {
namespace checks {
namespace internal {
namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kReadChunk = 16 * 1024;

absl::Status Protocol(absl::string_view what) {
  return WithKind(
      absl::UnavailableError(absl::StrCat("malformed HTTP response: ", what)),
      FailureKind::kProtocol);
}

// Buffered reads from a Stream.
class Reader {
 public:
  Reader(Stream& stream, const IoDeadline& deadline)
      : stream_(stream), deadline_(deadline) {}

  // Appends what the stream has (at least one byte unless at EOF).
  absl::Status Fill() {
    char chunk[kReadChunk];
    absl::StatusOr<size_t> n =
        stream_.ReadSome(chunk, sizeof(chunk), deadline_);
    if (!n.ok()) return n.status();
    if (*n == 0) {
      eof_ = true;
    } else {
      buf_.append(chunk, *n);
    }
    return absl::OkStatus();
  }

  // Ensures at least `n` unread bytes, unless EOF comes first.
  absl::Status Need(size_t n) {
    while (available() < n && !eof_) {
      if (absl::Status s = Fill(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Reads through the next "\r\n\r\n"; returns the head without it.
  absl::StatusOr<std::string> ReadHead() {
    while (true) {
      const size_t end = buf_.find("\r\n\r\n", pos_);
      if (end != std::string::npos) {
        std::string head = buf_.substr(pos_, end - pos_);
        pos_ = end + 4;
        return head;
      }
      if (available() > kMaxHead) return Protocol("headers longer than 64 KiB");
      if (eof_) {
        if (available() == 0) {
          return WithKind(
              absl::UnavailableError("connection closed before any response"),
              FailureKind::kReset);
        }
        return Protocol("connection closed in the middle of the headers");
      }
      if (absl::Status s = Fill(); !s.ok()) return s;
    }
  }

  // Reads one CRLF-terminated line (at most `max` bytes).
  absl::StatusOr<std::string> ReadLine(size_t max) {
    while (true) {
      const size_t end = buf_.find("\r\n", pos_);
      if (end != std::string::npos) {
        std::string line = buf_.substr(pos_, end - pos_);
        pos_ = end + 2;
        return line;
      }
      if (available() > max) return Protocol("line too long in chunked body");
      if (eof_) return Protocol("connection closed in a chunked body");
      if (absl::Status s = Fill(); !s.ok()) return s;
    }
  }

  // Moves up to `n` unread bytes to `out` (or drops them when `out` is
  // null). Returns how many.
  size_t Take(size_t n, std::string* out) {
    const size_t k = std::min(n, available());
    if (out != nullptr) out->append(buf_, pos_, k);
    pos_ += k;
    Compact();
    return k;
  }

  size_t available() const { return buf_.size() - pos_; }
  bool eof() const { return eof_; }

 private:
  void Compact() {
    if (pos_ > kReadChunk) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
  }

  Stream& stream_;
  const IoDeadline& deadline_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
};

// Appends up to `n` body bytes to `resp`, respecting `max_body`; reads until
// `n` bytes were consumed or EOF (when `until_eof`).
absl::Status ReadBody(Reader& r, size_t n, bool until_eof, size_t max_body,
                      HttpResponse* resp) {
  size_t left = n;
  while (until_eof || left > 0) {
    if (r.available() == 0) {
      if (r.eof()) break;
      if (absl::Status s = r.Fill(); !s.ok()) return s;
      continue;
    }
    const size_t room = max_body - std::min(max_body, resp->body.size());
    size_t want = until_eof ? r.available() : std::min(left, r.available());
    if (want > room) {
      r.Take(room, &resp->body);
      resp->body_truncated = true;
      return absl::OkStatus();  // Enough: the caller closes the connection.
    }
    const size_t got = r.Take(want, &resp->body);
    if (!until_eof) left -= got;
  }
  if (!until_eof && left > 0) {
    return Protocol(
        absl::StrCat("body ended ", left, " bytes short of Content-Length"));
  }
  return absl::OkStatus();
}

absl::Status ReadChunked(Reader& r, size_t max_body, HttpResponse* resp) {
  while (true) {
    absl::StatusOr<std::string> line = r.ReadLine(4096);
    if (!line.ok()) return line.status();
    absl::string_view size_text = *line;
    const size_t semi = size_text.find(';');
    if (semi != absl::string_view::npos) size_text = size_text.substr(0, semi);
    size_text = absl::StripAsciiWhitespace(size_text);
    uint64_t size = 0;
    if (size_text.empty() || size_text.size() > 15 ||
        !absl::SimpleHexAtoi(size_text, &size)) {
      return Protocol("bad chunk size");
    }
    if (size == 0) return absl::OkStatus();  // Trailers are ignored.
    if (absl::Status s = ReadBody(r, size, false, max_body, resp); !s.ok()) {
      return s;
    }
    if (resp->body_truncated) return absl::OkStatus();
    if (absl::Status s = r.Need(2); !s.ok()) return s;
    std::string crlf;
    if (r.Take(2, &crlf) != 2 || crlf != "\r\n") {
      return Protocol("chunk not followed by CRLF");
    }
  }
}

bool IsTChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

}  // namespace

bool ValidHeaderName(absl::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), IsTChar);
}

bool ValidHeaderValue(absl::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    return c == '\r' || c == '\n' || c == '\0';
  });
}

std::string Url::Display() const {
  return absl::StrCat(https ? "https://" : "http://",
                      explicit_port ? FormatHostPort(host, port)
                      : host.find(':') != std::string::npos
                          ? absl::StrCat("[", host, "]")
                          : host,
                      path);
}

std::string Url::HostHeader() const {
  const bool default_port = (https && port == 443) || (!https && port == 80);
  if (default_port) {
    return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]")
                                               : host;
  }
  return FormatHostPort(host, port);
}

absl::StatusOr<Url> ParseUrl(absl::string_view text, absl::string_view field) {
  Url url;
  absl::string_view rest = text;
  const std::string lower = absl::AsciiStrToLower(text.substr(0, 8));
  if (absl::StartsWith(lower, "https://")) {
    url.https = true;
    rest.remove_prefix(8);
  } else if (absl::StartsWith(lower, "http://")) {
    rest.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": \"", text, "\": must start with http:// or https://"));
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": must not contain spaces or control characters"));
    }
  }
  const size_t auth_end = rest.find_first_of("/?#");
  absl::string_view authority = rest.substr(0, auth_end);
  absl::string_view after =
      auth_end == absl::string_view::npos ? "" : rest.substr(auth_end);
  if (authority.find('@') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        field,
        ": credentials in the URL are not supported (they would appear in "
        "reports); send an Authorization header instead"));
  }
  if (authority.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", text, "\": missing host"));
  }
  absl::string_view host = authority;
  absl::string_view port_text;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", text, "\": missing ']' after IPv6 address"));
    }
    host = authority.substr(1, close - 1);
    if (!IsIpv6Literal(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", text, "\": not a valid IPv6 address in brackets"));
    }
    absl::string_view tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail[0] != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": \"", text, "\": unexpected text after ']'"));
      }
      port_text = tail.substr(1);
      url.explicit_port = true;
    }
  } else {
    const size_t colon = authority.find(':');
    if (colon != absl::string_view::npos) {
      host = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
      url.explicit_port = true;
    }
    if (absl::Status s = ValidateHost(host, field); !s.ok()) return s;
  }
  url.host = std::string(host);
  if (url.explicit_port) {
    absl::StatusOr<uint16_t> port = ParsePort(port_text, field);
    if (!port.ok()) return port.status();
    url.port = *port;
  } else {
    url.port = url.https ? 443 : 80;
  }
  const size_t hash = after.find('#');
  if (hash != absl::string_view::npos) after = after.substr(0, hash);
  if (after.empty() || after[0] == '?') {
    url.target = absl::StrCat("/", after);
  } else {
    url.target = std::string(after);
  }
  url.path = url.target.substr(0, url.target.find('?'));
  return url;
}

std::optional<std::string> HttpResponse::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

absl::StatusOr<HttpResponse> ParseResponseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  absl::string_view status_line = lines[0];
  // "HTTP/1.1 200 OK"
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      status_line[8] != ' ') {
    return Protocol("not an HTTP/1.x status line");
  }
  int code = 0;
  if (!absl::SimpleAtoi(status_line.substr(9, 3), &code) || code < 100 ||
      code > 999) {
    return Protocol("bad status code");
  }
  HttpResponse resp;
  resp.status_code = code;
  if (status_line.size() > 13) {
    resp.reason = std::string(status_line.substr(13));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Protocol("bad header line");
    }
    resp.headers.emplace_back(
        std::string(lines[i].substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  return resp;
}

absl::StatusOr<HttpResponse> HttpExchange(Stream& stream,
                                          const HttpRequest& request,
                                          size_t max_body,
                                          const IoDeadline& deadline) {
  std::string out =
      absl::StrCat(request.method, " ", request.target,
                   " HTTP/1.1\r\nHost: ", request.host_header, "\r\n");
  bool has_ua = false;
  bool has_accept = false;
  for (const auto& [k, v] : request.headers) {
    has_ua = has_ua || absl::EqualsIgnoreCase(k, "User-Agent");
    has_accept = has_accept || absl::EqualsIgnoreCase(k, "Accept");
    absl::StrAppend(&out, k, ": ", v, "\r\n");
  }
  if (!has_ua) out += "User-Agent: vigil-health-check\r\n";
  if (!has_accept) out += "Accept: */*\r\n";
  out += "Connection: close\r\n\r\n";
  if (absl::Status s = stream.WriteAll(out, deadline); !s.ok()) return s;

  Reader reader(stream, deadline);
  HttpResponse resp;
  while (true) {
    absl::StatusOr<std::string> head = reader.ReadHead();
    if (!head.ok()) return head.status();
    absl::StatusOr<HttpResponse> parsed = ParseResponseHead(*head);
    if (!parsed.ok()) return parsed.status();
    resp = *std::move(parsed);
    const int code = resp.status_code;
    if (code >= 100 && code < 200 && code != 101) continue;  // Interim.
    break;
  }

  const int code = resp.status_code;
  if (request.method == "HEAD" || code == 204 || code == 304 ||
      (code >= 100 && code < 200)) {
    return resp;
  }
  const std::optional<std::string> te = resp.Header("Transfer-Encoding");
  if (te.has_value() &&
      absl::StrContains(absl::AsciiStrToLower(*te), "chunked")) {
    if (absl::Status s = ReadChunked(reader, max_body, &resp); !s.ok()) {
      return s;
    }
    return resp;
  }
  const std::optional<std::string> cl = resp.Header("Content-Length");
  if (cl.has_value()) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(*cl, &n)) return Protocol("bad Content-Length");
    if (absl::Status s = ReadBody(reader, n, false, max_body, &resp); !s.ok()) {
      return s;
    }
    return resp;
  }
  if (absl::Status s = ReadBody(reader, 0, true, max_body, &resp); !s.ok()) {
    return s;
  }
  return resp;
}

HttpFetchResult HttpFetch(Resolver& resolver, const Url& url,
                          const TlsContext* tls, int family,
                          const HttpRequest& request, size_t max_body,
                          const IoDeadline& deadline) {
  HttpFetchResult result;
  absl::StatusOr<Connected> c =
      Dial(resolver, url.host, url.port, family, deadline);
  if (!c.ok()) {
    result.response = c.status();
    return result;
  }
  result.address = c->address.ToString();
  std::unique_ptr<Stream> stream;
  if (url.https) {
    absl::StatusOr<std::unique_ptr<TlsStream>> s =
        TlsStream::Handshake(std::move(c->fd), *tls, url.host, deadline);
    if (!s.ok()) {
      result.response = s.status();
      return result;
    }
    stream = *std::move(s);
  } else {
    stream = std::make_unique<PlainStream>(std::move(c->fd));
  }
  result.response = HttpExchange(*stream, request, max_body, deadline);
  return result;
}

}  // namespace internal
}  // namespace checks
}  // namespace vigil
