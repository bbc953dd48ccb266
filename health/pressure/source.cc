#include "health/pressure/source.h"

#include "absl/strings/str_cat.h"

namespace vigil {
namespace pressure {

absl::Status Source::Validate(absl::string_view field) const {
  if (root.empty() || root.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".root: must be an absolute path, got \"", root, "\""));
  }
  if (pid < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".pid: must be >= 0, got ", pid));
  }
  if (!cgroup_dir.empty() && cgroup_dir.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".cgroup_dir: must be an absolute path, got \"",
                     cgroup_dir, "\""));
  }
  return absl::OkStatus();
}

}  // namespace pressure
}  // namespace vigil
