#include "health/pressure/internal/parse.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace vigil {
namespace pressure {
namespace internal {
namespace {

// The characters absl::ascii_isspace accepts, without the call through a
// function pointer that absl::StripAsciiWhitespace makes per character.
inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::string_view StripSpace(absl::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Position of the first `c` in `s`, or npos: memchr, which Debian's Abseil
// string_view::find (an out-of-line call) does not inline.
size_t Find(absl::string_view s, char c) {
  if (s.empty()) return absl::string_view::npos;
  const void* p = std::memchr(s.data(), c, s.size());
  return p == nullptr
             ? absl::string_view::npos
             : static_cast<size_t>(static_cast<const char*>(p) - s.data());
}

// Position of the last `c` in `s`, or npos.
size_t FindLast(absl::string_view s, char c) {
  if (s.empty()) return absl::string_view::npos;
  const void* p = memrchr(s.data(), c, s.size());
  return p == nullptr
             ? absl::string_view::npos
             : static_cast<size_t>(static_cast<const char*>(p) - s.data());
}

// Splits off the next line of `rest` (without its '\n').
inline absl::string_view NextLine(absl::string_view& rest) {
  const size_t nl = Find(rest, '\n');
  absl::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl == absl::string_view::npos ? rest.size() : nl + 1);
  return line;
}

// Splits off the next whitespace-separated token of `rest`.
inline absl::string_view NextToken(absl::string_view& rest) {
  const char* p = rest.data();
  const char* const end = p + rest.size();
  while (p < end && (*p == ' ' || *p == '\t')) ++p;
  const char* q = p;
  while (q < end && *q != ' ' && *q != '\t') ++q;
  rest = absl::string_view(q, static_cast<size_t>(end - q));
  return absl::string_view(p, static_cast<size_t>(q - p));
}

// Digits only (no sign, no whitespace), at least one, no overflow: what
// absl::SimpleAtoi accepts for uint64_t once whitespace and sign are gone.
bool ParseDigits(absl::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    if (__builtin_mul_overflow(v, uint64_t{10}, &v) ||
        __builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v)) {
      return false;
    }
  }
  *out = v;
  return true;
}

// Powers of ten that are exact doubles.
constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

// At most this many digits in the fast path: the integer they form is below
// 2^53 and so exact as a double.
constexpr int kMaxExactDigits = 15;

std::optional<double> ParseDouble(absl::string_view text) {
  // Fast path for what the kernel writes ("12.34", "0.00", "7"): the digits
  // as an integer n with f of them after the point, then n / 10^f. Both
  // operands are exact and IEEE division rounds correctly, so the result is
  // the double nearest the decimal, the same one strtod / SimpleAtod give.
  // Anything else (sign, exponent, whitespace, more digits) takes the
  // general parser.
  uint64_t n = 0;
  int digits = 0, fraction = 0;
  size_t i = 0;
  while (i < text.size() && IsDigit(text[i]) && digits < kMaxExactDigits) {
    n = n * 10 + static_cast<uint64_t>(text[i++] - '0');
    ++digits;
  }
  bool fast = digits > 0;
  if (fast && i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i]) && digits < kMaxExactDigits) {
      n = n * 10 + static_cast<uint64_t>(text[i++] - '0');
      ++digits;
      ++fraction;
    }
    fast = fraction > 0;
  }
  if (fast && i == text.size()) {
    return static_cast<double>(n) / kPow10[fraction];
  }
  double v;
  if (!absl::SimpleAtod(text, &v)) return std::nullopt;
  return v;
}

// Whether `s` is the string literal `lit`: a constant-length comparison the
// compiler inlines.
template <size_t N>
inline bool Is(absl::string_view s, const char (&lit)[N]) {
  return s.size() == N - 1 && std::memcmp(s.data(), lit, N - 1) == 0;
}

// "avg10=0.12 avg60=0.05 avg300=0.01 total=12345": each blank-separated
// token is key=value, split at its first '='. Every value must parse;
// unknown keys are checked and ignored.
bool ParsePsiLine(absl::string_view rest, PsiLine* out) {
  bool avg10 = false, total = false;
  while (true) {
    const absl::string_view token = NextToken(rest);
    if (token.empty()) break;
    const size_t eq = Find(token, '=');
    if (eq == absl::string_view::npos) return false;
    const absl::string_view key = token.substr(0, eq);
    const absl::string_view value = token.substr(eq + 1);
    if (Is(key, "total")) {
      std::optional<uint64_t> v = ParseUint(value);
      if (!v) return false;
      out->total_us = *v;
      total = true;
    } else {
      std::optional<double> v = ParseDouble(value);
      if (!v) return false;
      if (Is(key, "avg10")) {
        out->avg10 = *v;
        avg10 = true;
      } else if (Is(key, "avg60")) {
        out->avg60 = *v;
      } else if (Is(key, "avg300")) {
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
  uint64_t v;
  if (!ParseDigits(StripSpace(text), &v)) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseLimit(absl::string_view text) {
  text = StripSpace(text);
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
  const int wanted = static_cast<int>(fields.size());
  absl::string_view rest = content;
  // Every field takes its first parseable occurrence: once all are filled,
  // the rest of the file cannot change the result.
  while (!rest.empty() && found < wanted) {
    absl::string_view line = NextLine(rest);
    while (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      line.remove_prefix(1);
    }
    // The key is the first token: the line starts with it and a blank or
    // the end of the line follows. Compared in place rather than split off
    // first, so most lines cost a length and a first-byte comparison.
    for (const KeyedField& f : fields) {
      const size_t k = f.key.size();
      if (k == 0 || line.size() < k || line[0] != f.key[0]) continue;
      if (line.size() > k && line[k] != ' ' && line[k] != '\t') continue;
      if (std::memcmp(line.data(), f.key.data(), k) != 0) continue;
      if (f.out->has_value()) continue;  // A repeated key in `fields`.
      std::optional<uint64_t> v = ParseUint(line.substr(k));
      if (v) {
        *f.out = *v;
        ++found;
      }
      break;
    }
  }
  return found;
}

bool ParseCpuStat(absl::string_view content, CpuStat* out) {
  std::optional<uint64_t> usec, nsec;
  const KeyedField fields[] = {{"nr_periods", &out->nr_periods},
                               {"nr_throttled", &out->nr_throttled},
                               {"throttled_usec", &usec},
                               {"throttled_time", &nsec}};
  const int found = ParseFlatKeyed(content, fields);
  // Past INT64_MAX the int64 factories would wrap to negative durations.
  constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);
  if (usec) {
    out->throttled = *usec > kMax
                         ? absl::InfiniteDuration()
                         : absl::Microseconds(static_cast<int64_t>(*usec));
  } else if (nsec) {
    out->throttled = *nsec > kMax
                         ? absl::InfiniteDuration()
                         : absl::Nanoseconds(static_cast<int64_t>(*nsec));
  } else {
    out->throttled.reset();
  }
  return found > 0;
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
  size_t close = FindLast(content, ')');
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
  size_t slash = Find(running_total, '/');
  if (slash == absl::string_view::npos) return std::nullopt;
  return ParseUint(running_total.substr(slash + 1));
}

namespace {

// "/a//./b/" -> "/a/b": drops empty and "." components ("..", which a
// cgroup namespace legitimately writes, stays). The kernel writes these
// paths canonical, so the rest only comes from a hand-written or corrupted
// file; dropping it keeps a path built from a mount point or cgroup
// lexically under it.
std::string CanonicalPath(absl::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (!out.empty() || path[0] == '/') out.push_back('/');
    out.append(part.data(), part.size());
  }
  if (out.empty() && !path.empty() && path[0] == '/') out = "/";
  return out;
}

}  // namespace

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
    e.path = CanonicalPath(parts[2]);
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
    m.root = CanonicalPath(Unescape(head[3]));
    m.mount_point = CanonicalPath(Unescape(head[4]));
    // The kernel writes both as absolute paths; anything else cannot be
    // followed as a directory.
    if (m.root.empty() || m.root[0] != '/' || m.mount_point.empty() ||
        m.mount_point[0] != '/') {
      continue;
    }
    m.fs_type = std::string(tail[0]);
    if (tail.size() >= 3) m.super_options = std::string(tail[2]);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil
