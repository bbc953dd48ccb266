// Fuzzes the watchdog's /proc and cgroup readers (watchdog/internal/
// procfs.h) through a fixture root: one input is seven files, cut at
// "\n%%\n" (split_input.h): /proc/self/status, /proc/self/cmdline,
// /proc/self/cgroup, cpu.stat and cpu.pressure of the cgroup "/app" in a
// v2 hierarchy (/sys/fs/cgroup/unified/app; its cgroup.controllers offers
// "cpu"), the cpu.stat of "/app" in a v1 cpu controller hierarchy
// (/sys/fs/cgroup/cpu,cpuacct/app), and /proc/self/mountinfo, which says
// where (and whether) each hierarchy is mounted: the sampler locates the
// cgroups through it (pressure::internal::ResolveCgroups), as the pressure
// detectors do.
//
// Properties: a status field found is the decimal on its line; cmdline's
// arguments joined with NUL give the file back (less one trailing NUL);
// every source a CPU-starvation sample names is a file of the fixture, and
// a value it reports came from a file of its kind.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/split_input.h"
#include "watchdog/internal/procfs.h"

namespace {

// The fixture root, made once per process.
const std::string& Root() {
  static const std::string* root = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string dir = std::string(tmp != nullptr ? tmp : "/dev/shm") +
                      "/vigil_procfs_fuzz." + std::to_string(getpid());
    for (const char* sub :
         {"", "/proc", "/proc/self", "/sys", "/sys/fs", "/sys/fs/cgroup",
          "/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/app",
          "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/app"}) {
      mkdir((dir + sub).c_str(), 0755);
    }
    std::ofstream(dir + "/sys/fs/cgroup/unified/cgroup.controllers")
        << "cpu memory\n";
    return new std::string(dir);
  }();
  return *root;
}

void Write(const std::string& path, const std::string& content) {
  std::ofstream out(Root() + path, std::ios::binary | std::ios::trunc);
  out << content;
  FUZZ_CHECK(out.good());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts = vigil::fuzz::SplitInput(data, size, 7);
  // Cgroup paths and mount points are followed as directories: keep them
  // inside the fixture (the kernel writes no ".."; mountinfo's octal escapes
  // could spell one, so none are taken there).
  if (absl::StrContains(parts[2], "..") || absl::StrContains(parts[6], "..") ||
      absl::StrContains(parts[6], "\\")) {
    return 0;
  }
  Write("/proc/self/status", parts[0]);
  Write("/proc/self/cmdline", parts[1]);
  Write("/proc/self/cgroup", parts[2]);
  Write("/sys/fs/cgroup/unified/app/cpu.stat", parts[3]);
  Write("/sys/fs/cgroup/unified/app/cpu.pressure", parts[4]);
  Write("/sys/fs/cgroup/cpu,cpuacct/app/cpu.stat", parts[5]);
  Write("/proc/self/mountinfo", parts[6]);

  if (auto threads = vigil::internal::ThreadCount(Root()); threads.ok()) {
    FUZZ_CHECK(absl::StrContains(parts[0], "Threads:"));
  }
  if (auto tracer = vigil::internal::TracerPid(Root()); tracer.ok()) {
    FUZZ_CHECK(absl::StrContains(parts[0], "TracerPid:"));
  }

  if (auto argv = vigil::internal::Cmdline(Root()); argv.ok()) {
    FUZZ_CHECK(!argv->empty());
    std::string joined = absl::StrJoin(*argv, std::string(1, '\0'));
    if (absl::EndsWith(parts[1], std::string(1, '\0'))) joined += '\0';
    FUZZ_CHECK(joined == parts[1]);
  } else {
    FUZZ_CHECK(parts[1].empty() || parts[1] == std::string(1, '\0'));
  }

  const vigil::internal::CpuStarvationSample s =
      vigil::internal::SampleCpuStarvation(Root());
  bool stat_source = false, pressure_source = false;
  for (const std::string& source : s.sources) {
    FUZZ_CHECK(absl::StartsWith(source, Root() + "/sys/fs/cgroup/"));
    FUZZ_CHECK(access(source.c_str(), R_OK) == 0);
    stat_source |= absl::EndsWith(source, "/cpu.stat");
    pressure_source |= absl::EndsWith(source, "/cpu.pressure");
  }
  FUZZ_CHECK(s.sources.size() ==
             s.throttled.has_value() + s.cpu_pressure_some.has_value());
  if (s.throttled.has_value()) {
    FUZZ_CHECK(stat_source);
    FUZZ_CHECK(absl::StrContains(parts[3], "throttled_") ||
               absl::StrContains(parts[5], "throttled_"));
  }
  if (s.cpu_pressure_some.has_value()) {
    FUZZ_CHECK(pressure_source);
    FUZZ_CHECK(absl::StrContains(parts[4], "total="));
  }
  // Without a mountinfo nothing is located: no guessed mount points.
  if (parts[6].empty()) FUZZ_CHECK(s.sources.empty());
  return 0;
}
