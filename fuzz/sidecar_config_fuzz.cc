// Fuzzes the sidecar's configuration loading (examples/sidecar/config.h):
// protobuf text format, then validation into a plan (durations, addresses,
// URLs, thresholds, check options).
//
// Properties: an error is InvalidArgument and names the file; an accepted
// file gives a plan whose port is a port and whose checks all have names;
// the config printed back in text format and re-parsed gives a plan too
// (with the same checks): validation does not depend on how the file was
// spelled.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "examples/sidecar/config.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/text_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Config files are small; very long inputs only slow the fuzzer down.
  if (size > 8192) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<vigil_sidecar::SidecarPlan> plan =
      vigil_sidecar::ParseConfig(text, "fuzz.textproto");
  if (!plan.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(plan.status()));
    FUZZ_CHECK(absl::StartsWith(plan.status().message(), "fuzz.textproto"));
    return 0;
  }
  FUZZ_CHECK(plan->port >= 0 && plan->port <= 65535);
  for (const vigil::Check& c : plan->checks) FUZZ_CHECK(!c.name.empty());

  std::string printed;
  FUZZ_CHECK(
      google::protobuf::TextFormat::PrintToString(plan->config, &printed));
  absl::StatusOr<vigil_sidecar::SidecarPlan> again =
      vigil_sidecar::ParseConfig(printed, "printed.textproto");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->checks.size() == plan->checks.size());
  for (size_t i = 0; i < plan->checks.size(); ++i) {
    FUZZ_CHECK(again->checks[i].name == plan->checks[i].name);
  }
  FUZZ_CHECK(again->port == plan->port);
  return 0;
}
