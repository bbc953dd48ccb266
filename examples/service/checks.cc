#include "examples/service/checks.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "health/checks/tcp.h"
#include "health/sync.h"

namespace vigil_example {
namespace {

using vigil::Check;
using vigil::CheckContext;
using vigil::CheckResult;

Check WarmupCheck(absl::Time warm_at) {
  Check c;
  c.name = "warmup";
  c.options.groups = {"startup"};
  c.options.interval = absl::Milliseconds(500);
  c.function = [warm_at](const CheckContext& ctx) {
    if (ctx.start < warm_at) return CheckResult::Unhealthy("warming caches");
    return CheckResult::Healthy("caches warm");
  };
  return c;
}

// The library's TCP check (refused / unreachable / timed out told apart),
// named "upstream" and polled more often than the default.
absl::StatusOr<Check> UpstreamCheck(std::string upstream) {
  vigil::checks::TcpCheckOptions o;
  o.address = std::move(upstream);
  o.name = "upstream";
  o.check.interval = absl::Seconds(2);
  o.check.timeout = absl::Seconds(1);
  return vigil::checks::TcpCheck(std::move(o));
}

Check ScratchDirCheck(std::string dir) {
  Check c;
  c.name = "scratch-dir";
  c.options.critical = false;
  c.function = [dir](const CheckContext&) {
    if (access(dir.c_str(), W_OK) != 0) {
      return CheckResult::Unhealthy(absl::StrCat(dir, ": ", strerror(errno)));
    }
    return CheckResult::Healthy(absl::StrCat(dir, " writable"));
  };
  return c;
}

}  // namespace

absl::Status RegisterAppPortCheck(vigil::HealthRegistry& registry,
                                  const std::string& host_port) {
  vigil::checks::TcpCheckOptions o;
  o.address = host_port;
  o.name = "app-port";
  o.check.kind = vigil::CheckKind::kSelf;
  o.check.groups = {std::string(vigil::kLiveness)};
  o.check.interval = absl::Seconds(1);
  o.check.timeout = absl::Seconds(1);
  o.check.failure_threshold = 2;
  absl::StatusOr<Check> check = vigil::checks::TcpCheck(std::move(o));
  if (!check.ok()) return check.status();
  return registry.Register(*std::move(check));
}

absl::Status RegisterChecks(vigil::HealthRegistry& registry,
                            const CheckConfig& config) {
  std::vector<Check> checks;
  checks.push_back(WarmupCheck(config.warm_at));
  absl::StatusOr<Check> upstream = UpstreamCheck(config.upstream);
  if (!upstream.ok()) {
    return absl::Status(
        upstream.status().code(),
        absl::StrCat("upstream: ", upstream.status().message()));
  }
  checks.push_back(*std::move(upstream));
  checks.push_back(ScratchDirCheck(config.scratch_dir));
  for (Check& c : checks) {
    const std::string name = c.name;
    if (absl::Status s = registry.Register(std::move(c)); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(name, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status RegisterStuckCheck(vigil::HealthRegistry& registry) {
  Check c;
  c.name = "stuck";
  c.options.critical = false;
  c.options.interval = absl::Seconds(1);
  c.options.timeout = absl::Milliseconds(500);
  c.options.failure_threshold = 1;
  c.function = [](const CheckContext&) -> CheckResult {
    // Never notified, never destroyed (the run outlives the registry).
    static vigil::Notification* const never = new vigil::Notification();
    never->WaitForNotification();
    return CheckResult::Healthy("unreachable");
  };
  return registry.Register(std::move(c));
}

}  // namespace vigil_example
