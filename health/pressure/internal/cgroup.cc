#include "health/pressure/internal/cgroup.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/parse.h"

namespace vigil {
namespace pressure {
namespace internal {
namespace {

bool HasOption(absl::string_view options, absl::string_view name) {
  for (absl::string_view o : absl::StrSplit(options, ',')) {
    if (o == name) return true;
  }
  return false;
}

std::string StripTrailingSlash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// mount_point + (path relative to the mount's root), or false when `path`
// lies outside the mounted subtree (not visible from here).
bool MapIntoMount(const MountEntry& m, absl::string_view cgroup_path,
                  std::string* out) {
  absl::string_view root = m.root;
  if (root == "/") root = "";
  if (!root.empty()) {
    if (!absl::StartsWith(cgroup_path, root)) return false;
    absl::string_view rest = cgroup_path.substr(root.size());
    if (!rest.empty() && rest.front() != '/') return false;
    cgroup_path = rest;
  }
  if (cgroup_path == "/") cgroup_path = "";
  *out = StripTrailingSlash(absl::StrCat(m.mount_point, cgroup_path));
  return true;
}

CgroupDir MakeDir(absl::string_view root, CgroupVersion version,
                  std::string path, const std::string& mount_point,
                  bool is_root) {
  CgroupDir d;
  d.is_root = is_root;
  d.version = version;
  d.path = std::move(path);
  d.full_path = StripTrailingSlash(JoinRoot(root, d.path));
  d.mount_full_path = StripTrailingSlash(JoinRoot(root, mount_point));
  return d;
}

// The target is the hierarchy's top cgroup: "/" in a mount of the whole
// hierarchy.
bool IsTop(const MountEntry& m, absl::string_view cgroup_path) {
  return m.root == "/" && (cgroup_path == "/" || cgroup_path.empty());
}

bool ControllerOnV2(const std::string& mount_full_path,
                    absl::string_view controller) {
  std::string content;
  int error = 0;
  if (!ReadWholeFile(mount_full_path + "/cgroup.controllers", &content,
                     &error)) {
    return false;
  }
  for (absl::string_view c :
       absl::StrSplit(content, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (c == controller) return true;
  }
  return false;
}

std::vector<MountEntry> ReadMounts(absl::string_view root, std::string* error) {
  std::string content;
  int err = 0;
  const std::string path = JoinRoot(root, "/proc/self/mountinfo");
  if (!ReadWholeFile(path, &content, &err)) {
    *error = absl::StrCat(path, ": ", ErrorText(err));
    return {};
  }
  return ParseMountinfo(content);
}

}  // namespace

std::string ProcDir(int pid) {
  return pid <= 0 ? std::string("/proc/self") : absl::StrCat("/proc/", pid);
}

std::vector<std::string> CgroupDir::AncestorFullPaths() const {
  std::vector<std::string> out;
  if (!ok()) return out;
  std::string p = full_path;
  out.push_back(p);
  while (p != mount_full_path && p.size() > mount_full_path.size()) {
    size_t slash = p.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    p.resize(slash);
    if (p.size() < mount_full_path.size()) break;
    out.push_back(p);
  }
  return out;
}

std::string CgroupDir::Describe() const {
  switch (version) {
    case CgroupVersion::kV1:
      return absl::StrCat("v1 ", path);
    case CgroupVersion::kV2:
      return absl::StrCat("v2 ", path);
    case CgroupVersion::kNone:
      break;
  }
  return "none";
}

CgroupLayout ResolveCgroups(absl::string_view root, int pid) {
  CgroupLayout layout;
  std::vector<std::string> problems;
  const std::string cgroup_file = JoinRoot(root, ProcDir(pid) + "/cgroup");
  std::string content;
  int err = 0;
  if (!ReadWholeFile(cgroup_file, &content, &err)) {
    layout.problems = absl::StrCat(cgroup_file, ": ", ErrorText(err));
    return layout;
  }
  const std::vector<CgroupEntry> entries = ParseProcCgroup(content);
  std::string mount_error;
  const std::vector<MountEntry> mounts = ReadMounts(root, &mount_error);
  if (!mount_error.empty()) problems.push_back(mount_error);

  // The v2 (unified) cgroup.
  for (const CgroupEntry& e : entries) {
    if (e.id != 0 || !e.controllers.empty()) continue;
    for (const MountEntry& m : mounts) {
      if (m.fs_type != "cgroup2") continue;
      std::string dir;
      if (MapIntoMount(m, e.path, &dir)) {
        layout.unified = MakeDir(root, CgroupVersion::kV2, dir, m.mount_point,
                                 IsTop(m, e.path));
      } else {
        problems.push_back(absl::StrCat(
            "v2 cgroup ", e.path, " is outside the mount at ", m.mount_point));
      }
      break;
    }
  }

  bool any_v1 = false;
  auto resolve = [&](absl::string_view controller, CgroupDir* out) {
    for (const CgroupEntry& e : entries) {
      if (e.id == 0) continue;
      if (std::find(e.controllers.begin(), e.controllers.end(), controller) ==
          e.controllers.end()) {
        continue;
      }
      for (const MountEntry& m : mounts) {
        if (m.fs_type != "cgroup" || !HasOption(m.super_options, controller)) {
          continue;
        }
        std::string dir;
        if (MapIntoMount(m, e.path, &dir)) {
          *out = MakeDir(root, CgroupVersion::kV1, dir, m.mount_point,
                         IsTop(m, e.path));
          any_v1 = true;
        } else {
          problems.push_back(absl::StrCat("v1 ", controller, " cgroup ", e.path,
                                          " is outside the mount at ",
                                          m.mount_point));
        }
        return;
      }
      problems.push_back(
          absl::StrCat("v1 ", controller, " hierarchy is not mounted"));
      return;
    }
    // Not on v1: on v2 if the hierarchy offers the controller.
    if (layout.unified.ok() &&
        ControllerOnV2(layout.unified.mount_full_path, controller)) {
      *out = layout.unified;
    }
  };
  resolve("memory", &layout.memory);
  resolve("cpu", &layout.cpu);
  resolve("pids", &layout.pids);

  if (any_v1) {
    layout.mode = layout.unified.ok() ? "hybrid" : "v1";
  } else if (layout.unified.ok()) {
    layout.mode = "v2";
  }
  layout.problems = absl::StrJoin(problems, "; ");
  return layout;
}

CgroupLayout CgroupLayoutForDir(absl::string_view root, absl::string_view dir) {
  CgroupLayout layout;
  const std::string path = StripTrailingSlash(std::string(dir));
  const std::string full = StripTrailingSlash(JoinRoot(root, path));
  if (!PathExists(full)) {
    layout.problems = absl::StrCat(full, ": no such cgroup directory");
    return layout;
  }
  const bool v2 = PathExists(full + "/cgroup.controllers");
  const CgroupVersion version = v2 ? CgroupVersion::kV2 : CgroupVersion::kV1;
  // The mount point: the longest cgroup mount that is a prefix of `path`.
  std::string mount_point = path;
  std::string mount_error;
  size_t best = 0;
  bool top = false;
  for (const MountEntry& m : ReadMounts(root, &mount_error)) {
    if (m.fs_type != (v2 ? "cgroup2" : "cgroup")) continue;
    const std::string& mp = m.mount_point;
    if ((path == mp || absl::StartsWith(path, mp + "/")) && mp.size() >= best) {
      best = mp.size();
      mount_point = mp;
      top = path == mp && m.root == "/";
    }
  }
  CgroupDir d = MakeDir(root, version, path, mount_point, top);
  if (v2) {
    layout.unified = d;
    if (PathExists(full + "/memory.current") ||
        PathExists(full + "/memory.stat")) {
      layout.memory = d;
    }
    if (PathExists(full + "/cpu.stat")) layout.cpu = d;
    if (PathExists(full + "/pids.current")) layout.pids = d;
    layout.mode = "v2";
  } else {
    if (PathExists(full + "/memory.usage_in_bytes")) layout.memory = d;
    if (PathExists(full + "/cpu.stat")) layout.cpu = d;
    if (PathExists(full + "/pids.current")) layout.pids = d;
    layout.mode = "v1";
  }
  return layout;
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil
