// vigil-sidecar: vigil's health checks and endpoints for a process that does
// not link vigil (Node, Python, a database...), and a deploy gate.
//
// Serve mode (default): watch a target from outside and serve one
// aggregated /livez /readyz /startupz /healthz /metrics:
//
//   vigil-sidecar --target=http://127.0.0.1:3000/health --pidfile=/run/app.pid
//       --port=8090 --disk=/var/lib/app
//   vigil-sidecar --config=/etc/vigil/sidecar.textproto
//
// Configuration: a text-format file (schema examples/sidecar/sidecar.proto,
// example examples/sidecar/sidecar.textproto) plus flags for the common
// cases; flag-given targets are added to the file's, and --address/--port
// override it. Nothing at all: host pressure detectors only.
// A bad file fails at start ("file:line: field: why", exit 2). SIGHUP
// reloads the file; if the new one is bad the running configuration stays
// and the reason is printed. SIGTERM drains: /readyz answers 503 at once,
// the sidecar keeps answering for --drain_delay, then exits 0 (a second
// signal exits at once).
//
// On start it prints one machine-readable line:
//   vigil-sidecar: probe=127.0.0.1:8090 pid=1234 checks=http:...,tcp:...
//
// Deploy-gate mode: `vigil-sidecar wait --url URL [--timeout 60s]
// [--interval 500ms] [--successes 3] [--json]`: see gate.h for the exit
// codes (0 ready, 3 not ready, 4 unreachable, 5 timed out, 2 usage).
// With `--grpc HOST:PORT [--grpc_service NAME]` instead of --url it waits
// for grpc.health.v1 SERVING, with grpc_health_probe's exit codes (0
// serving, 1 usage, 2 connection failure, 3 RPC failure, 4 unhealthy).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "examples/sidecar/config.h"
#include "examples/sidecar/gate.h"
#include "examples/sidecar/sidecar.h"

// Serve mode.
ABSL_FLAG(std::string, config, "",
          "Text-format config file (examples/sidecar/sidecar.proto).");
ABSL_FLAG(std::string, address, "127.0.0.1",
          "Address of the probe server (overrides the file's).");
ABSL_FLAG(int, port, 8090,
          "Port of the probe server (overrides the file's); 0 picks one.");
ABSL_FLAG(std::vector<std::string>, target, {},
          "HTTP(S) URLs of the target to probe (readiness), comma-separated.");
ABSL_FLAG(std::vector<std::string>, tcp, {},
          "host:port addresses that must accept TCP connections (readiness), "
          "comma-separated.");
ABSL_FLAG(int, pid, 0, "Process that must be alive and not a zombie.");
ABSL_FLAG(std::string, pidfile, "",
          "File holding the pid of the process that must be alive.");
ABSL_FLAG(std::vector<std::string>, disk, {},
          "Paths whose filesystems get a disk-space check (default /).");
ABSL_FLAG(bool, no_pressure, false,
          "Do not register the host/cgroup pressure detectors.");
ABSL_FLAG(std::string, check_interval, "",
          "Default interval of every check (e.g. 1s).");
ABSL_FLAG(absl::Duration, drain_delay, absl::Seconds(5),
          "After SIGTERM, how long /readyz answers 503 before exiting "
          "(overrides the file's when given).");
// Wait mode.
ABSL_FLAG(std::string, url, "", "wait: readiness URL to wait for.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60),
          "wait: total time to wait.");
ABSL_FLAG(absl::Duration, interval, absl::Milliseconds(500),
          "wait: pause between attempts.");
ABSL_FLAG(int, successes, 3, "wait: consecutive passes required.");
ABSL_FLAG(absl::Duration, request_timeout, absl::Seconds(2),
          "wait: timeout of one request.");
ABSL_FLAG(bool, insecure, false, "wait: skip TLS certificate verification.");
ABSL_FLAG(bool, json, false, "wait: print the result and last report as JSON.");
ABSL_FLAG(std::string, grpc, "",
          "wait: HOST:PORT of a grpc.health.v1 server to wait for (instead "
          "of --url).");
