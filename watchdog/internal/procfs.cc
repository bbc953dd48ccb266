#include "watchdog/internal/procfs.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

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

// The integer after `key ` on its own line of a "key value" file.
std::optional<int64_t> KeyedValue(absl::string_view text,
                                  absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, " ")) {
      continue;
    }
    int64_t value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) {
      return value;
    }
  }
  return std::nullopt;
}

// "some avg10=.. avg60=.. avg300=.. total=N" -> N (microseconds).
std::optional<int64_t> PressureSomeTotal(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "some ")) continue;
    for (absl::string_view field : absl::StrSplit(line, ' ')) {
      if (absl::ConsumePrefix(&field, "total=")) {
        int64_t value = 0;
        if (absl::SimpleAtoi(field, &value)) return value;
      }
    }
  }
  return std::nullopt;
}

bool Exists(const std::string& path) {
  std::ifstream f(path);
  return f.good();
}

}  // namespace

std::string RootedPath(absl::string_view root, absl::string_view path) {
  absl::string_view r = root;
  while (absl::ConsumeSuffix(&r, "/")) {
  }
  return absl::StrCat(r, path);
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(path + ": not found");
    return absl::InternalError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
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
  for (absl::string_view line : absl::StrSplit(*cgroups, '\n')) {
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    if (parts[0] == "0" && parts[1].empty()) {
      v2_path = std::string(parts[2]);
      continue;
    }
    for (absl::string_view controller : absl::StrSplit(parts[1], ',')) {
      if (controller == "cpu") {
        v1_cpu = std::make_pair(std::string(parts[1]), std::string(parts[2]));
      }
    }
  }
  if (v2_path.has_value()) {
    // Pure v2 mounts the hierarchy at /sys/fs/cgroup; a v1/v2 hybrid at
    // /sys/fs/cgroup/unified.
    std::string base = RootedPath(root, "/sys/fs/cgroup");
    if (!Exists(base + "/cgroup.controllers")) base += "/unified";
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
        if (std::optional<int64_t> us = PressureSomeTotal(*psi)) {
          sample.cpu_pressure_some = absl::Microseconds(*us);
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
