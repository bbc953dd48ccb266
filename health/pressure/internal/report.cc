#include "health/pressure/internal/report.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "health/status.h"

namespace vigil {
namespace pressure {
namespace internal {

int SignalSet::Add(const char* name) {
  if (size_ >= kMaxSignals) return kMaxSignals - 1;
  signals_[size_].name = name;
  return size_++;
}

void SignalSet::Ok(int i) {
  signals_[i].state = State::kOk;
  signals_[i].path = nullptr;
  signals_[i].error = 0;
}

void SignalSet::Failed(int i, const KeptOpenFile& file) {
  Failed(i, &file.path(), file.error());
}

void SignalSet::Failed(int i, const std::string* path, int error) {
  signals_[i].state = State::kFailed;
  signals_[i].path = path;
  signals_[i].error = error;
}

void SignalSet::Unavailable(int i, const char* why) {
  signals_[i].state = State::kUnavailable;
  signals_[i].why = why;
}

void SignalSet::NotApplicable(int i, const char* why) {
  signals_[i].state = State::kNotApplicable;
  signals_[i].why = why;
}

bool SignalSet::any_ok() const {
  for (int i = 0; i < size_; ++i) {
    if (signals_[i].state == State::kOk) return true;
  }
  return false;
}

std::string SignalSet::UnavailableText() const {
  std::vector<std::string> parts;
  for (int i = 0; i < size_; ++i) {
    const Signal& s = signals_[i];
    if (s.state == State::kFailed) {
      parts.push_back(absl::StrCat(s.name, ": ", s.path ? *s.path : "",
                                   s.path ? ": " : "", ErrorText(s.error)));
    } else if (s.state == State::kUnavailable) {
      parts.push_back(absl::StrCat(s.name, ": ", s.why));
    }
  }
  return absl::StrJoin(parts, "; ");
}

void SignalSet::AddDetails(std::map<std::string, std::string>* details) const {
  std::vector<absl::string_view> used;
  std::vector<std::string> not_applicable;
  for (int i = 0; i < size_; ++i) {
    const Signal& s = signals_[i];
    if (s.state == State::kOk) used.push_back(s.name);
    if (s.state == State::kNotApplicable) {
      not_applicable.push_back(absl::StrCat(s.name, ": ", s.why));
    }
  }
  (*details)["signals"] = absl::StrJoin(used, ",");
  std::string unavailable = UnavailableText();
  if (!unavailable.empty()) (*details)["unavailable"] = std::move(unavailable);
  if (!not_applicable.empty()) {
    (*details)["not_applicable"] = absl::StrJoin(not_applicable, "; ");
  }
}

CheckOptions PressureCheckOptions(absl::Duration interval, bool critical) {
  CheckOptions o;
  o.interval = interval;
  o.timeout = absl::Seconds(2);
  o.failure_threshold = 1;
  o.success_threshold = 1;
  o.critical = critical;
  o.groups = {std::string(kReadiness)};
  o.kind = CheckKind::kSelf;
  return o;
}

std::string FormatNumber(double v, int decimals) {
  std::string s = absl::StrFormat("%.*f", decimals, v);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string FormatBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B",   "KiB", "MiB",
                                           "GiB", "TiB", "PiB"};
  double v = bytes;
  int u = 0;
  while (std::fabs(v) >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return absl::StrCat(FormatNumber(v, 0), " B");
  return absl::StrCat(absl::StrFormat("%.1f", v), " ", kUnits[u]);
}

std::string FormatRatio(double ratio) {
  return absl::StrCat(absl::StrFormat("%.1f", ratio * 100), "%");
}

std::string FormatDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const double s = absl::ToDoubleSeconds(d);
  if (s < 1) return absl::StrCat(static_cast<int64_t>(s * 1000), "ms");
  if (s < 60) return absl::StrFormat("%.1fs", s);
  const int64_t total = static_cast<int64_t>(s);
  if (total < 3600) return absl::StrFormat("%dm%02ds", total / 60, total % 60);
  if (total < 86400) {
    return absl::StrFormat("%dh%02dm", total / 3600, (total % 3600) / 60);
  }
  return absl::StrFormat("%dd%02dh", total / 86400, (total % 86400) / 3600);
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil
