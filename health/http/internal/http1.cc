#include "health/http/internal/http1.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

using State = ParseResult::State;

ParseResult Error(int status, std::string message) {
  ParseResult r;
  r.state = State::kError;
  r.error_status = status;
  r.error_message = std::move(message);
  return r;
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// The line starting at `pos` without its "\n" or "\r\n", and where the next
// line starts; false if no '\n' yet.
bool NextLine(absl::string_view buf, size_t pos, absl::string_view* line,
              size_t* next) {
  const size_t nl = buf.find('\n', pos);
  if (nl == absl::string_view::npos) return false;
  *line = absl::StripSuffix(buf.substr(pos, nl - pos), "\r");
  *next = nl + 1;
  return true;
}

// Fills method, path and query from a request line; 0 or an error status.
int ParseRequestLine(absl::string_view line, HttpRequest* req, int* minor,
                     std::string* error) {
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || !IsToken(parts[0]) || parts[1].empty()) {
    *error = "malformed request line";
    return 400;
  }
  const absl::string_view version = parts[2];
  if (version == "HTTP/1.1") {
    *minor = 1;
  } else if (version == "HTTP/1.0") {
    *minor = 0;
  } else if (version.size() == 8 && absl::StartsWith(version, "HTTP/") &&
             absl::ascii_isdigit(version[5]) && version[6] == '.' &&
             absl::ascii_isdigit(version[7])) {
    *error = "HTTP version not supported";
    return 505;
  } else {
    *error = "malformed request line";
    return 400;
  }
  req->method = std::string(parts[0]);
  absl::string_view target = parts[1];
  // absolute-form: http://host:port/path?query
  if (absl::StartsWithIgnoreCase(target, "http://") ||
      absl::StartsWithIgnoreCase(target, "https://")) {
    const size_t authority = target.find("//") + 2;
    const size_t slash = target.find_first_of("/?", authority);
    target = slash == absl::string_view::npos ? "/" : target.substr(slash);
  }
  if (target == "*") target = "/";
  if (target.empty() || (target[0] != '/' && target[0] != '?')) {
    *error = "malformed request target";
    return 400;
  }
  const size_t q = target.find('?');
  if (!PercentDecode(target.substr(0, q), false, &req->path)) {
    *error = "malformed path";
    return 400;
  }
  if (req->path.empty()) req->path = "/";
  if (q == absl::string_view::npos) return 0;
  for (absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&')) {
    if (kv.empty()) continue;
    std::pair<absl::string_view, absl::string_view> p =
        absl::StrSplit(kv, absl::MaxSplits('=', 1));
    std::string k, v;
    if (!PercentDecode(p.first, true, &k) ||
        !PercentDecode(p.second, true, &v)) {
      *error = "malformed query";
      return 400;
    }
    req->query.emplace_back(std::move(k), std::move(v));
  }
  return 0;
}

bool HeaderHasToken(const HttpRequest& req, absl::string_view name,
                    absl::string_view token) {
  for (const auto& [k, v] : req.headers) {
    if (!absl::EqualsIgnoreCase(k, name)) continue;
    for (absl::string_view t : absl::StrSplit(v, ',')) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(t), token)) {
        return true;
      }
    }
  }
  return false;
}

// The body length announced by Content-Length; -1 on a malformed or
// conflicting value.
int64_t ContentLength(const HttpRequest& req) {
  int64_t length = 0;
  bool seen = false;
  for (const auto& [k, v] : req.headers) {
    if (!absl::EqualsIgnoreCase(k, "Content-Length")) continue;
    for (absl::string_view part : absl::StrSplit(v, ',')) {
      part = absl::StripAsciiWhitespace(part);
      int64_t n;
      if (part.empty() || part.size() > 18 || !absl::ascii_isdigit(part[0]) ||
          !absl::SimpleAtoi(part, &n)) {
        return -1;
      }
      if (seen && n != length) return -1;
      length = n;
      seen = true;
    }
  }
  return length;
}

bool HasHeader(const HttpRequest& req, absl::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (absl::EqualsIgnoreCase(k, name)) return true;
  }
  return false;
}

