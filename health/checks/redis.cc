#include "health/checks/redis.h"

#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/redis_connect.h"
#include "health/checks/internal/result_util.h"
#include "health/checks/internal/stream.h"

namespace vigil {
namespace checks {
namespace {

constexpr size_t kMaxReply = 4096;

struct RedisState {
  RedisCheckOptions options;
  internal::HostPort target;
  std::string display;
  std::string request;  // The pipelined AUTH + PING.
  bool auth = false;
  internal::Redactor redactor;
  Clock* clock = nullptr;
  internal::Resolver resolver;
  // Empty: dial `target`.
  internal::RedisConnect connect;
};

std::string Bulk(absl::string_view s) {
  return absl::StrCat("$", s.size(), "\r\n", s, "\r\n");
}

// Reads one RESP line (without CRLF) from `stream`, buffering in `buf`.
absl::StatusOr<std::string> ReadLine(internal::Stream& stream, std::string* buf,
                                     const internal::IoDeadline& deadline) {
  while (true) {
    const size_t end = buf->find("\r\n");
    if (end != std::string::npos) {
      std::string line = buf->substr(0, end);
      buf->erase(0, end + 2);
      return line;
    }
    if (buf->size() > kMaxReply) {
      return internal::WithKind(
          absl::UnavailableError("reply line longer than 4 KiB"),
          internal::FailureKind::kProtocol);
    }
    char chunk[1024];
    absl::StatusOr<size_t> n = stream.ReadSome(chunk, sizeof(chunk), deadline);
    if (!n.ok()) return n.status();
    if (*n == 0) {
      return internal::WithKind(
          absl::UnavailableError(
              buf->empty() ? "connection closed by the server before replying"
                           : "connection closed in the middle of a reply"),
          internal::FailureKind::kReset);
    }
    buf->append(chunk, *n);
  }
}

// Turns an error reply ("-ERR ...") into a result.
CheckResult ErrorReply(const std::string& line, bool sent_auth) {
  const std::string text = line.substr(1);
  const std::string lower = absl::AsciiStrToLower(text);
  CheckResult r;
  if (absl::StrContains(lower, "max number of clients reached")) {
    r = CheckResult::Unhealthy("max number of clients reached");
    r.details["reason"] = "max_clients";
  } else if (absl::StartsWith(text, "NOAUTH")) {
    r = CheckResult::Unhealthy(
        sent_auth ? "authentication required"
                  : "authentication required (the check has no password)");
    r.details["reason"] = "auth";
  } else if (absl::StartsWith(text, "WRONGPASS") ||
             absl::StrContains(lower, "invalid password") ||
             absl::StrContains(lower, "invalid username-password") ||
             (absl::StrContains(lower, "auth") &&
              absl::StrContains(lower, "password"))) {
    r = CheckResult::Unhealthy(absl::StrCat("authentication failed: ", text));
    r.details["reason"] = "auth";
  } else if (absl::StartsWith(text, "LOADING")) {
    r = CheckResult::Unhealthy("Redis is loading the dataset in memory");
    r.details["reason"] = "loading";
  } else {
    r = CheckResult::Unhealthy(absl::StrCat("error reply: ", text));
    r.details["reason"] = "error";
  }
  r.details["reply"] = text;
  return r;
}

absl::StatusOr<internal::RedisConnection> Connect(
    RedisState& s, const internal::IoDeadline& deadline) {
  if (s.connect) return s.connect(deadline);
  absl::StatusOr<internal::Connected> c =
      internal::Dial(s.resolver, s.target.host, s.target.port,
                     internal::ToAf(s.options.family), deadline);
  if (!c.ok()) return c.status();
  internal::RedisConnection out;
  out.address = c->address.ToString();
  out.stream = std::make_unique<internal::PlainStream>(std::move(c->fd));
  return out;
}

CheckResult RunRedis(RedisState& s, const CheckContext& ctx) {
  const internal::IoDeadline deadline = internal::IoDeadline::ForRun(
      s.clock, ctx.start, ctx.deadline, s.options.check.timeout);
  const absl::Time begin = s.clock->Now();
  auto finish = [&](CheckResult r, const std::string& address) {
    r.details["target"] = s.display;
    if (!address.empty()) r.details["address"] = address;
    s.redactor.ScrubResult(&r);
    return r;
  };
  absl::StatusOr<internal::RedisConnection> c = Connect(s, deadline);
  if (!c.ok()) return finish(internal::FailureResult(c.status()), "");
  const std::string& address = c->address;
  internal::Stream& stream = *c->stream;
  std::string buf;
  // A server at maxclients writes its error and closes as soon as it
  // accepts; a failed send still leaves that error to read.
  const absl::Status sent = stream.WriteAll(s.request, deadline);
  const int replies = s.auth ? 2 : 1;
  for (int i = 0; i < replies; ++i) {
    absl::StatusOr<std::string> line = ReadLine(stream, &buf, deadline);
    if (!line.ok()) {
      return finish(internal::FailureResult(sent.ok() ? line.status() : sent),
                    address);
    }
    if (line->empty()) {
      CheckResult r = CheckResult::Unhealthy("empty reply");
      r.details["reason"] = "protocol";
      return finish(std::move(r), address);
    }
    if ((*line)[0] == '-') return finish(ErrorReply(*line, s.auth), address);
    const bool last = i == replies - 1;
    if (!last) {
      if (*line != "+OK") {
        CheckResult r = CheckResult::Unhealthy(
            absl::StrCat("unexpected reply to AUTH: ", line->substr(0, 80)));
        r.details["reason"] = "protocol";
        return finish(std::move(r), address);
      }
      continue;
    }
    if (*line != "+PONG") {
      CheckResult r = CheckResult::Unhealthy(
          absl::StrCat("unexpected reply to PING: ", line->substr(0, 80)));
      r.details["reason"] = "protocol";
      return finish(std::move(r), address);
    }
  }
  const absl::Duration latency = s.clock->Now() - begin;
  CheckResult r = CheckResult::Healthy(
      absl::StrCat("PONG in ", internal::FormatLatency(latency)));
  internal::SetLatency(&r, latency);
  return finish(std::move(r), address);
}

}  // namespace

absl::StatusOr<Check> RedisCheck(RedisCheckOptions options) {
  return internal::RedisCheckWithConnect(std::move(options), nullptr);
}

namespace internal {

absl::StatusOr<Check> RedisCheckWithConnect(RedisCheckOptions options,
                                            RedisConnect connect) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("address: must be set (host:port)");
  }
  absl::StatusOr<internal::HostPort> hp =
      internal::ParseHostPort(options.address, "address");
  if (!hp.ok()) return hp.status();
  if (!options.username.empty() && options.password.empty()) {
    return absl::InvalidArgumentError(
        "username: needs a password (AUTH username password)");
  }
  auto state = std::make_shared<RedisState>();
  state->connect = std::move(connect);
  state->target = *hp;
  state->display = internal::FormatHostPort(hp->host, hp->port);
  state->clock = options.clock != nullptr ? options.clock : Clock::Real();
  state->auth = !options.password.empty();
  if (state->auth) {
    state->redactor.Add(options.password);
    if (options.username.empty()) {
      state->request =
          absl::StrCat("*2\r\n", Bulk("AUTH"), Bulk(options.password));
    } else {
      state->request =
          absl::StrCat("*3\r\n", Bulk("AUTH"), Bulk(options.username),
                       Bulk(options.password));
    }
  }
  state->request += absl::StrCat("*1\r\n", Bulk("PING"));

  Check check;
  check.name =
      options.name.empty()
          ? internal::SanitizeCheckName(absl::StrCat("redis:", state->display))
          : options.name;
  check.options = options.check;
  state->options = std::move(options);
  check.function = [state](const CheckContext& ctx) {
    return RunRedis(*state, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace internal
}  // namespace checks
}  // namespace vigil
