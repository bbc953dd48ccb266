#include "examples/sidecar/gate.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "health/grpc/proto/health.grpc.pb.h"
#include "httplib.h"

namespace vigil_sidecar {
namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Whether an httplib transport error means "nobody answered in time" rather
// than "nobody is there".
bool IsTimeout(httplib::Error e) {
  return e == httplib::Error::Read || e == httplib::Error::Write ||
         e == httplib::Error::ConnectionTimeout;
}

}  // namespace

const char* GateExitName(GateExit exit) {
  switch (exit) {
    case GateExit::kReady:
      return "ready";
    case GateExit::kUsage:
      return "usage";
    case GateExit::kNotReady:
      return "not_ready";
    case GateExit::kUnreachable:
      return "unreachable";
    case GateExit::kTimedOut:
      return "timed_out";
  }
  return "?";
}

absl::StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl p;
  std::string rest;
  if (absl::StartsWith(url, "http://")) {
    p.scheme = "http";
    rest = url.substr(7);
    p.port = 80;
  } else if (absl::StartsWith(url, "https://")) {
    p.scheme = "https";
    rest = url.substr(8);
    p.port = 443;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("url: want http:// or https://, got \"", url, "\""));
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  p.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("url: unclosed [ in \"", url, "\""));
    }
    p.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("url: bad authority in \"", url, "\""));
      }
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    p.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (p.host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("url: no host in \"", url, "\""));
  }
  if (!port.empty() &&
      (!absl::SimpleAtoi(port, &p.port) || p.port < 1 || p.port > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("url: bad port in \"", url, "\""));
  }
  return p;
}

GateResult RunGate(const GateOptions& options, FILE* progress) {
  GateResult r;
  absl::StatusOr<ParsedUrl> url = ParseUrl(options.url);
  if (!url.ok() || options.timeout <= absl::ZeroDuration() ||
      options.interval <= absl::ZeroDuration() || options.successes < 1 ||
      options.request_timeout <= absl::ZeroDuration()) {
    r.exit = GateExit::kUsage;
    r.last_error = url.ok() ? "timeout, interval, request_timeout must be > "
                              "0 and successes >= 1"
                            : std::string(url.status().message());
    if (progress != nullptr) {
      std::fprintf(progress, "vigil-sidecar wait: %s\n", r.last_error.c_str());
    }
    return r;
  }
  const std::string base = absl::StrCat(url->scheme, "://",
                                        url->host.find(':') != std::string::npos
                                            ? absl::StrCat("[", url->host, "]")
                                            : url->host,
                                        ":", url->port);
  std::string path = url->path;
  path += path.find('?') == std::string::npos ? "?verbose" : "&verbose";

  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options.timeout;
  // The kind of failure of the last attempt, for the exit code.
  GateExit last_failure = GateExit::kTimedOut;
  while (true) {
    httplib::Client client(base);
    client.set_keep_alive(false);
    const int64_t us = absl::ToInt64Microseconds(options.request_timeout);
    client.set_connection_timeout(us / 1000000, us % 1000000);
    client.set_read_timeout(us / 1000000, us % 1000000);
    client.set_write_timeout(us / 1000000, us % 1000000);
    if (options.insecure) client.enable_server_certificate_verification(false);
    ++r.attempts;
    httplib::Result res =
        client.Get(path.c_str(), {{"Accept", "application/json"}});
    if (res) {
      r.last_http_status = res->status;
      r.last_error.clear();
      r.last_body = res->body;
      if (res->status >= 200 && res->status < 300) {
        ++r.consecutive_successes;
        last_failure = GateExit::kTimedOut;
      } else {
        r.consecutive_successes = 0;
        last_failure = GateExit::kNotReady;
      }
    } else {
      r.consecutive_successes = 0;
      r.last_http_status = 0;
      r.last_body.clear();
      r.last_error = httplib::to_string(res.error());
      last_failure =
          IsTimeout(res.error()) ? GateExit::kTimedOut : GateExit::kUnreachable;
    }
    const absl::Time now = absl::Now();
    r.elapsed = now - start;
    if (progress != nullptr) {
      std::fprintf(
          progress, "vigil-sidecar wait: %s attempt %d after %s: %s (%d/%d)\n",
          options.url.c_str(), r.attempts,
          absl::FormatDuration(absl::Trunc(r.elapsed, absl::Milliseconds(1)))
              .c_str(),
          r.last_error.empty()
              ? absl::StrCat("HTTP ", r.last_http_status).c_str()
              : r.last_error.c_str(),
          r.consecutive_successes, options.successes);
      std::fflush(progress);
    }
    if (r.consecutive_successes >= options.successes) {
      r.exit = GateExit::kReady;
      return r;
    }
    if (now + options.interval > deadline) {
      r.exit = last_failure;
      return r;
    }
    absl::SleepFor(options.interval);
  }
}

std::string GateResultJson(const GateOptions& options, const GateResult& r) {
  std::string report;
  const size_t first = r.last_body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && r.last_body[first] == '{') {
    report = r.last_body;
    while (!report.empty() && (report.back() == '\n' || report.back() == ' ')) {
      report.pop_back();
    }
  } else {
    report = r.last_body.empty() ? "null" : JsonString(r.last_body);
  }
  return absl::StrCat("{\"url\":", JsonString(options.url), ",\"result\":\"",
                      GateExitName(r.exit),
                      "\",\"exit_code\":", static_cast<int>(r.exit),
                      ",\"attempts\":", r.attempts,
                      ",\"consecutive_successes\":", r.consecutive_successes,
                      ",\"required_successes\":", options.successes,
                      ",\"elapsed_ms\":", absl::ToInt64Milliseconds(r.elapsed),
                      ",\"last_http_status\":", r.last_http_status,
                      ",\"last_error\":", JsonString(r.last_error),
                      ",\"report\":", report, "}");
}

