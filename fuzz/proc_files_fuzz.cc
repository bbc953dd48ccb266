// Fuzzes every /proc, cgroup v1/v2 and PSI file parser of the pressure
// detectors (health/pressure/internal/parse.h) with the same bytes:
// limits, flat keyed files (memory.stat, cpu.stat, memory.events), the
// cpu.stat throttling counters, PSI,
// meminfo, limits, stat, loadavg, /proc/<pid>/cgroup and mountinfo.
//
// Properties: a parsed PSI line, written back the way the kernel writes it
// (shortest decimals), parses to the same values; the number of keyed
// fields found is the number filled, and ParseCpuStat agrees with them;
// ParseLimit agrees with ParseUint below
// the "huge" threshold; a cgroup or mount entry never
// holds a newline; decoded mountinfo fields are no longer than the line.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "health/pressure/internal/parse.h"

namespace {

namespace p = vigil::pressure::internal;

// Shortest decimal text of `v` that parses back to it.
std::string Shortest(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  FUZZ_CHECK(ec == std::errc());
  return std::string(buf, end);
}

void CheckPsiRoundTrip(const p::PsiLine& line) {
  for (const double v : {line.avg10, line.avg60, line.avg300}) {
    // "nan" and "inf" parse (as strtod takes them); they cannot round-trip
    // through the kernel's format.
    if (!std::isfinite(v)) return;
  }
  const std::string text = absl::StrCat(
      "some avg10=", Shortest(line.avg10), " avg60=", Shortest(line.avg60),
      " avg300=", Shortest(line.avg300), " total=", line.total_us, "\n");
  p::PsiContent again;
  FUZZ_CHECK(p::ParsePsi(text, &again));
  FUZZ_CHECK(again.some->avg10 == line.avg10);
  FUZZ_CHECK(again.some->avg60 == line.avg60);
  FUZZ_CHECK(again.some->avg300 == line.avg300);
  FUZZ_CHECK(again.some->total_us == line.total_us);
  FUZZ_CHECK(!again.full.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  const std::optional<uint64_t> u = p::ParseUint(text);
  const std::optional<uint64_t> limit = p::ParseLimit(text);
  if (u.has_value() && *u < p::kHugeLimit) {
    FUZZ_CHECK(limit.has_value() && *limit == *u);
  }
  if (u.has_value()) FUZZ_CHECK(text.find_first_of("0123456789") != text.npos);

  std::optional<uint64_t> a, b, c;
  const p::KeyedField fields[] = {
      {"anon", &a}, {"throttled_usec", &b}, {"oom_kill", &c}};
  const int found = p::ParseFlatKeyed(text, fields);
  FUZZ_CHECK(found >= 0 && found <= 3);
  FUZZ_CHECK(found == a.has_value() + b.has_value() + c.has_value());
  if (a.has_value()) FUZZ_CHECK(text.find("anon") != text.npos);

  // cpu.stat: the same keys through ParseFlatKeyed.
  p::CpuStat stat;
  const bool any = p::ParseCpuStat(text, &stat);
  std::optional<uint64_t> periods, throttled, usec, nsec;
  const p::KeyedField cpu_fields[] = {{"nr_periods", &periods},
                                      {"nr_throttled", &throttled},
                                      {"throttled_usec", &usec},
                                      {"throttled_time", &nsec}};
  FUZZ_CHECK(any == (p::ParseFlatKeyed(text, cpu_fields) > 0));
  FUZZ_CHECK(stat.nr_periods == periods && stat.nr_throttled == throttled);
  FUZZ_CHECK(stat.throttled.has_value() == (usec || nsec));
  if (stat.throttled.has_value()) {
    FUZZ_CHECK(*stat.throttled >= absl::ZeroDuration());
  }

  p::PsiContent psi;
  if (p::ParsePsi(text, &psi)) {
    FUZZ_CHECK(psi.some.has_value());
    CheckPsiRoundTrip(*psi.some);
    if (psi.full.has_value()) CheckPsiRoundTrip(*psi.full);
  }

  p::MemInfo mem;
  if (p::ParseMeminfo(text, &mem)) FUZZ_CHECK(mem.total_bytes.has_value());
  p::ProcLimits limits;
  if (p::ParseLimits(text, &limits)) {
    FUZZ_CHECK(limits.open_files.has_value() || limits.processes.has_value());
  }
  p::ParseStatThreads(text);
  p::ParseLoadavgTasks(text);

  for (const p::CgroupEntry& e : p::ParseProcCgroup(text)) {
    FUZZ_CHECK(e.path.find('\n') == std::string::npos);
    FUZZ_CHECK(e.path.size() <= size);
    for (const std::string& controller : e.controllers) {
      FUZZ_CHECK(controller.find_first_of(",\n") == std::string::npos);
    }
  }
  for (const p::MountEntry& m : p::ParseMountinfo(text)) {
    // Paths are unescaped (\012 is a newline in a mount point, as the
    // kernel writes it), so only the length is bounded.
    for (const std::string* s :
         {&m.root, &m.mount_point, &m.fs_type, &m.super_options}) {
      FUZZ_CHECK(s->size() <= size);
    }
  }
  return 0;
}
