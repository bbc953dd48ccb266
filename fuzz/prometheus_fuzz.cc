// Fuzzes Prometheus exposition output (health/http/prometheus.h) with a
// round-trip property: whatever names, help text, label values and values
// a caller passes, what the writer emits is accepted by a strict parser of
// the text format 0.0.4 written here (each line HELP, TYPE or a sample;
// names and label names by the format's grammar; only \\ \" \n escapes;
// valid UTF-8), and parses back to what was written: label values and help
// as given (invalid UTF-8 bytes replaced by U+FFFD), values bit for bit.
// promtool cross-checks the same writer in //health/http:promtool_test.
//
// The input is six parts cut at "\n%%\n": metric name, help, two label
// names, two label values; the first byte picks the type and the value.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/split_input.h"
#include "health/http/internal/utf8.h"
#include "health/http/prometheus.h"

namespace {

using vigil::http::internal::IsValidUtf8;
using vigil::http::internal::SanitizeUtf8;

bool IsMetricName(absl::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!(absl::ascii_isalpha(c) || c == '_' || c == ':' ||
          (i > 0 && absl::ascii_isdigit(c)))) {
      return false;
    }
  }
  return true;
}

bool IsLabelName(absl::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!(absl::ascii_isalpha(c) || c == '_' ||
          (i > 0 && absl::ascii_isdigit(c)))) {
      return false;
    }
  }
  return true;
}

// Undoes the format's escapes; false on any other backslash sequence, a raw
// newline, or (for label values) an unescaped quote.
bool Unescape(absl::string_view in, bool label_value, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\n') return false;
    if (label_value && c == '"') return false;
    if (c != '\\') {
      *out += c;
      continue;
    }
    if (++i == in.size()) return false;
    if (in[i] == '\\') {
      *out += '\\';
    } else if (in[i] == 'n') {
      *out += '\n';
    } else if (in[i] == '"' && label_value) {
      *out += '"';
    } else {
      return false;
    }
  }
  return true;
}

// The format's float: Go's ParseFloat accepts what strtod does here, plus
// NaN and +Inf/-Inf spelled so.
bool ParseValue(absl::string_view s, double* v) {
  if (s == "NaN") {
    *v = NAN;
    return true;
  }
  if (s == "+Inf" || s == "-Inf") {
    *v = s[0] == '+' ? INFINITY : -INFINITY;
    return true;
  }
  if (s.empty() || absl::StrContains(s, "n") || absl::StrContains(s, "N") ||
      absl::StrContains(s, "x") || absl::StrContains(s, "X")) {
    return false;
  }
  const std::string z(s);
  char* end = nullptr;
  *v = std::strtod(z.c_str(), &end);
  return end == z.c_str() + z.size();
}

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// Parses `line` (without '\n') as a sample; false if it is not one.
bool ParseSample(absl::string_view line, Sample* s) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  s->name = std::string(line.substr(0, i));
  if (!IsMetricName(s->name) || i == line.size()) return false;
  if (line[i] == '{') {
    ++i;
    while (true) {
      const size_t eq = line.find('=', i);
      if (eq == absl::string_view::npos) return false;
      const absl::string_view name = line.substr(i, eq - i);
      if (!IsLabelName(name) || eq + 1 >= line.size() || line[eq + 1] != '"') {
        return false;
      }
      size_t j = eq + 2;
      while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
      if (j >= line.size()) return false;
      std::string value;
      if (!Unescape(line.substr(eq + 2, j - eq - 2), true, &value) ||
          !IsValidUtf8(value)) {
        return false;
      }
      s->labels.emplace_back(std::string(name), std::move(value));
      i = j + 1;
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return false;
    }
  }
  if (i >= line.size() || line[i] != ' ') return false;
  return ParseValue(line.substr(i + 1), &s->value);
}

bool SameValue(double a, double b) {
  if (std::isnan(a)) return std::isnan(b);
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  const uint8_t type_byte = data[0];
  double value;
  std::memcpy(&value, data + 1, sizeof(value));
  const std::vector<std::string> p =
      vigil::fuzz::SplitInput(data + 9, size - 9, 6);
  const std::string& name = p[0];
  const std::string& help = p[1];
  const vigil::http::MetricType type =
      static_cast<vigil::http::MetricType>(type_byte % 3);

  vigil::http::PrometheusWriter w;
  const bool family = w.BeginFamily(name, type, help);
  const bool sample = w.Add({{p[2], p[4]}, {p[3], p[5]}}, value);
  // Leaving out a bad family or sample is recorded, never silent.
  if (!family || !sample) FUZZ_CHECK(!w.errors().empty());
  for (const std::string& e : w.errors()) FUZZ_CHECK(!e.empty());
  const std::string& text = w.text();
  FUZZ_CHECK(IsValidUtf8(text));
  if (!family) {
    FUZZ_CHECK(text.empty());
    return 0;
  }
  FUZZ_CHECK(absl::EndsWith(text, "\n"));
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  lines.pop_back();  // After the last '\n'.
  FUZZ_CHECK(lines.size() == (sample ? 3u : 2u));

  const std::string help_prefix = "# HELP " + name + " ";
  FUZZ_CHECK(absl::StartsWith(lines[0], help_prefix));
  std::string help_back;
  FUZZ_CHECK(Unescape(lines[0].substr(help_prefix.size()), false, &help_back));
  FUZZ_CHECK(help_back == SanitizeUtf8(help));
  static const char* const kTypes[] = {"gauge", "counter", "untyped"};
  FUZZ_CHECK(lines[1] == "# TYPE " + name + " " + kTypes[type_byte % 3]);
  if (type == vigil::http::MetricType::kCounter) {
    FUZZ_CHECK(absl::EndsWith(name, "_total"));
  }

  if (!sample) return 0;
  Sample s;
  FUZZ_CHECK(ParseSample(lines[2], &s));
  FUZZ_CHECK(s.name == name);
  FUZZ_CHECK(s.labels.size() == 2);
  FUZZ_CHECK(s.labels[0].first == p[2] && s.labels[1].first == p[3]);
  FUZZ_CHECK(s.labels[0].first != s.labels[1].first);
  FUZZ_CHECK(!absl::StartsWith(s.labels[0].first, "__"));
  FUZZ_CHECK(s.labels[0].second == SanitizeUtf8(p[4]));
  FUZZ_CHECK(s.labels[1].second == SanitizeUtf8(p[5]));
  FUZZ_CHECK(SameValue(s.value, value));
  return 0;
}