const char* GrpcGateExitName(GrpcGateExit exit) {
  switch (exit) {
    case GrpcGateExit::kServing:
      return "serving";
    case GrpcGateExit::kUsage:
      return "usage";
    case GrpcGateExit::kConnectionFailure:
      return "connection_failure";
    case GrpcGateExit::kRpcFailure:
      return "rpc_failure";
    case GrpcGateExit::kUnhealthy:
      return "unhealthy";
  }
  return "?";
}

namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// One attempt on `channel`: connect, then Check. Fills r.last_*; returns
// the attempt's verdict.
GrpcGateExit GrpcAttempt(grpc::Channel& channel, Health::Stub& stub,
                         const GrpcGateOptions& options, GrpcGateResult& r) {
  r.last_status.clear();
  r.last_error.clear();
  const absl::Time until = absl::Now() + options.request_timeout;
  if (!channel.WaitForConnected(absl::ToChronoTime(until))) {
    r.last_error = "no connection within request_timeout";
    return GrpcGateExit::kConnectionFailure;
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(until));
  HealthCheckRequest request;
  request.set_service(options.service);
  HealthCheckResponse response;
  const grpc::Status s = stub.Check(&context, request, &response);
  if (!s.ok()) {
    r.last_error = absl::StrCat("rpc error: code ", s.error_code(), ": ",
                                s.error_message());
    return GrpcGateExit::kRpcFailure;
  }
  r.last_status = HealthCheckResponse::ServingStatus_Name(response.status());
  return response.status() == HealthCheckResponse::SERVING
             ? GrpcGateExit::kServing
             : GrpcGateExit::kUnhealthy;
}

}  // namespace

GrpcGateResult RunGrpcGate(const GrpcGateOptions& options, FILE* progress) {
  GrpcGateResult r;
  const size_t colon = options.target.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(options.target.substr(colon + 1), &port) || port < 1 ||
      port > 65535 || options.timeout <= absl::ZeroDuration() ||
      options.interval <= absl::ZeroDuration() || options.successes < 1 ||
      options.request_timeout <= absl::ZeroDuration()) {
    r.exit = GrpcGateExit::kUsage;
    r.last_error = absl::StrCat("grpc: want HOST:PORT, got \"", options.target,
                                "\"; timeout, interval, request_timeout must "
                                "be > 0 and successes >= 1");
    if (progress != nullptr) {
      std::fprintf(progress, "vigil-sidecar wait: %s\n", r.last_error.c_str());
    }
    return r;
  }
  // One channel for every attempt: it reconnects by itself; a fresh
  // attempt waits for it up to request_timeout.
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials());
  std::unique_ptr<Health::Stub> stub = Health::NewStub(channel);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options.timeout;
  while (true) {
    ++r.attempts;
    const GrpcGateExit verdict = GrpcAttempt(*channel, *stub, options, r);
    if (verdict == GrpcGateExit::kServing) {
      ++r.consecutive_successes;
    } else {
      r.consecutive_successes = 0;
    }
    const absl::Time now = absl::Now();
    r.elapsed = now - start;
    if (progress != nullptr) {
      std::fprintf(
          progress,
          "vigil-sidecar wait: %s %s attempt %d after %s: %s (%d/%d)\n",
          options.target.c_str(), options.service.c_str(), r.attempts,
          absl::FormatDuration(absl::Trunc(r.elapsed, absl::Milliseconds(1)))
              .c_str(),
          r.last_error.empty() ? r.last_status.c_str() : r.last_error.c_str(),
          r.consecutive_successes, options.successes);
      std::fflush(progress);
    }
    if (r.consecutive_successes >= options.successes) {
      r.exit = GrpcGateExit::kServing;
      return r;
    }
    if (now + options.interval > deadline) {
      // Passing, but not yet enough in a row: grpc_health_probe has no
      // "timed out" code; it is an RPC-level failure to become ready.
      r.exit = verdict == GrpcGateExit::kServing ? GrpcGateExit::kRpcFailure
                                                 : verdict;
      return r;
    }
    absl::SleepFor(options.interval);
  }
}

std::string GrpcGateResultJson(const GrpcGateOptions& options,
                               const GrpcGateResult& r) {
  return absl::StrCat("{\"target\":", JsonString(options.target),
                      ",\"service\":", JsonString(options.service),
                      ",\"result\":\"", GrpcGateExitName(r.exit),
                      "\",\"exit_code\":", static_cast<int>(r.exit),
                      ",\"attempts\":", r.attempts,
                      ",\"consecutive_successes\":", r.consecutive_successes,
                      ",\"required_successes\":", options.successes,
                      ",\"elapsed_ms\":", absl::ToInt64Milliseconds(r.elapsed),
                      ",\"last_status\":", JsonString(r.last_status),
                      ",\"last_error\":", JsonString(r.last_error), "}");
}

}  // namespace vigil_sidecar
