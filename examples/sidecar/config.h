// vigil-sidecar's configuration: the text-format file (schema:
// examples/sidecar/sidecar.proto, example: examples/sidecar/sidecar.textproto)
// turned into the checks and settings the sidecar runs.
//
//   absl::StatusOr<vigil_sidecar::SidecarPlan> plan =
//       vigil_sidecar::LoadConfigFile("/etc/vigil/sidecar.textproto");
//   if (!plan.ok()) { /* "file:12: http[0].check.interval: bad duration" */ }
//
// Every error is InvalidArgument naming the field; errors of a loaded file
// also name the file and the (1-based) line. All functions are
// thread-compatible.

#ifndef VIGIL_EXAMPLES_SIDECAR_CONFIG_H_
#define VIGIL_EXAMPLES_SIDECAR_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "examples/sidecar/sidecar.pb.h"
#include "health/check.h"
#include "health/http/endpoints.h"
#include "health/pressure/defaults.h"

namespace vigil_sidecar {

using SidecarConfig = ::vigil::sidecar::v1::SidecarConfig;

// What the sidecar runs: everything validated.
struct SidecarPlan {
  SidecarConfig config;
  std::string address = "127.0.0.1";
  int port = 8090;
  absl::Duration drain_delay = absl::Seconds(5);
  vigil::http::DetailsPolicy details =
      vigil::http::DetailsPolicy::kLoopbackOrToken;
  std::string token;
  // Checks built with the library's checks (and ProcessCheck), ready to
  // register.
  std::vector<vigil::Check> checks;
  // Whether to register the default pressure detectors, and with what.
  bool pressure = true;
  vigil::pressure::DefaultDetectorOptions pressure_options;
};

// Parses text-format `text` (errors name `file_name` and the line) and
// builds the plan. `file_name` is only used in messages.
absl::StatusOr<SidecarPlan> ParseConfig(const std::string& text,
                                        const std::string& file_name);

// Reads and parses `path`. NotFound / PermissionDenied-like errors name the
// path; parse and validation errors are "path:line: field: why".
absl::StatusOr<SidecarPlan> LoadConfigFile(const std::string& path);

// Builds the plan from an already filled config (e.g. made from flags);
// errors name the field but no line.
absl::StatusOr<SidecarPlan> BuildPlan(const SidecarConfig& config);

}  // namespace vigil_sidecar

#endif  // VIGIL_EXAMPLES_SIDECAR_CONFIG_H_
