#include "health/checks/internal/result_util.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace vigil {
namespace checks {
namespace internal {

std::string SanitizeCheckName(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '[' || c == ']') continue;
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    c == '_' || c == '.' || c == ':' || c == '/' || c == '@' ||
                    c == '-';
    out.push_back(ok ? c : '_');
  }
  if (out.size() > 128) out.resize(128);
  if (out.empty()) out = "check";
  return out;
}

std::string KeepTail(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  return absl::StrCat("...", text.substr(text.size() - (max - 3)));
}

void Redactor::Add(absl::string_view secret) {
  if (secret.size() < 4) return;
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) {
    return;
  }
  secrets_.emplace_back(secret);
  // Longest first, so a secret containing another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() > b.size();
            });
}

std::string Redactor::Scrub(absl::string_view text) const {
  std::string out(text);
  for (const std::string& s : secrets_) {
    out = absl::StrReplaceAll(out, {{s, "****"}});
  }
  return out;
}

void Redactor::ScrubResult(CheckResult* result) const {
  if (secrets_.empty()) return;
  result->message = Scrub(result->message);
  std::map<std::string, std::string> details;
  for (const auto& [k, v] : result->details) details[Scrub(k)] = Scrub(v);
  result->details = std::move(details);
}

std::string FormatLatency(absl::Duration d) {
  if (d < absl::Seconds(1)) {
    return absl::StrFormat("%.1fms", absl::ToDoubleMilliseconds(d));
  }
  return absl::StrFormat("%.2fs", absl::ToDoubleSeconds(d));
}

void SetLatency(CheckResult* result, absl::Duration latency) {
  if (latency < absl::ZeroDuration()) latency = absl::ZeroDuration();
  result->observed_value = absl::ToDoubleSeconds(latency);
  result->observed_unit = "seconds";
  result->details["latency_ms"] =
      absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(latency));
}

CheckResult FailureResult(const absl::Status& status,
                          absl::string_view reason) {
  CheckResult r = CheckResult::Unhealthy(std::string(status.message()));
  r.details["reason"] = reason.empty()
                            ? std::string(FailureKindName(KindOf(status)))
                            : std::string(reason);
  return r;
}

}  // namespace internal
}  // namespace checks
}  // namespace vigil
