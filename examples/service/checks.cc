#include "examples/service/checks.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace vigil_example {
namespace {

using vigil::Check;
using vigil::CheckContext;
using vigil::CheckResult;

Check EventLoopCheck(const std::atomic<int64_t>* last_tick) {
  Check c;
  c.name = "event-loop";
  c.options.groups = {"liveness"};
  c.options.interval = absl::Seconds(1);
  c.function = [last_tick](const CheckContext& ctx) {
    const absl::Duration age =
        ctx.start - absl::FromUnixNanos(last_tick->load());
    if (age > absl::Seconds(5)) {
      return CheckResult::Unhealthy(
          absl::StrCat("main loop silent for ", absl::FormatDuration(age)));
    }
    return CheckResult::Healthy();
  };
  return c;
}

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

Check UpstreamCheck(std::string upstream) {
  Check c;
  c.name = "upstream";
  c.options.kind = vigil::CheckKind::kDependency;
  c.options.interval = absl::Seconds(2);
  c.options.timeout = absl::Seconds(1);
  c.function = [upstream](const CheckContext& ctx) {
    return TcpConnect(upstream, ctx.deadline);
  };
  return c;
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

CheckResult TcpConnect(const std::string& hostport, absl::Time deadline) {
  std::pair<std::string, std::string> hp =
      absl::StrSplit(hostport, absl::MaxSplits(':', 1));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(hp.first.c_str(), hp.second.c_str(), &hints, &res);
      rc != 0) {
    return CheckResult::Unhealthy(
        absl::StrCat("resolve ", hp.first, ": ", gai_strerror(rc)));
  }
  const int fd =
      socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  int err = rc == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    const int ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (poll(&p, 1, ms) <= 0) {
      close(fd);
      return CheckResult::Unhealthy("connect timed out");
    }
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  }
  close(fd);
  if (err != 0) {
    return CheckResult::Unhealthy(
        absl::StrCat("connect ", hostport, ": ", strerror(err)));
  }
  return CheckResult::Healthy(absl::StrCat("connected to ", hostport));
}

absl::Status RegisterChecks(vigil::HealthRegistry& registry,
                            const CheckConfig& config) {
  std::vector<Check> checks;
  checks.push_back(EventLoopCheck(config.last_loop_tick));
  checks.push_back(WarmupCheck(config.warm_at));
  checks.push_back(UpstreamCheck(config.upstream));
  checks.push_back(ScratchDirCheck(config.scratch_dir));
  for (Check& c : checks) {
    const std::string name = c.name;
    if (absl::Status s = registry.Register(std::move(c)); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(name, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil_example
