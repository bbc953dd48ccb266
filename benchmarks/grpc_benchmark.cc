// gRPC health costs, each next to its baseline in the same binary:
// - Check over loopback (one synchronous grpc++ client call) answered by
//   vigil's HealthService, vs the same call answered by a bare grpc++
//   callback handler that returns SERVING and does nothing else;
// - the registry's check completion (tick + run + publication) while 100
//   Watch streams are open and told every change, vs no gRPC server at all;
// - a load run: 100 Watch streams and a Check flood while a check flips
//   every 10 ms on the real clock, reporting messages, coalescing, lost
//   final states (must be 0) and memory growth as counters.
//
//   bazel run --config=opt //benchmarks:grpc_benchmark

#include <malloc.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "grpcpp/grpcpp.h"
#include "health/grpc/health_server.h"
#include "health/grpc/proto/health.grpc.pb.h"
#include "health/registry.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// The baseline: the same service definition, a handler that does nothing.
class BareHealth final : public Health::CallbackService {
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const HealthCheckRequest*,
                                  HealthCheckResponse* response) override {
    response->set_status(HealthCheckResponse::SERVING);
    grpc::ServerUnaryReactor* r = context->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

std::unique_ptr<Health::Stub> Connect(int port) {
  return Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

bool CallCheck(Health::Stub* stub, const std::string& service) {
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok();
}

long RssKib() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return rss * 4;
}

void BM_GrpcBareUnary(benchmark::State& state) {
  BareHealth service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = Connect(port);
  CallCheck(stub.get(), "");  // Connect before timing.
  for (auto _ : state) {
    if (!CallCheck(stub.get(), "readiness")) state.SkipWithError("failed");
  }
  server->Shutdown();
}
BENCHMARK(BM_GrpcBareUnary)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Arg 0: "readiness" (one atomic load); 1: a check (snapshot lookup).
void BM_GrpcCheck(benchmark::State& state) {
  HealthRegistry registry;
  Check c;
  c.name = "pg";
  c.function = [](const CheckContext&) { return CheckResult::Healthy(); };
  (void)registry.Register(c);
  registry.RunOnceForTest();
  registry.WaitUntilIdleForTest();
  auto server = grpc_health::HealthServer::Start(&registry).value();
  auto stub = Connect(server->port());
  const std::string name = state.range(0) == 0 ? "readiness" : "pg";
  CallCheck(stub.get(), name);
  for (auto _ : state) {
    if (!CallCheck(stub.get(), name)) state.SkipWithError("failed");
  }
}
BENCHMARK(BM_GrpcCheck)
    ->ArgName("check")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Reads one Watch stream on its own thread, counting messages.
class StreamReader {
 public:
  StreamReader(Health::Stub* stub, const std::string& service) {
    HealthCheckRequest request;
    request.set_service(service);
    reader_ = stub->Watch(&context_, request);
    thread_ = std::thread([this] {
      HealthCheckResponse r;
      while (reader_->Read(&r)) {
        last_.store(r.status());
        messages_.fetch_add(1);
      }
    });
  }
  ~StreamReader() {
    context_.TryCancel();
    thread_.join();
  }
  int last() const { return last_.load(); }
  uint64_t messages() const { return messages_.load(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader_;
  std::atomic<int> last_{-1};
  std::atomic<uint64_t> messages_{0};
  std::thread thread_;
};

// A fake-clock registry of 10 checks whose statuses flip every iteration;
// arg: Watch streams open (0: no gRPC server at all).
void BM_CheckCompletionWithWatchers(benchmark::State& state) {
  testing::FakeClock clock;
  RegistryOptions o;
  o.clock = &clock;
  HealthRegistry registry(o);
  std::atomic<bool> up{true};
  for (int i = 0; i < 10; ++i) {
    Check c;
    c.name = absl::StrCat("c", i);
    c.options.interval = absl::Seconds(1);
    c.options.failure_threshold = 1;
    c.function = [&up](const CheckContext&) {
      return up.load() ? CheckResult::Healthy() : CheckResult::Unhealthy("x");
    };
    (void)registry.Register(c);
  }
  registry.RunOnceForTest();
  registry.WaitUntilIdleForTest();
  const int watchers = static_cast<int>(state.range(0));
  std::unique_ptr<grpc_health::HealthServer> server;
  std::unique_ptr<Health::Stub> stub;
  std::vector<std::unique_ptr<StreamReader>> readers;
  if (watchers > 0) {
    server = grpc_health::HealthServer::Start(&registry).value();
    stub = Connect(server->port());
    for (int i = 0; i < watchers; ++i) {
      const std::string name =
          i % 3 == 0 ? "" : (i % 3 == 1 ? "readiness" : "c0");
      readers.push_back(std::make_unique<StreamReader>(stub.get(), name));
    }
  }
  for (auto _ : state) {
    up.store(!up.load());
    clock.Advance(absl::Seconds(1));
    registry.RunOnceForTest();
    registry.WaitUntilIdleForTest();
  }
  if (server != nullptr) {
    uint64_t messages = 0;
    for (auto& r : readers) messages += r->messages();
    state.counters["watch_msgs"] = benchmark::Counter(
        static_cast<double>(messages), benchmark::Counter::kIsRate);
    state.counters["coalesced"] =
        static_cast<double>(server->service()->stats().watch_coalesced);
    readers.clear();
    server->Stop();
  }
}
BENCHMARK(BM_CheckCompletionWithWatchers)
    ->ArgName("watchers")
    ->Arg(0)
    ->Arg(100)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// 100 Watch streams and 2 threads flooding Check while "flip" alternates
// every 10 ms (real clock) for 3 s; then it is left UNHEALTHY and every
// stream must end on NOT_SERVING. Counters: flips, messages per stream,
// coalesced statuses, Check calls/s, streams whose last status was wrong
// (lost_final, must be 0), RSS growth.
void BM_WatchLoad(benchmark::State& state) {
  for (auto _ : state) {
    const long rss_before = RssKib();
    RegistryOptions o;
    HealthRegistry registry(o);
    std::atomic<uint64_t> runs{0};
    std::atomic<bool> stop_flipping{false};
    Check c;
    c.name = "flip";
    c.options.interval = absl::Milliseconds(10);
    c.options.failure_threshold = 1;
    c.function = [&](const CheckContext&) {
      if (stop_flipping.load()) return CheckResult::Unhealthy("final");
      return runs.fetch_add(1) % 2 == 0 ? CheckResult::Healthy()
                                        : CheckResult::Unhealthy("flip");
    };
    (void)registry.Register(c);
    registry.Start();
    auto server = grpc_health::HealthServer::Start(&registry).value();
    auto stub = Connect(server->port());
    std::vector<std::unique_ptr<StreamReader>> readers;
    for (int i = 0; i < 100; ++i) {
      readers.push_back(
          std::make_unique<StreamReader>(stub.get(), i % 2 ? "flip" : ""));
    }
    std::atomic<bool> flood{true};
    std::atomic<uint64_t> checks{0};
    std::vector<std::thread> flooders;
    for (int t = 0; t < 2; ++t) {
      flooders.emplace_back([&] {
        auto own = Connect(server->port());
        while (flood.load()) {
          CallCheck(own.get(), "flip");
          checks.fetch_add(1);
        }
      });
    }
    const absl::Time start = absl::Now();
    absl::SleepFor(absl::Seconds(3));
    stop_flipping.store(true);
    // Every stream must settle on NOT_SERVING (bounded wait).
    const absl::Time settle_by = absl::Now() + absl::Seconds(10);
    auto settled = [&] {
      for (auto& r : readers) {
        if (r->last() != HealthCheckResponse::NOT_SERVING) return false;
      }
      return true;
    };
    while (!settled() && absl::Now() < settle_by) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    flood.store(false);
    for (std::thread& t : flooders) t.join();
    int lost = 0;
    uint64_t messages = 0;
    for (auto& r : readers) {
      lost += r->last() != HealthCheckResponse::NOT_SERVING;
      messages += r->messages();
    }
    state.SetIterationTime(seconds);
    state.counters["flips"] = static_cast<double>(runs.load());
    state.counters["msgs_per_stream"] = messages / 100.0;
    state.counters["coalesced"] =
        static_cast<double>(server->service()->stats().watch_coalesced);
    state.counters["checks_per_s"] = checks.load() / seconds;
    state.counters["lost_final"] = lost;
    state.counters["rss_growth_kib"] =
        static_cast<double>(RssKib() - rss_before);
    readers.clear();
    server->Stop();
  }
}
BENCHMARK(BM_WatchLoad)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();
