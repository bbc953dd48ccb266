// vigil example service: a small program that links vigil and declares what
// "alive", "ready" and "started" mean for it.
//
// Checks registered:
//   event-loop   (self, liveness)       the main loop has ticked recently
//   warmup       (self, startup)        a simulated cache warm-up finished
//   upstream     (dependency, readiness, critical) TCP connect to
//                --upstream (default 127.0.0.1:6379, a local Redis)
//   scratch-dir  (self, readiness, non-critical) the scratch directory is
//                writable
//
// It prints the health report (text) every --report_interval until stopped
// with SIGINT or SIGTERM.

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "health/registry.h"
#include "health/report.h"

ABSL_FLAG(std::string, upstream, "127.0.0.1:6379",
          "host:port of the dependency this service needs (readiness).");
ABSL_FLAG(std::string, scratch_dir, "/tmp",
          "Directory that must be writable (non-critical).");
ABSL_FLAG(absl::Duration, report_interval, absl::Seconds(5),
          "How often to print the health report.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Simulated start-up work before the service is ready.");

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Connects to host:port with a deadline; OK or a specific error.
vigil::CheckResult TcpConnect(const std::string& hostport,
                              absl::Time deadline) {
  std::pair<std::string, std::string> hp =
      absl::StrSplit(hostport, absl::MaxSplits(':', 1));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(hp.first.c_str(), hp.second.c_str(), &hints, &res);
      rc != 0) {
    return vigil::CheckResult::Unhealthy(
        absl::StrCat("resolve ", hp.first, ": ", gai_strerror(rc)));
  }
  int fd =
      socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  int err = rc == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (poll(&p, 1, ms) <= 0) {
      close(fd);
      return vigil::CheckResult::Unhealthy("connect timed out");
    }
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  }
  close(fd);
  if (err != 0) {
    return vigil::CheckResult::Unhealthy(
        absl::StrCat("connect ", hostport, ": ", std::strerror(err)));
  }
  return vigil::CheckResult::Healthy(absl::StrCat("connected to ", hostport));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);

  vigil::RegistryOptions options;
  options.service.name = "vigil-example";
  options.service.version = "0.1.0";
  vigil::HealthRegistry registry(options);

  std::atomic<int64_t> last_loop_tick{absl::ToUnixNanos(absl::Now())};
  const absl::Time warm_at = absl::Now() + absl::GetFlag(FLAGS_warmup);

  vigil::Check loop;
  loop.name = "event-loop";
  loop.options.groups = {"liveness"};
  loop.options.interval = absl::Seconds(1);
  loop.function = [&](const vigil::CheckContext& ctx) {
    absl::Duration age = ctx.start - absl::FromUnixNanos(last_loop_tick.load());
    if (age > absl::Seconds(5)) {
      return vigil::CheckResult::Unhealthy(
          absl::StrCat("main loop silent for ", absl::FormatDuration(age)));
    }
    return vigil::CheckResult::Healthy();
  };

  vigil::Check warmup;
  warmup.name = "warmup";
  warmup.options.groups = {"startup"};
  warmup.options.interval = absl::Milliseconds(500);
  warmup.function = [&](const vigil::CheckContext& ctx) {
    if (ctx.start < warm_at) {
      return vigil::CheckResult::Unhealthy("warming caches");
    }
    return vigil::CheckResult::Healthy("caches warm");
  };

  vigil::Check upstream;
  upstream.name = "upstream";
  upstream.options.kind = vigil::CheckKind::kDependency;
  upstream.options.interval = absl::Seconds(2);
  upstream.options.timeout = absl::Seconds(1);
  upstream.function = [](const vigil::CheckContext& ctx) {
    return TcpConnect(absl::GetFlag(FLAGS_upstream), ctx.deadline);
  };

  vigil::Check scratch;
  scratch.name = "scratch-dir";
  scratch.options.critical = false;
  scratch.function = [](const vigil::CheckContext&) {
    const std::string dir = absl::GetFlag(FLAGS_scratch_dir);
    if (access(dir.c_str(), W_OK) != 0) {
      return vigil::CheckResult::Unhealthy(
          absl::StrCat(dir, ": ", std::strerror(errno)));
    }
    return vigil::CheckResult::Healthy(absl::StrCat(dir, " writable"));
  };

  for (vigil::Check* c : {&loop, &warmup, &upstream, &scratch}) {
    if (absl::Status s = registry.Register(*c); !s.ok()) {
      std::fprintf(stderr, "register %s: %s\n", c->name.c_str(),
                   std::string(s.message()).c_str());
      return 2;
    }
  }
  registry.AddListener([](const vigil::Transition& t) {
    std::printf(
        "[transition] %s %s: %s -> %s %s\n",
        t.subject == vigil::Transition::Subject::kCheck ? "check" : "group",
        t.name.c_str(), std::string(vigil::StatusName(t.from)).c_str(),
        std::string(vigil::StatusName(t.to)).c_str(), t.message.c_str());
    std::fflush(stdout);
  });
  registry.Start();
  std::printf("vigil-example running (pid %d); Ctrl-C to stop\n", getpid());
  std::fflush(stdout);

  absl::Time next_report = absl::Now();
  while (!g_stop.load()) {
    last_loop_tick.store(absl::ToUnixNanos(absl::Now()));
    if (absl::Now() >= next_report) {
      next_report = absl::Now() + absl::GetFlag(FLAGS_report_interval);
      auto report =
          vigil::ToHealthReport(*registry.snapshot(), registry.service());
      std::printf("%s\n", vigil::ToJson(report, true).value_or("?").c_str());
      std::fflush(stdout);
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  registry.BeginShutdown();
  std::printf("shutting down\n");
  return 0;
}
