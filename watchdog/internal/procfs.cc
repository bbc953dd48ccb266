#include "watchdog/internal/procfs.h"

#include <cerrno>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "health/pressure/internal/cgroup.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/parse.h"

namespace vigil {
namespace internal {
namespace {

using pressure::internal::JoinRoot;
using pressure::internal::ReadWholeFile;

// Why ReadWholeFile failed on `path`, as the status the watchdog's calls
// return: NotFound for ENOENT, else Internal.
absl::Status ReadError(const std::string& path, int error) {
  if (error == ENOENT) return absl::NotFoundError(path + ": not found");
  return absl::InternalError(
      absl::StrCat(path, ": ", pressure::internal::ErrorText(error)));
}

// The value after "Key:" in a "Key:\tvalue" file such as /proc/self/status.
absl::StatusOr<int64_t> StatusField(absl::string_view root,
                                    absl::string_view key) {
  const std::string path = JoinRoot(root, "/proc/self/status");
  std::string text;
  int error = 0;
  if (!ReadWholeFile(path, &text, &error)) return ReadError(path, error);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) {
      continue;
    }
    int64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) {
      return absl::InternalError(absl::StrCat(path, ": bad ", key, " line"));
    }
    return value;
  }
  return absl::NotFoundError(absl::StrCat(path, ": no ", key, " line"));
}

}  // namespace

absl::StatusOr<pid_t> TracerPid(absl::string_view root) {
  absl::StatusOr<int64_t> v = StatusField(root, "TracerPid");
  if (!v.ok()) return v.status();
  return static_cast<pid_t>(*v);
}

absl::StatusOr<int> ThreadCount(absl::string_view root) {
  absl::StatusOr<int64_t> v = StatusField(root, "Threads");
  if (!v.ok()) return v.status();
  return static_cast<int>(*v);
}

std::string ThreadName(absl::string_view root, pid_t tid) {
  std::string comm;
  int error = 0;
  if (!ReadWholeFile(
          JoinRoot(root, absl::StrCat("/proc/self/task/", tid, "/comm")), &comm,
          &error)) {
    return "";
  }
  return std::string(absl::StripTrailingAsciiWhitespace(comm));
}

absl::StatusOr<std::vector<std::string>> Cmdline(absl::string_view root) {
  const std::string path = JoinRoot(root, "/proc/self/cmdline");
  std::string raw;
  int error = 0;
  if (!ReadWholeFile(path, &raw, &error)) return ReadError(path, error);
  std::vector<std::string> argv;
  absl::string_view rest = raw;
  absl::ConsumeSuffix(&rest, absl::string_view("\0", 1));
  if (rest.empty()) return absl::InternalError("empty /proc/self/cmdline");
  for (absl::string_view arg : absl::StrSplit(rest, '\0')) {
    argv.emplace_back(arg);
  }
  return argv;
}

CpuStarvationSample SampleCpuStarvation(absl::string_view root) {
  namespace p = pressure::internal;
  CpuStarvationSample sample;
  const p::CgroupLayout layout = p::ResolveCgroups(root, /*pid=*/0);
  std::string text;
  int error = 0;
  if (layout.cpu.ok()) {
    const std::string path = layout.cpu.full_path + "/cpu.stat";
    p::CpuStat stat;
    if (ReadWholeFile(path, &text, &error) && p::ParseCpuStat(text, &stat) &&
        stat.throttled.has_value()) {
      sample.throttled = stat.throttled;
      sample.sources.push_back(path);
    }
  }
  // Only the process's own v2 cgroup: PsiDir() is empty for the root
  // cgroup, whose pressure is the machine's.
  if (const std::string dir = layout.unified.PsiDir(); !dir.empty()) {
    const std::string path = dir + "/cpu.pressure";
    p::PsiContent psi;
    if (ReadWholeFile(path, &text, &error) && p::ParsePsi(text, &psi) &&
        psi.some.has_value()) {
      sample.cpu_pressure_some =
          absl::Microseconds(static_cast<int64_t>(psi.some->total_us));
      sample.sources.push_back(path);
    }
  }
  return sample;
}

}  // namespace internal
}  // namespace vigil
