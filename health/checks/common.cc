#include "health/checks/common.h"

namespace vigil {
namespace checks {

CheckOptions DependencyCheckOptions() {
  CheckOptions options;
  options.kind = CheckKind::kDependency;
  options.groups = {std::string(kReadiness)};
  return options;
}

CheckOptions SelfCheckOptions() {
  CheckOptions options;
  options.kind = CheckKind::kSelf;
  options.groups = {std::string(kReadiness)};
  return options;
}

}  // namespace checks
}  // namespace vigil
