#include "watchdog/internal/procfs.h"

#include <cerrno>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/parse.h"

namespace vigil {
namespace internal {
namespace {

// The value after "Key:" in a "Key:\tvalue" file such as /proc/self/status.
absl::StatusOr<int64_t> StatusField(absl::string_view root,
                                    absl::string_view key) {
  const std::string path = RootedPath(root, "/proc/self/status");
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
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

// The value of `key` in a flat keyed file ("key value" lines: cpu.stat).
std::optional<int64_t> KeyedValue(absl::string_view text,
                                  absl::string_view key) {
  std::optional<uint64_t> value;
  const pressure::internal::KeyedField fields[] = {{key, &value}};
  pressure::internal::ParseFlatKeyed(text, fields);
  if (!value) return std::nullopt;
  return static_cast<int64_t>(*value);
}

}  // namespace

std::string RootedPath(absl::string_view root, absl::string_view path) {
  return pressure::internal::JoinRoot(root, path);
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::string out;
  int error = 0;
  if (pressure::internal::ReadWholeFile(path, &out, &error)) return out;
  if (error == ENOENT) return absl::NotFoundError(path + ": not found");
  return absl::InternalError(
      absl::StrCat(path, ": ", pressure::internal::ErrorText(error)));
}

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
  absl::StatusOr<std::string> comm = ReadSmallFile(
      RootedPath(root, absl::StrCat("/proc/self/task/", tid, "/comm")));
  if (!comm.ok()) return "";
  return std::string(absl::StripTrailingAsciiWhitespace(*comm));
}

absl::StatusOr<std::vector<std::string>> Cmdline(absl::string_view root) {
  absl::StatusOr<std::string> raw =
      ReadSmallFile(RootedPath(root, "/proc/self/cmdline"));
  if (!raw.ok()) return raw.status();
  std::vector<std::string> argv;
  absl::string_view rest = *raw;
  absl::ConsumeSuffix(&rest, absl::string_view("\0", 1));
  if (rest.empty()) return absl::InternalError("empty /proc/self/cmdline");
  for (absl::string_view arg : absl::StrSplit(rest, '\0')) {
    argv.emplace_back(arg);
  }
  return argv;
}

CpuStarvationSample SampleCpuStarvation(absl::string_view root) {
  CpuStarvationSample sample;
  absl::StatusOr<std::string> cgroups =
      ReadSmallFile(RootedPath(root, "/proc/self/cgroup"));
  if (!cgroups.ok()) return sample;
  std::optional<std::string> v2_path;
  std::optional<std::pair<std::string, std::string>> v1_cpu;  // mount, path
  for (const pressure::internal::CgroupEntry& e :
       pressure::internal::ParseProcCgroup(*cgroups)) {
    if (e.id == 0 && e.controllers.empty()) {
      v2_path = e.path;
      continue;
    }
    for (const std::string& controller : e.controllers) {
      if (controller == "cpu") {
        v1_cpu = std::make_pair(absl::StrJoin(e.controllers, ","), e.path);
      }
    }
  }
  if (v2_path.has_value()) {
    // Pure v2 mounts the hierarchy at /sys/fs/cgroup; a v1/v2 hybrid at
    // /sys/fs/cgroup/unified.
    std::string base = RootedPath(root, "/sys/fs/cgroup");
    if (!pressure::internal::PathExists(base + "/cgroup.controllers")) {
      base += "/unified";
    }
    const std::string dir =
        *v2_path == "/" ? base : absl::StrCat(base, *v2_path);
    if (absl::StatusOr<std::string> stat = ReadSmallFile(dir + "/cpu.stat");
        stat.ok()) {
      if (std::optional<int64_t> us = KeyedValue(*stat, "throttled_usec")) {
        sample.throttled = absl::Microseconds(*us);
        sample.sources.push_back(dir + "/cpu.stat");
      }
    }
    if (*v2_path != "/") {
      if (absl::StatusOr<std::string> psi =
              ReadSmallFile(dir + "/cpu.pressure");
          psi.ok()) {
        pressure::internal::PsiContent content;
        if (pressure::internal::ParsePsi(*psi, &content) && content.some) {
          sample.cpu_pressure_some =
              absl::Microseconds(static_cast<int64_t>(content.some->total_us));
          sample.sources.push_back(dir + "/cpu.pressure");
        }
      }
    }
  }
  if (!sample.throttled.has_value() && v1_cpu.has_value()) {
    const std::string dir =
        absl::StrCat(RootedPath(root, "/sys/fs/cgroup/"), v1_cpu->first,
                     v1_cpu->second == "/" ? "" : v1_cpu->second);
    if (absl::StatusOr<std::string> stat = ReadSmallFile(dir + "/cpu.stat");
        stat.ok()) {
      if (std::optional<int64_t> ns = KeyedValue(*stat, "throttled_time")) {
        sample.throttled = absl::Nanoseconds(*ns);
        sample.sources.push_back(dir + "/cpu.stat");
      }
    }
  }
  return sample;
}

}  // namespace internal
}  // namespace vigil
