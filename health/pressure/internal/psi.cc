#include "health/pressure/internal/psi.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace pressure {
namespace internal {

void PsiSource::Open(absl::string_view root,
                     const std::string& cgroup_full_path,
                     absl::string_view resource) {
  cgroup_local_ = false;
  if (!cgroup_full_path.empty()) {
    // Kernels with psi=0 (or cgroup.pressure set to 0) keep the file but
    // fail the read: only a file that reads and parses counts.
    if (file_.Open(absl::StrCat(cgroup_full_path, "/", resource, ".pressure"),
                   256) &&
        Read()) {
      cgroup_local_ = true;
      return;
    }
  }
  file_.Open(JoinRoot(root, absl::StrCat("/proc/pressure/", resource)), 256);
}

bool PsiSource::Read() {
  if (!file_.Read()) {
    content_ = PsiContent();
    return false;
  }
  if (!ParsePsi(file_.content(), &content_)) {
    file_.set_parse_error();
    content_ = PsiContent();
    return false;
  }
  return true;
}

int ArmPsiTrigger(bool enabled, const std::string& path,
                  absl::string_view resource, absl::Duration stall,
                  absl::Duration window, std::string* problem) {
  if (!enabled) {
    *problem = "disabled";
    return -1;
  }
  if (path.empty()) {
    *problem = absl::StrCat("no ", resource, " PSI file");
    return -1;
  }
  // A trigger is written into the file: only into the kernel's own (procfs
  // or cgroup2), never into a fixture tree's regular file.
  struct statfs fs = {};
  if (statfs(path.c_str(), &fs) != 0 ||
      (fs.f_type != PROC_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC)) {
    *problem = absl::StrCat(path, ": not a kernel PSI file; polling only");
    return -1;
  }
  const int fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *problem = absl::StrCat(path, ": open for writing: ", ErrorText(errno));
    return -1;
  }
  const std::string trigger =
      absl::StrCat("some ", absl::ToInt64Microseconds(stall), " ",
                   absl::ToInt64Microseconds(window));
  // The trigger string must be written with its terminating NUL.
  if (write(fd, trigger.c_str(), trigger.size() + 1) < 0) {
    *problem = absl::StrCat(path, ": trigger \"", trigger,
                            "\" refused: ", ErrorText(errno));
    close(fd);
    return -1;
  }
  problem->clear();
  return fd;
}

absl::Status ValidatePsiTrigger(absl::string_view prefix, absl::Duration stall,
                                absl::Duration window) {
  if (window < absl::Milliseconds(500) || window > absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ".trigger_window: must be between 500ms and 10s"));
  }
  if (stall <= absl::ZeroDuration() || stall >= window) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, ".trigger_stall: must be > 0 and below trigger_window"));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil
