// A /readyz responder for the loopback probe benchmark
// (benchmarks/http/run.sh).
//
//   probe_target --mode=vigil --port=0   vigil's dedicated ProbeServer over a
//                                        registry with a few checks
//   probe_target --mode=bare --port=0    a bare cpp-httplib server with one
//                                        handler returning "ok": the floor
//                                        for this HTTP library
//
// Prints "listening on <port>" once it answers, then serves until SIGTERM or
// SIGINT.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "health/http/endpoints.h"
#include "health/http/probe_server.h"
#include "health/registry.h"
#include "httplib.h"

ABSL_FLAG(std::string, mode, "vigil", "vigil or bare");
ABSL_FLAG(int, port, 0, "Port on 127.0.0.1 (0: pick one)");
ABSL_FLAG(int, threads, 8,
          "bare: httplib pool threads (it serves one connection per thread)");
ABSL_FLAG(int, checks, 4, "vigil: checks registered");
ABSL_FLAG(int, check_interval_ms, 1000,
          "vigil: each check's interval (probe_instructions.sh makes it an "
          "hour, so background runs do not scale with a run's length)");

namespace {

volatile sig_atomic_t g_signalled = 0;
void SetSignalled(int) { g_signalled = 1; }

void WaitForSignal() {
  signal(SIGTERM, SetSignalled);
  signal(SIGINT, SetSignalled);
  sigset_t none;
  sigemptyset(&none);
  while (!g_signalled) sigsuspend(&none);
}

int RunVigil() {
  vigil::HealthRegistry registry;
  for (int i = 0; i < absl::GetFlag(FLAGS_checks); ++i) {
    vigil::Check c;
    c.name = absl::StrCat("check-", i);
    c.options.groups = {i == 0 ? "liveness" : "readiness"};
    c.options.interval =
        absl::Milliseconds(absl::GetFlag(FLAGS_check_interval_ms));
    c.function = [](const vigil::CheckContext&) {
      return vigil::CheckResult::Healthy("ok");
    };
    (void)registry.Register(c);
  }
  registry.Start();
  auto endpoints = vigil::http::HealthEndpoints::Create(&registry);
  if (!endpoints.ok()) return 1;
  vigil::http::ProbeServerOptions options;
  options.port = absl::GetFlag(FLAGS_port);
  auto server = vigil::http::ProbeServer::Start(endpoints->get(), options);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %d\n", (*server)->port());
  std::fflush(stdout);
  WaitForSignal();
  return 0;
}

int RunBare() {
  httplib::Server server;
  const int threads = absl::GetFlag(FLAGS_threads);
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  server.set_tcp_nodelay(true);
  server.Get("/readyz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  int port = absl::GetFlag(FLAGS_port);
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port < 0) return 1;
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::yield();
  std::printf("listening on %d\n", port);
  std::fflush(stdout);
  WaitForSignal();
  server.stop();
  t.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "vigil") return RunVigil();
  if (mode == "bare") return RunBare();
  std::fprintf(stderr, "--mode must be vigil or bare\n");
  return 2;
}