// Where a chunked body starting at `pos` ends (RFC 9112 section 7.1): its
// chunks are skipped (their total bounded by max_body: 413), chunk
// extensions and trailer fields are read and ignored (bounded by
// max_header_bytes: 431).
struct ChunkedBody {
  bool complete = false;
  size_t end = 0;
  int status = 0;  // an error status, or 0
  std::string error;
};

ChunkedBody SkipChunkedBody(absl::string_view buf, size_t pos,
                            const Http1Limits& limits) {
  ChunkedBody r;
  const auto fail = [&r](int status, const char* error) {
    r.status = status;
    r.error = error;
    return r;
  };
  const size_t meta_start = pos;
  uint64_t total = 0;
  absl::string_view line;
  while (true) {
    size_t next;
    if (!NextLine(buf, pos, &line, &next)) {
      if (buf.size() - pos > 1024) return fail(400, "malformed chunk size");
      return r;
    }
    const absl::string_view size_text =
        absl::StripTrailingAsciiWhitespace(line.substr(0, line.find(';')));
    if (size_text.empty() || size_text.size() > 8) {
      return fail(400, "malformed chunk size");
    }
    uint64_t size = 0;
    for (const char c : size_text) {
      if (!absl::ascii_isxdigit(c)) return fail(400, "malformed chunk size");
      size = size * 16 +
             static_cast<uint64_t>(absl::ascii_isdigit(c)
                                       ? c - '0'
                                       : absl::ascii_tolower(c) - 'a' + 10);
    }
    pos = next;
    if (size == 0) break;
    total += size;
    if (total > limits.max_body) return fail(413, "request body too large");
    if (buf.size() - pos < size + 1) return r;
    pos += size;
    if (buf[pos] == '\n') {
      pos += 1;
    } else if (buf[pos] == '\r') {
      if (buf.size() - pos < 2) return r;
      if (buf[pos + 1] != '\n') return fail(400, "malformed chunk");
      pos += 2;
    } else {
      return fail(400, "malformed chunk");
    }
    if (pos - meta_start > limits.max_body + limits.max_header_bytes) {
      return fail(431, "chunk metadata too large");
    }
  }
  // Trailer fields, up to the empty line.
  const size_t trailers_start = pos;
  while (true) {
    size_t next;
    if (!NextLine(buf, pos, &line, &next)) {
      if (buf.size() - trailers_start > limits.max_header_bytes) {
        return fail(431, "trailer fields too large");
      }
      return r;
    }
    if (next - trailers_start > limits.max_header_bytes) {
      return fail(431, "trailer fields too large");
    }
    pos = next;
    if (line.empty()) break;
  }
  r.complete = true;
  r.end = pos;
  return r;
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

// Appends `v` to `out`; header values never carry a line break into the
// response.
void AppendHeaderSafe(absl::string_view v, std::string* out) {
  const size_t start = out->size();
  out->append(v.data(), v.size());
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
}

}  // namespace

bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && plus_is_space) {
      *out += ' ';
    } else if (c != '%') {
      *out += c;
    } else {
      if (i + 2 >= in.size()) return false;
      const char h = in[i + 1], l = in[i + 2];
      if (!absl::ascii_isxdigit(h) || !absl::ascii_isxdigit(l)) return false;
      const auto hex = [](char x) {
        return absl::ascii_isdigit(x) ? x - '0'
                                      : absl::ascii_tolower(x) - 'a' + 10;
      };
      const char decoded = static_cast<char>(hex(h) * 16 + hex(l));
      if (decoded == '\0') return false;
      *out += decoded;
      i += 2;
    }
  }
  return true;
}