ABSL_FLAG(std::string, grpc_service, "",
          "wait --grpc: service name to ask for (\"\" is the overall "
          "status).");

namespace {

std::atomic<int> g_term{0};
std::atomic<int> g_hup{0};

void OnTerm(int) { g_term.fetch_add(1); }
void OnHup(int) { g_hup.fetch_add(1); }

bool Specified(const char* name) {
  const absl::CommandLineFlag* f = absl::FindCommandLineFlag(name);
  // (A flag set to its default value counts as not given.)
  return f != nullptr && f->CurrentValue() != f->DefaultValue();
}

// The plan: the config file (if any) plus the flags.
absl::StatusOr<vigil_sidecar::SidecarPlan> MakePlan() {
  vigil_sidecar::SidecarConfig config;
  const std::string file = absl::GetFlag(FLAGS_config);
  if (!file.empty()) {
    // Validates with file:line errors before flags are merged.
    auto plan = vigil_sidecar::LoadConfigFile(file);
    if (!plan.ok()) return plan.status();
    config = plan->config;
  }
  if (file.empty() || Specified("address")) {
    config.set_address(absl::GetFlag(FLAGS_address));
  }
  if (Specified("port")) {
    config.set_port(absl::GetFlag(FLAGS_port));
  } else if (file.empty()) {
    config.set_port(absl::GetFlag(FLAGS_port));
  }
  if (file.empty() || Specified("drain_delay")) {
    config.set_drain_delay(
        absl::FormatDuration(absl::GetFlag(FLAGS_drain_delay)));
  }
  if (!absl::GetFlag(FLAGS_check_interval).empty()) {
    config.mutable_defaults()->set_interval(
        absl::GetFlag(FLAGS_check_interval));
  }
  for (const std::string& url : absl::GetFlag(FLAGS_target)) {
    config.add_http()->set_url(url);
  }
  for (const std::string& address : absl::GetFlag(FLAGS_tcp)) {
    config.add_tcp()->set_address(address);
  }
  if (absl::GetFlag(FLAGS_pid) != 0) {
    config.add_process()->set_pid(absl::GetFlag(FLAGS_pid));
  }
  if (!absl::GetFlag(FLAGS_pidfile).empty()) {
    config.add_process()->set_pidfile(absl::GetFlag(FLAGS_pidfile));
  }
  for (const std::string& path : absl::GetFlag(FLAGS_disk)) {
    config.mutable_pressure()->add_disk_paths(path);
  }
  if (absl::GetFlag(FLAGS_no_pressure)) {
    config.mutable_pressure()->set_disable(true);
  }
  auto plan = vigil_sidecar::BuildPlan(config);
  if (!plan.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("flags: ", plan.status().message()));
  }
  // --port=0 means "pick one" on the command line.
  if (Specified("port")) plan->port = absl::GetFlag(FLAGS_port);
  return plan;
}

int WaitGrpc() {
  vigil_sidecar::GrpcGateOptions o;
  o.target = absl::GetFlag(FLAGS_grpc);
  o.service = absl::GetFlag(FLAGS_grpc_service);
  o.timeout = absl::GetFlag(FLAGS_timeout);
  o.interval = absl::GetFlag(FLAGS_interval);
  o.successes = absl::GetFlag(FLAGS_successes);
  o.request_timeout = absl::GetFlag(FLAGS_request_timeout);
  const vigil_sidecar::GrpcGateResult r = vigil_sidecar::RunGrpcGate(o, stderr);
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", vigil_sidecar::GrpcGateResultJson(o, r).c_str());
  }
  std::fprintf(stderr, "vigil-sidecar wait: %s (exit %d)\n",
               vigil_sidecar::GrpcGateExitName(r.exit),
               static_cast<int>(r.exit));
  return static_cast<int>(r.exit);
}

