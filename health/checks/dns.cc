#include "health/checks/dns.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "health/checks/internal/dns_lookup.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/result_util.h"

namespace vigil {
namespace checks {
namespace internal {
namespace {

struct DnsState {
  explicit DnsState(LookupFunction lookup) : resolver(std::move(lookup)) {}
  DnsCheckOptions options;
  Clock* clock = nullptr;
  Resolver resolver;
};

CheckResult RunDns(DnsState& s, const CheckContext& ctx) {
  const DnsCheckOptions& o = s.options;
  const IoDeadline deadline =
      IoDeadline::ForRun(s.clock, ctx.start, ctx.deadline, o.check.timeout);
  const absl::Time begin = s.clock->Now();
  absl::StatusOr<std::vector<Address>> addresses =
      s.resolver.Resolve(o.hostname, 0, ToAf(o.family), deadline);
  const absl::Duration latency = s.clock->Now() - begin;
  if (!addresses.ok()) {
    CheckResult r = FailureResult(addresses.status());
    r.details["hostname"] = o.hostname;
    return r;
  }
  std::vector<std::string> ips;
  for (const Address& a : *addresses) {
    if (ips.size() < 16) ips.push_back(a.IpString());
  }
  const int n = static_cast<int>(addresses->size());
  auto plural = [](int k) {
    return absl::StrCat(k, k == 1 ? " address" : " addresses");
  };
  CheckResult r;
  if (n < o.min_addresses) {
    r = CheckResult::Unhealthy(absl::StrCat(o.hostname, " resolved to ",
                                            plural(n), ", expected at least ",
                                            o.min_addresses));
    r.details["reason"] = "too_few";
  } else {
    r = CheckResult::Healthy(absl::StrCat(o.hostname, " resolved to ",
                                          plural(n), " in ",
                                          FormatLatency(latency)));
  }
  r.observed_value = n;
  r.observed_unit = "addresses";
  r.critical_threshold = o.min_addresses;
  r.details["addresses"] = absl::StrJoin(ips, ",");
  r.details["hostname"] = o.hostname;
  r.details["latency_ms"] = absl::StrFormat(
      "%.3f",
      absl::ToDoubleMilliseconds(std::max(latency, absl::ZeroDuration())));
  return r;
}

}  // namespace

absl::StatusOr<Check> DnsCheckWithLookup(DnsCheckOptions options,
                                         LookupFunction lookup) {
  if (options.hostname.empty()) {
    return absl::InvalidArgumentError("hostname: must be set");
  }
  if (absl::Status s = ValidateHost(options.hostname, "hostname"); !s.ok()) {
    return s;
  }
  if (options.min_addresses < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_addresses: must be >= 1, got ", options.min_addresses));
  }
  auto state = std::make_shared<DnsState>(std::move(lookup));
  state->clock = options.clock != nullptr ? options.clock : Clock::Real();
  Check check;
  check.name = options.name.empty()
                   ? SanitizeCheckName(absl::StrCat("dns:", options.hostname))
                   : options.name;
  check.options = options.check;
  state->options = std::move(options);
  check.function = [state](const CheckContext& ctx) {
    return RunDns(*state, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace internal

absl::StatusOr<Check> DnsCheck(DnsCheckOptions options) {
  return internal::DnsCheckWithLookup(std::move(options), nullptr);
}

}  // namespace checks
}  // namespace vigil