ParseResult ParseRequest(absl::string_view buf, const Http1Limits& limits) {
  // Empty lines before a request line are ignored (RFC 9112 section 2.2).
  size_t start = 0;
  while (start < buf.size() && (buf[start] == '\r' || buf[start] == '\n')) {
    ++start;
  }
  absl::string_view line;
  size_t pos;
  if (!NextLine(buf, start, &line, &pos)) {
    if (buf.size() - start > limits.max_request_line) {
      return Error(414, "request line too long");
    }
    return ParseResult();
  }
  if (line.size() > limits.max_request_line) {
    return Error(414, "request line too long");
  }
  ParseResult r;
  int minor = 1;
  std::string error;
  if (int status = ParseRequestLine(line, &r.request, &minor, &error)) {
    return Error(status, error);
  }
  const size_t headers_start = pos;
  while (true) {
    if (!NextLine(buf, pos, &line, &pos)) {
      if (buf.size() - headers_start > limits.max_header_bytes) {
        return Error(431, "request header fields too large");
      }
      return ParseResult();
    }
    if (pos - headers_start > limits.max_header_bytes) {
      return Error(431, "request header fields too large");
    }
    if (line.empty()) break;
    if (r.request.headers.size() >= limits.max_headers) {
      return Error(431, "too many header fields");
    }
    const size_t colon = line.find(':');
    if (line[0] == ' ' || line[0] == '\t' || colon == absl::string_view::npos ||
        !IsToken(line.substr(0, colon))) {
      return Error(400, "malformed header field");
    }
    r.request.headers.emplace_back(
        std::string(line.substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  r.keep_alive = minor == 1
                     ? !HeaderHasToken(r.request, "Connection", "close")
                     : HeaderHasToken(r.request, "Connection", "keep-alive");
  // Expect: 100-continue asks for an interim answer before the body is
  // sent; any other expectation cannot be met (RFC 9110 section 10.1.1).
  bool expect_continue = false;
  for (const auto& [k, v] : r.request.headers) {
    if (!absl::EqualsIgnoreCase(k, "Expect")) continue;
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(v),
                                "100-continue")) {
      return Error(417, "only Expect: 100-continue is supported");
    }
    expect_continue = minor == 1;
  }
  size_t body_end;
  if (HasHeader(r.request, "Transfer-Encoding")) {
    // A length given both ways is how requests are smuggled past proxies.
    if (HasHeader(r.request, "Content-Length")) {
      return Error(400, "both Transfer-Encoding and Content-Length");
    }
    if (minor == 0) return Error(400, "Transfer-Encoding in HTTP/1.0");
    std::string codings;
    for (const auto& [k, v] : r.request.headers) {
      if (!absl::EqualsIgnoreCase(k, "Transfer-Encoding")) continue;
      if (!codings.empty()) codings += ',';
      codings += v;
    }
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(codings),
                                "chunked")) {
      return Error(501, "only Transfer-Encoding: chunked is implemented");
    }
    const ChunkedBody body = SkipChunkedBody(buf, pos, limits);
    if (body.status != 0) return Error(body.status, body.error);
    if (!body.complete) {
      ParseResult more;
      more.expect_continue = expect_continue;
      return more;
    }
    body_end = body.end;
  } else {
    const int64_t length = ContentLength(r.request);
    if (length < 0) return Error(400, "malformed Content-Length");
    if (static_cast<uint64_t>(length) > limits.max_body) {
      return Error(413, "request body too large");
    }
    if (buf.size() - pos < static_cast<size_t>(length)) {
      ParseResult more;
      more.expect_continue = expect_continue && length > 0;
      return more;
    }
    body_end = pos + static_cast<size_t>(length);
  }
  r.consumed = body_end;
  r.state = State::kComplete;
  return r;
}

std::string SerializeResponse(const HttpResponse& response, bool head,
                              bool keep_alive) {
  const bool has_body = response.status != 204;
  // One allocation: the status line, the fixed headers and the body.
  size_t size = 96 + response.content_type.size();
  for (const auto& [k, v] : response.headers) size += k.size() + v.size() + 4;
  if (!head && has_body) size += response.body.size();
  std::string out;
  out.reserve(size);
  absl::StrAppend(&out, "HTTP/1.1 ", response.status, " ",
                  ReasonPhrase(response.status), "\r\n");
  if (has_body) {
    out += "Content-Type: ";
    AppendHeaderSafe(response.content_type, &out);
    absl::StrAppend(&out, "\r\nContent-Length: ", response.body.size(), "\r\n");
  }
  for (const auto& [k, v] : response.headers) {
    AppendHeaderSafe(k, &out);
    out += ": ";
    AppendHeaderSafe(v, &out);
    out += "\r\n";
  }
  out += keep_alive ? "Connection: keep-alive\r\n\r\n"
                    : "Connection: close\r\n\r\n";
  if (!head && has_body) out += response.body;
  return out;
}

}  // namespace internal
}  // namespace http
}  // namespace vigil