int Wait() {
  if (!absl::GetFlag(FLAGS_grpc).empty()) {
    if (!absl::GetFlag(FLAGS_url).empty()) {
      std::fprintf(stderr,
                   "vigil-sidecar wait: --url and --grpc exclude "
                   "each other\n");
      return static_cast<int>(vigil_sidecar::GateExit::kUsage);
    }
    return WaitGrpc();
  }
  vigil_sidecar::GateOptions o;
  o.url = absl::GetFlag(FLAGS_url);
  o.timeout = absl::GetFlag(FLAGS_timeout);
  o.interval = absl::GetFlag(FLAGS_interval);
  o.successes = absl::GetFlag(FLAGS_successes);
  o.request_timeout = absl::GetFlag(FLAGS_request_timeout);
  o.insecure = absl::GetFlag(FLAGS_insecure);
  const vigil_sidecar::GateResult r = vigil_sidecar::RunGate(o, stderr);
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", vigil_sidecar::GateResultJson(o, r).c_str());
  }
  std::fprintf(stderr, "vigil-sidecar wait: %s (exit %d)\n",
               vigil_sidecar::GateExitName(r.exit), static_cast<int>(r.exit));
  return static_cast<int>(r.exit);
}

int Serve() {
  auto plan = MakePlan();
  if (!plan.ok()) {
    std::fprintf(stderr, "vigil-sidecar: %s\n",
                 std::string(plan.status().message()).c_str());
    return 2;
  }
  const absl::Duration drain = plan->drain_delay;
  auto sidecar = vigil_sidecar::Sidecar::Start(*std::move(plan));
  if (!sidecar.ok()) {
    std::fprintf(stderr, "vigil-sidecar: %s\n",
                 sidecar.status().ToString().c_str());
    return 2;
  }
  std::printf("vigil-sidecar: probe=%s:%d pid=%d checks=%s\n",
              (*sidecar)->plan().address.c_str(), (*sidecar)->port(), getpid(),
              absl::StrJoin((*sidecar)->check_names(), ",").c_str());
  std::fflush(stdout);

  int hups_seen = 0;
  absl::Time stop_at = absl::InfiniteFuture();
  while (true) {
    const int term = g_term.load();
    if (term >= 1 && stop_at == absl::InfiniteFuture()) {
      (*sidecar)->BeginDrain();
      stop_at = absl::Now() + drain;
      std::printf("vigil-sidecar: draining: /readyz answers 503 for %s\n",
                  absl::FormatDuration(drain).c_str());
      std::fflush(stdout);
    }
    if (term >= 2 || absl::Now() >= stop_at) break;
    if (const int hups = g_hup.load(); hups != hups_seen) {
      hups_seen = hups;
      auto next = MakePlan();
      std::vector<std::string> notes;
      absl::Status s = next.ok() ? (*sidecar)->Reload(*std::move(next), &notes)
                                 : next.status();
      if (s.ok()) {
        std::printf("vigil-sidecar: reloaded: checks=%s\n",
                    absl::StrJoin((*sidecar)->check_names(), ",").c_str());
        for (const std::string& n : notes) {
          std::printf("vigil-sidecar: note: %s\n", n.c_str());
        }
      } else {
        std::printf(
            "vigil-sidecar: reload failed, keeping the previous "
            "configuration: %s\n",
            std::string(s.message()).c_str());
      }
      std::fflush(stdout);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::printf("vigil-sidecar: stopping\n");
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "vigil-sidecar [--config=FILE] [--target=URL] [--port=N] ...\n"
      "vigil-sidecar wait --url=URL [--timeout=60s] [--json]\n"
      "vigil-sidecar wait --grpc=HOST:PORT [--grpc_service=NAME] ...");
  // --help lists the sidecar's own flags (absl shows only flags of files
  // named after the binary by default).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "examples/sidecar/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (args.size() >= 2 && std::string(args[1]) == "wait") return Wait();
  if (args.size() >= 2) {
    std::fprintf(stderr, "vigil-sidecar: unknown mode \"%s\" (want: wait)\n",
                 args[1]);
    return 2;
  }
  signal(SIGTERM, OnTerm);
  signal(SIGINT, OnTerm);
  signal(SIGHUP, OnHup);
  return Serve();
}
