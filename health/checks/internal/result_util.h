// Internal helpers shared by the ready-made checks: naming, secret
// redaction and the common shape of results.

#ifndef VIGIL_HEALTH_CHECKS_INTERNAL_RESULT_UTIL_H_
#define VIGIL_HEALTH_CHECKS_INTERNAL_RESULT_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/checks/internal/net.h"

namespace vigil {
namespace checks {
namespace internal {

// Turns `text` into a valid check name: characters outside
// [A-Za-z0-9_.:/@-] become '_' (brackets are dropped), at most 128 chars.
std::string SanitizeCheckName(absl::string_view text);

// `text` if it has at most `max` characters, else "..." and its last
// `max - 3` characters (paths are most telling at their end).
std::string KeepTail(absl::string_view text, size_t max);

// Replaces secrets in text with "****". Secrets shorter than 4 characters are
// not scrubbed (they would garble unrelated text; such secrets are never
// formatted into reports by vigil in the first place).
class Redactor {
 public:
  void Add(absl::string_view secret);
  bool empty() const { return secrets_.empty(); }
  std::string Scrub(absl::string_view text) const;
  // Scrubs the message and every detail key and value.
  void ScrubResult(CheckResult* result) const;

 private:
  std::vector<std::string> secrets_;
};

// "12.3ms", "1.25s".
std::string FormatLatency(absl::Duration d);

// Sets observed_value (seconds), observed_unit "seconds" and
// details["latency_ms"].
void SetLatency(CheckResult* result, absl::Duration latency);

// UNHEALTHY with `status`'s message and details["reason"] = its FailureKind
// name (or `reason` when given).
CheckResult FailureResult(const absl::Status& status,
                          absl::string_view reason = "");

}  // namespace internal
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_INTERNAL_RESULT_UTIL_H_
