#include "health/checks/self_probe.h"

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "health/checks/http.h"
#include "health/checks/internal/net.h"
#include "health/checks/tcp.h"
#include "health/sync.h"

namespace vigil {
namespace checks {
namespace {

struct SelfProbeState {
  SelfProbeCheckOptions options;
  Mutex mu;
  // The inner check for `port`, rebuilt when the port changes.
  int port ABSL_GUARDED_BY(mu) = 0;
  std::shared_ptr<Check> inner ABSL_GUARDED_BY(mu);
};

absl::StatusOr<Check> BuildInner(const SelfProbeCheckOptions& o, int port) {
  const std::string address = internal::FormatHostPort(o.host, port);
  if (o.path.empty()) {
    TcpCheckOptions t;
    t.address = address;
    t.name = o.name;
    t.check = o.check;
    t.clock = o.clock;
    return TcpCheck(t);
  }
  HttpCheckOptions h;
  h.url = absl::StrCat(o.https ? "https://" : "http://", address, o.path);
  h.name = o.name;
  h.min_status = o.min_status;
  h.max_status = o.max_status;
  h.verify_tls = o.verify_tls;
  h.ca_file = o.ca_file;
  h.check = o.check;
  h.clock = o.clock;
  return HttpCheck(h);
}

CheckResult RunSelfProbe(SelfProbeState& s, const CheckContext& ctx) {
  const SelfProbeCheckOptions& o = s.options;
  const int port = o.port_fn ? o.port_fn() : o.port;
  if (port < 1 || port > 65535) {
    CheckResult r = CheckResult::Unhealthy(
        absl::StrCat("not listening yet (port ", port, ")"));
    r.details["reason"] = "no_port";
    return r;
  }
  std::shared_ptr<Check> inner;
  {
    MutexLock lock(&s.mu);
    if (s.inner == nullptr || s.port != port) {
      absl::StatusOr<Check> built = BuildInner(o, port);
      if (!built.ok()) {
        return CheckResult::Unhealthy(std::string(built.status().message()));
      }
      s.inner = std::make_shared<Check>(*std::move(built));
      s.port = port;
    }
    inner = s.inner;
  }
  return inner->function(ctx);
}

}  // namespace

CheckOptions SelfProbeDefaults() {
  CheckOptions o;
  o.kind = CheckKind::kSelf;
  o.groups = {std::string(kLiveness)};
  return o;
}

absl::StatusOr<Check> SelfProbeCheck(SelfProbeCheckOptions options) {
  if (!options.port_fn && (options.port < 1 || options.port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "port: set port (1..65535) or port_fn, got ", options.port));
  }
  if (absl::Status s = internal::ValidateHost(options.host, "host"); !s.ok()) {
    return s;
  }
  if (!options.path.empty() && options.path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path: must start with '/', got \"", options.path, "\""));
  }
  if (options.path.empty() && options.https) {
    return absl::InvalidArgumentError("path: https needs a path to request");
  }
  // Validate everything else once, with a placeholder port.
  absl::StatusOr<Check> probe = BuildInner(options, 1);
  if (!probe.ok()) return probe.status();

  auto state = std::make_shared<SelfProbeState>();
  Check check;
  check.name = options.name;
  check.options = options.check;
  state->options = std::move(options);
  check.function = [state](const CheckContext& ctx) {
    return RunSelfProbe(*state, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace checks
}  // namespace vigil
