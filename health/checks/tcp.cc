#include "health/checks/tcp.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/result_util.h"

namespace vigil {
namespace checks {
namespace {

struct TcpState {
  internal::HostPort target;
  std::string display;
  int family = AF_UNSPEC;
  absl::Duration timeout;
  Clock* clock = nullptr;
  internal::Resolver resolver;
};

CheckResult RunTcp(TcpState& s, const CheckContext& ctx) {
  const internal::IoDeadline deadline =
      internal::IoDeadline::ForRun(s.clock, ctx.start, ctx.deadline, s.timeout);
  const absl::Time begin = s.clock->Now();
  absl::StatusOr<internal::Connected> c = internal::Dial(
      s.resolver, s.target.host, s.target.port, s.family, deadline);
  const absl::Duration latency = s.clock->Now() - begin;
  if (!c.ok()) {
    CheckResult r = internal::FailureResult(c.status());
    r.details["target"] = s.display;
    return r;
  }
  CheckResult r = CheckResult::Healthy(
      absl::StrCat("connected to ", c->address.ToString(), " in ",
                   internal::FormatLatency(latency)));
  internal::SetLatency(&r, latency);
  r.details["address"] = c->address.ToString();
  r.details["target"] = s.display;
  return r;
}

}  // namespace

absl::StatusOr<Check> TcpCheck(TcpCheckOptions options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("address: must be set (host:port)");
  }
  absl::StatusOr<internal::HostPort> hp =
      internal::ParseHostPort(options.address, "address");
  if (!hp.ok()) return hp.status();
  auto state = std::make_shared<TcpState>();
  state->target = *hp;
  state->display = internal::FormatHostPort(hp->host, hp->port);
  state->family = internal::ToAf(options.family);
  state->timeout = options.check.timeout;
  state->clock = options.clock != nullptr ? options.clock : Clock::Real();

  Check check;
  check.name =
      options.name.empty()
          ? internal::SanitizeCheckName(absl::StrCat("tcp:", state->display))
          : options.name;
  check.options = std::move(options.check);
  check.function = [state](const CheckContext& ctx) {
    return RunTcp(*state, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace checks
}  // namespace vigil
