// The deploy gate: `vigil-sidecar wait --url URL` waits until a readiness
// endpoint passes `successes` times in a row, or a timeout.
//
// This is what a deploy script calls after starting a new instance and
// before moving on (switching traffic, restarting the next instance); a
// non-zero exit is its rollback trigger:
//
//   vigil-sidecar wait --url http://10.0.0.11:8080/readyz --timeout 60s ||
//     rollback
//
//   vigil_sidecar::GateOptions o;
//   o.url = "http://127.0.0.1:8080/readyz";
//   vigil_sidecar::GateResult r = vigil_sidecar::RunGate(o, stderr);
//   return static_cast<int>(r.exit);
//
// Exit codes (GateExit), decided by the last attempt when the deadline
// passes:
//   0 ready            `successes` consecutive 2xx answers;
//   2 usage            bad flags or URL (nothing was tried);
//   3 not ready        the endpoint answered, but not 2xx (e.g. 503);
//   4 unreachable      connection refused / reset, name did not resolve;
//   5 timed out        the request timed out (a hung or deaf target), or the
//                      answers were passing but not yet `successes` in a row.
//
// gRPC target mode: `vigil-sidecar wait --grpc HOST:PORT [--grpc_service
// readiness]` calls grpc.health.v1 Check (plaintext) until it answers
// SERVING `successes` times in a row. Its exit codes (GrpcGateExit) are
// grpc_health_probe's, so scripts written for that tool keep working:
//   0 serving          `successes` consecutive SERVING answers;
//   1 usage            bad flags or target (nothing was tried);
//   2 connection       no connection within request_timeout (refused,
//                      unreachable, name did not resolve);
//   3 rpc failure      Check failed: NOT_FOUND (unknown service),
//                      UNIMPLEMENTED (no health service), DEADLINE_EXCEEDED
//                      (a hung server), ...; or SERVING answers not yet
//                      `successes` in a row when the time ran out;
//   4 unhealthy        the answer was not SERVING (NOT_SERVING, UNKNOWN).
// (grpc_health_probe's 20, TLS errors, does not arise: no TLS here.)

#ifndef VIGIL_EXAMPLES_SIDECAR_GATE_H_
#define VIGIL_EXAMPLES_SIDECAR_GATE_H_

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil_sidecar {

enum class GateExit {
  kReady = 0,
  kUsage = 2,
  kNotReady = 3,
  kUnreachable = 4,
  kTimedOut = 5,
};

// "ready", "usage", "not_ready", "unreachable", "timed_out".
const char* GateExitName(GateExit exit);

struct GateOptions {
  // http:// or https:// URL of a readiness endpoint.
  std::string url;
  // Total time to wait. Must be > 0.
  absl::Duration timeout = absl::Seconds(60);
  // Pause between attempts. Must be > 0.
  absl::Duration interval = absl::Milliseconds(500);
  // Consecutive 2xx answers required. Must be >= 1.
  int successes = 3;
  // Per-request timeout (connect + answer). Must be > 0.
  absl::Duration request_timeout = absl::Seconds(2);
  // For https: skip certificate verification.
  bool insecure = false;
};

// The outcome, and the last answer (what --json prints).
struct GateResult {
  GateExit exit = GateExit::kTimedOut;
  int attempts = 0;
  int consecutive_successes = 0;
  // HTTP status of the last answer; 0 if there was none.
  int last_http_status = 0;
  // Transport error of the last attempt ("" if it got an answer).
  std::string last_error;
  // Body of the last answer (asked for as JSON, verbose).
  std::string last_body;
  absl::Duration elapsed;
};

// Parsed http(s) URL.
struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without [] for IPv6
  int port = 0;
  std::string path;  // starts with '/', includes the query
};
// InvalidArgument naming `url` when it is not http(s)://host[:port][/path].
absl::StatusOr<ParsedUrl> ParseUrl(const std::string& url);

// Runs the gate, printing one progress line per attempt to `progress`
// (nullptr: silent). Blocks at most about timeout + request_timeout.
// Thread-compatible.
GateResult RunGate(const GateOptions& options, FILE* progress);

// The result as one JSON object: url, result, exit_code, attempts,
// consecutive_successes, required_successes, elapsed_ms, last_http_status,
// last_error, and `report` (the last body: embedded as JSON when it is a
// JSON object, else as a string).
std::string GateResultJson(const GateOptions& options, const GateResult& r);

// grpc_health_probe's exit codes.
enum class GrpcGateExit {
  kServing = 0,
  kUsage = 1,
  kConnectionFailure = 2,
  kRpcFailure = 3,
  kUnhealthy = 4,
};

// "serving", "usage", "connection_failure", "rpc_failure", "unhealthy".
const char* GrpcGateExitName(GrpcGateExit exit);

struct GrpcGateOptions {
  // host:port (IPv6 as [::1]:port) of a grpc.health.v1 server.
  std::string target;
  // Service name asked for: "" (overall), a group or a check.
  std::string service;
  absl::Duration timeout = absl::Seconds(60);
  absl::Duration interval = absl::Milliseconds(500);
  int successes = 3;
  // Per attempt: connecting, and then the Check call.
  absl::Duration request_timeout = absl::Seconds(2);
};

struct GrpcGateResult {
  GrpcGateExit exit = GrpcGateExit::kRpcFailure;
  int attempts = 0;
  int consecutive_successes = 0;
  // ServingStatus name of the last answer ("" if there was none).
  std::string last_status;
  // Connection or RPC error of the last attempt ("" if it got an answer).
  std::string last_error;
  absl::Duration elapsed;
};

// Runs the gRPC gate like RunGate(). Blocks at most about timeout +
// request_timeout. Thread-compatible.
GrpcGateResult RunGrpcGate(const GrpcGateOptions& options, FILE* progress);

// One JSON object: target, service, result, exit_code, attempts,
// consecutive_successes, required_successes, elapsed_ms, last_status,
// last_error.
std::string GrpcGateResultJson(const GrpcGateOptions& options,
                               const GrpcGateResult& r);

}  // namespace vigil_sidecar

#endif  // VIGIL_EXAMPLES_SIDECAR_GATE_H_
