#include "health/http/prometheus.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "health/http/internal/utf8.h"

namespace vigil {
namespace http {
namespace internal {
std::string FormatPrometheusValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size();) {
    const char c = value[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      const size_t len = Utf8SequenceLength(value, i);
      if (len == 0) {
        out.append(kReplacementCharacter.data(), kReplacementCharacter.size());
        ++i;
        continue;
      }
      out.append(value.data() + i, len);
      i += len;
      continue;
    }
    ++i;
  }
  return out;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : SanitizeUtf8(help)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace internal

namespace {

absl::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

}  // namespace

bool PrometheusWriter::IsValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = absl::ascii_isalpha(c) || c == '_' || c == ':' ||
                    (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool PrometheusWriter::IsValidLabelName(absl::string_view name) {
  if (name.empty() || absl::StartsWith(name, "__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        absl::ascii_isalpha(c) || c == '_' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool PrometheusWriter::BeginFamily(absl::string_view name, MetricType type,
                                   absl::string_view help) {
  family_ = std::string(name);
  family_ok_ = false;
  if (!IsValidMetricName(name)) {
    AddError(absl::StrCat("invalid metric name \"",
                          internal::EscapeLabelValue(name), "\""));
    return false;
  }
  if (type == MetricType::kCounter && !absl::EndsWith(name, "_total")) {
    AddError(absl::StrCat("counter ", name, " does not end in _total"));
    return false;
  }
  if (!written_.insert(family_).second) {
    AddError(absl::StrCat("family ", name, " written twice"));
    return false;
  }
  family_ok_ = true;
  absl::StrAppend(&out_, "# HELP ", name, " ", internal::EscapeHelp(help),
                  "\n# TYPE ", name, " ", TypeName(type), "\n");
  return true;
}

bool PrometheusWriter::Add(absl::Span<const Label> labels, double value) {
  if (!family_ok_) {
    if (family_.empty()) AddError("sample added before any family");
    return false;
  }
  std::string line = family_;
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      const absl::string_view name = labels[i].first;
      bool repeated = false;
      for (size_t j = 0; j < i; ++j) repeated |= labels[j].first == name;
      if (!IsValidLabelName(name) || repeated) {
        AddError(absl::StrCat("sample of ", family_, ": bad label name \"",
                              internal::EscapeLabelValue(name), "\""));
        return false;
      }
      if (i > 0) line += ',';
      absl::StrAppend(&line, name, "=\"",
                      internal::EscapeLabelValue(labels[i].second), "\"");
    }
    line += '}';
  }
  absl::StrAppend(&line, " ", internal::FormatPrometheusValue(value), "\n");
  out_ += line;
  return true;
}

bool PrometheusWriter::Gauge(absl::string_view name, absl::string_view help,
                             double value) {
  return BeginFamily(name, MetricType::kGauge, help) && Add(value);
}

bool PrometheusWriter::Counter(absl::string_view name, absl::string_view help,
                               double value) {
  return BeginFamily(name, MetricType::kCounter, help) && Add(value);
}

void PrometheusWriter::AddError(std::string error) {
  errors_.push_back(std::move(error));
}

}  // namespace http
}  // namespace vigil
