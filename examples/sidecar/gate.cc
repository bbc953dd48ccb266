#include "examples/sidecar/gate.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/sidecar/gate.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "health/checks/internal/http_client.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/stream.h"
#include "health/clock.h"
#include "health/grpc/proto/health.grpc.pb.h"

namespace vigil_sidecar {
namespace {

namespace http = ::vigil::checks::internal;

// The most of an answer's body kept (for --json's "report").
constexpr size_t kMaxBody = 1 << 20;

// One object in protobuf's JSON: proto field names, zeros printed.
std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, o).ok()) {
    return "{}";  // Only on invalid UTF-8 in a string field.
  }
  return out;
}

// The last body as GateReport's `report`: a JSON object as it is, any
// other body as a string, null for none.
google::protobuf::Value ReportValue(const std::string& body) {
  google::protobuf::Value v;
  if (body.empty()) {
    v.set_null_value(google::protobuf::NULL_VALUE);
  } else if (!google::protobuf::util::JsonStringToMessage(body, &v).ok() ||
             !v.has_struct_value()) {
    v.set_string_value(body);
  }
  return v;
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
  absl::StatusOr<http::Url> u = http::ParseUrl(url, "url");
  if (!u.ok()) return u.status();
  ParsedUrl p;
  p.scheme = u->https ? "https" : "http";
  p.host = u->host;
  p.port = u->port;
  p.path = u->target;
  return p;
}

GateResult RunGate(const GateOptions& options, FILE* progress) {
  GateResult r;
  absl::StatusOr<http::Url> url = http::ParseUrl(options.url, "url");
  std::shared_ptr<http::TlsContext> tls;
  if (url.ok() && url->https) {
    absl::StatusOr<std::shared_ptr<http::TlsContext>> t =
        http::TlsContext::Create(!options.insecure, "", "ca_file");
    if (!t.ok()) {
      url = t.status();
    } else {
      tls = *std::move(t);
    }
  }
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
  http::HttpRequest request;
  request.host_header = url->HostHeader();
  request.target = url->target;
  request.target +=
      url->target.find('?') == std::string::npos ? "?verbose" : "&verbose";
  request.headers = {{"Accept", "application/json"}};

  vigil::Clock* const clock = vigil::Clock::Real();
  http::Resolver resolver;
  const absl::Time start = clock->Now();
  const absl::Time deadline = start + options.timeout;
  // The kind of failure of the last attempt, for the exit code.
  GateExit last_failure = GateExit::kTimedOut;
  while (true) {
    ++r.attempts;
    http::HttpFetchResult res = http::HttpFetch(
        resolver, *url, tls.get(),
        http::ToAf(vigil::checks::AddressFamily::kAny), request, kMaxBody,
        http::IoDeadline(clock, clock->Now() + options.request_timeout));
    if (res.response.ok()) {
      r.last_http_status = res.response->status_code;
      r.last_error.clear();
      r.last_body = std::move(res.response->body);
      if (r.last_http_status >= 200 && r.last_http_status < 300) {
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
      r.last_error = std::string(res.response.status().message());
      // Nobody answered in time (a hung or deaf target), or nobody is there.
      last_failure =
          http::KindOf(res.response.status()) == http::FailureKind::kTimedOut
              ? GateExit::kTimedOut
              : GateExit::kUnreachable;
    }
    const absl::Time now = clock->Now();
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
  vigil::sidecar::v1::GateReport m;
  m.set_url(options.url);
  m.set_result(GateExitName(r.exit));
  m.set_exit_code(static_cast<int>(r.exit));
  m.set_attempts(r.attempts);
  m.set_consecutive_successes(r.consecutive_successes);
  m.set_required_successes(options.successes);
  m.set_elapsed_ms(absl::ToInt64Milliseconds(r.elapsed));
  m.set_last_http_status(r.last_http_status);
  m.set_last_error(r.last_error);
  *m.mutable_report() = ReportValue(r.last_body);
  return ToJson(m);
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
  vigil::sidecar::v1::GrpcGateReport m;
  m.set_target(options.target);
  m.set_service(options.service);
  m.set_result(GrpcGateExitName(r.exit));
  m.set_exit_code(static_cast<int>(r.exit));
  m.set_attempts(r.attempts);
  m.set_consecutive_successes(r.consecutive_successes);
  m.set_required_successes(options.successes);
  m.set_elapsed_ms(absl::ToInt64Milliseconds(r.elapsed));
  m.set_last_status(r.last_status);
  m.set_last_error(r.last_error);
  return ToJson(m);
}

}  // namespace vigil_sidecar
