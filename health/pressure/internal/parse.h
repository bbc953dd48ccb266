// Parsers for every /proc and /sys file format the detectors read.
//
// One parser per file format, and each file is parsed only here. Steady-
// state parsers (everything a detector calls per sample) work on string_view
// and fixed structs and never allocate; the creation-time parsers
// (/proc/<pid>/cgroup, mountinfo) return vectors.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_PARSE_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_PARSE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace vigil {
namespace pressure {
namespace internal {

// A limit value meaning "no limit".
inline constexpr uint64_t kUnlimited = UINT64_MAX;

// Values at or above this are treated as unlimited: cgroup v1 reports "no
// limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages),
// and no machine has 4 EiB of anything.
inline constexpr uint64_t kHugeLimit = uint64_t{1} << 62;

// A decimal unsigned integer, surrounding ASCII whitespace allowed; no sign,
// nullopt past UINT64_MAX. Does not allocate or call strtoul.
std::optional<uint64_t> ParseUint(absl::string_view text);

// A single-value limit file: memory.max, memory.high, pids.max,
// memory.limit_in_bytes, cpu.cfs_quota_us. "max" (v2), "-1" (v1 quota) and
// huge values give kUnlimited.
std::optional<uint64_t> ParseLimit(absl::string_view text);

// One field of a flat keyed file ("key value" per line): memory.stat,
// memory.events, memory.oom_control, cpu.stat.
struct KeyedField {
  absl::string_view key;
  std::optional<uint64_t>* out;
};
// Fills every field whose key is present (others are reset to nullopt) in one
// pass, each from the first line where its value parses; stops reading once
// all are filled. Returns the number of fields found.
int ParseFlatKeyed(absl::string_view content,
                   absl::Span<const KeyedField> fields);

// cpu.stat of a CPU cgroup, v2 or v1: the CFS bandwidth (quota) counters,
// cumulative since the cgroup was created. The one reader of throttling:
// the CPU detector (health/pressure/cpu.cc) and the watchdog's starvation
// check (watchdog/internal/procfs.cc) both take their figures from here.
//   v2: nr_periods 1200 / nr_throttled 149 / throttled_usec 7000000
//   v1: nr_periods 500 / nr_throttled 50 / throttled_time 2500000000 (ns)
struct CpuStat {
  std::optional<uint64_t> nr_periods;
  std::optional<uint64_t> nr_throttled;
  // Time throttled: throttled_usec (v2), else throttled_time (v1, ns).
  // A counter past INT64_MAX gives absl::InfiniteDuration().
  std::optional<absl::Duration> throttled;
};
// Resets *out and fills every counter present, in one pass. Returns false
// when none is (a cgroup without the cpu controller). Does not allocate.
bool ParseCpuStat(absl::string_view content, CpuStat* out);

// /proc/pressure/<resource> and <cgroup>/<resource>.pressure:
//   some avg10=0.12 avg60=0.05 avg300=0.01 total=12345
//   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
struct PsiLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_us = 0;
};
struct PsiContent {
  std::optional<PsiLine> some;
  std::optional<PsiLine> full;  // Absent for system CPU before Linux 5.13.
};
// False when there is no parseable "some" line.
bool ParsePsi(absl::string_view content, PsiContent* out);

// /proc/meminfo: the fields vigil uses, in bytes.
struct MemInfo {
  std::optional<uint64_t> total_bytes;      // MemTotal
  std::optional<uint64_t> available_bytes;  // MemAvailable (Linux 3.14+)
};
// False when MemTotal is missing.
bool ParseMeminfo(absl::string_view content, MemInfo* out);

// /proc/<pid>/limits: soft limits vigil uses (kUnlimited for "unlimited").
struct ProcLimits {
  std::optional<uint64_t> open_files;  // "Max open files" (RLIMIT_NOFILE)
  std::optional<uint64_t> processes;   // "Max processes" (RLIMIT_NPROC)
};
// False when neither limit is present.
bool ParseLimits(absl::string_view content, ProcLimits* out);

// /proc/<pid>/stat: field 20, num_threads.
std::optional<uint64_t> ParseStatThreads(absl::string_view content);

// /proc/loadavg: "0.00 0.01 0.05 1/123 4567": the 123 (tasks in the system).
std::optional<uint64_t> ParseLoadavgTasks(absl::string_view content);

// /proc/<pid>/cgroup, one entry per line "id:controllers:path". Version 2 is
// the line with id 0 and no controllers; "name=systemd" style named
// hierarchies are kept as controllers. The path is made canonical as
// mountinfo's are (ParseMountinfo); ".." components are kept.
struct CgroupEntry {
  int id = 0;
  std::vector<std::string> controllers;
  std::string path;
};
std::vector<CgroupEntry> ParseProcCgroup(absl::string_view content);

// /proc/<pid>/mountinfo, the fields vigil needs, with octal escapes (\040)
// decoded and root and mount point made canonical (empty and "."
// components dropped, as in "/a//./b/" -> "/a/b"). A line whose root or
// mount point is not an absolute path is skipped.
struct MountEntry {
  std::string root;         // Field 4: the mounted subtree.
  std::string mount_point;  // Field 5.
  std::string fs_type;      // After the " - " separator.
  std::string super_options;
};
std::vector<MountEntry> ParseMountinfo(absl::string_view content);

}  // namespace internal
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_PARSE_H_
