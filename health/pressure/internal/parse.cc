#include "health/pressure/internal/parse.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace vigil {
namespace pressure {
namespace internal {
namespace {

// Splits off the next line of `rest` (without its '\n').
absl::string_view NextLine(absl::string_view& rest) {
  size_t nl = rest.find('\n');
  absl::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl == absl::string_view::npos ? rest.size() : nl + 1);
  return line;
}

// Splits off the next whitespace-separated token of `rest`.
absl::string_view NextToken(absl::string_view& rest) {
  size_t i = 0;
  while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
  size_t j = i;
  while (j < rest.size() && rest[j] != ' ' && rest[j] != '\t') ++j;
  absl::string_view token = rest.substr(i, j - i);
  rest.remove_prefix(j);
  return token;
}

std::optional<double> ParseDouble(absl::string_view text) {
  double v;
  if (!absl::SimpleAtod(text, &v)) return std::nullopt;
  return v;
}

bool ParsePsiLine(absl::string_view rest, PsiLine* out) {
  bool avg10 = false, total = false;
  while (true) {
    absl::string_view token = NextToken(rest);
    if (token.empty()) break;
    size_t eq = token.find('=');
    if (eq == absl::string_view::npos) return false;
    absl::string_view key = token.substr(0, eq);
    absl::string_view value = token.substr(eq + 1);
    if (key == "total") {
      std::optional<uint64_t> v = ParseUint(value);
      if (!v) return false;
      out->total_us = *v;
      total = true;
    } else {
      std::optional<double> v = ParseDouble(value);
      if (!v) return false;
      if (key == "avg10") {
        out->avg10 = *v;
        avg10 = true;
      } else if (key == "avg60") {
        out->avg60 = *v;
      } else if (key == "avg300") {
        out->avg300 = *v;
      }
    }
  }
  return avg10 && total;
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

std::string Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && IsOctal(s[i + 1]) &&
        IsOctal(s[i + 2]) && IsOctal(s[i + 3])) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 +
                                      (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<uint64_t> ParseUint(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty() || text[0] == '-' || text[0] == '+') return std::nullopt;
  uint64_t v;
  if (!absl::SimpleAtoi(text, &v)) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseLimit(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  // cpu.max holds "quota period": the first token is the limit.
  absl::string_view rest = text;
  absl::string_view first = NextToken(rest);
  if (first == "max" || first == "-1") return kUnlimited;
  std::optional<uint64_t> v = ParseUint(first);
  if (!v) return std::nullopt;
  return *v >= kHugeLimit ? kUnlimited : *v;
}

int ParseFlatKeyed(absl::string_view content,
                   absl::Span<const KeyedField> fields) {
  for (const KeyedField& f : fields) f.out->reset();
  int found = 0;
  absl::string_view rest = content;
  while (!rest.empty()) {
    absl::string_view line = NextLine(rest);
    absl::string_view key = NextToken(line);
    if (key.empty()) continue;
    for (const KeyedField& f : fields) {
      if (f.key == key && !f.out->has_value()) {
        std::optional<uint64_t> v = ParseUint(line);
        if (v) {
          *f.out = *v;
          ++found;
        }
        break;
      }
    }
  }
  return found;
}

bool ParsePsi(absl::string_view content, PsiContent* out) {
  out->some.reset();
  out->full.reset();
  absl::string_view rest = content;
  while (!rest.empty()) {
    absl::string_view line = NextLine(rest);
    absl::string_view kind = NextToken(line);
    PsiLine parsed;
    if (kind == "some" && ParsePsiLine(line, &parsed)) {
      out->some = parsed;
    } else if (kind == "full" && ParsePsiLine(line, &parsed)) {
      out->full = parsed;
    }
  }
  return out->some.has_value();
}

bool ParseMeminfo(absl::string_view content, MemInfo* out) {
  out->total_bytes.reset();
  out->available_bytes.reset();
  absl::string_view rest = content;
  while (!rest.empty() &&
         (!out->total_bytes.has_value() || !out->available_bytes.has_value())) {
    absl::string_view line = NextLine(rest);
    absl::string_view key = NextToken(line);
    std::optional<uint64_t>* target = nullptr;
    if (key == "MemTotal:") {
      target = &out->total_bytes;
    } else if (key == "MemAvailable:") {
      target = &out->available_bytes;
    } else {
      continue;
    }
    absl::string_view number = NextToken(line);
    absl::string_view unit = NextToken(line);
    std::optional<uint64_t> v = ParseUint(number);
    if (!v) continue;
    *target = unit == "kB" ? *v * 1024 : *v;
  }
  return out->total_bytes.has_value();
}

bool ParseLimits(absl::string_view content, ProcLimits* out) {
  out->open_files.reset();
  out->processes.reset();
  absl::string_view rest = content;
  while (!rest.empty()) {
    absl::string_view line = NextLine(rest);
    std::optional<uint64_t>* target = nullptr;
    absl::string_view name;
    if (absl::StartsWith(line, "Max open files")) {
      target = &out->open_files;
      name = "Max open files";
    } else if (absl::StartsWith(line, "Max processes")) {
      target = &out->processes;
      name = "Max processes";
    } else {
      continue;
    }
    line.remove_prefix(name.size());
    absl::string_view soft = NextToken(line);
    if (soft == "unlimited") {
      *target = kUnlimited;
    } else if (std::optional<uint64_t> v = ParseUint(soft)) {
      *target = *v;
    }
  }
  return out->open_files.has_value() || out->processes.has_value();
}

std::optional<uint64_t> ParseStatThreads(absl::string_view content) {
  // The command name (field 2) is in parentheses and may contain spaces or
  // ')': fields resume after the last ')'. num_threads is field 20, the 18th
  // token after it (field 3 is the first).
  size_t close = content.rfind(')');
  if (close == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = content.substr(close + 1);
  absl::string_view token;
  for (int field = 3; field <= 20; ++field) {
    token = NextToken(rest);
    if (token.empty()) return std::nullopt;
  }
  return ParseUint(token);
}

std::optional<uint64_t> ParseLoadavgTasks(absl::string_view content) {
  absl::string_view rest = content;
  for (int i = 0; i < 3; ++i) {
    if (NextToken(rest).empty()) return std::nullopt;
  }
  absl::string_view running_total = NextToken(rest);
  size_t slash = running_total.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  return ParseUint(running_total.substr(slash + 1));
}

std::vector<CgroupEntry> ParseProcCgroup(absl::string_view content) {
  std::vector<CgroupEntry> entries;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    if (line.empty()) continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    CgroupEntry e;
    if (!absl::SimpleAtoi(parts[0], &e.id)) continue;
    for (absl::string_view c :
         absl::StrSplit(parts[1], ',', absl::SkipEmpty())) {
      e.controllers.emplace_back(c);
    }
    e.path = std::string(parts[2]);
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<MountEntry> ParseMountinfo(absl::string_view content) {
  std::vector<MountEntry> mounts;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    if (line.empty()) continue;
    size_t sep = line.find(" - ");
    if (sep == absl::string_view::npos) continue;
    std::vector<absl::string_view> head =
        absl::StrSplit(line.substr(0, sep), ' ', absl::SkipEmpty());
    std::vector<absl::string_view> tail =
        absl::StrSplit(line.substr(sep + 3), ' ', absl::SkipEmpty());
    if (head.size() < 5 || tail.empty()) continue;
    MountEntry m;
    m.root = Unescape(head[3]);
    m.mount_point = Unescape(head[4]);
    m.fs_type = std::string(tail[0]);
    if (tail.size() >= 3) m.super_options = std::string(tail[2]);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil
