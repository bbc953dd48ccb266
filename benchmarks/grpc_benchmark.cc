// gRPC health costs, each next to its baseline in the same binary and the
// same run:
// - BM_GrpcCheckRounds: Check over loopback (one synchronous grpc++ client
//   call) answered by vigil's HealthServer for a group ("readiness") and
//   for a check ("pg"), vs the same call answered by a bare grpc++ callback
//   handler that returns SERVING and does nothing else. The servers run
//   side by side and are called in alternating rounds (the order rotated
//   each round), so machine noise lands on all of them alike.
// - BM_CompletionUnderGrpc: the registry's check completion (10 checks
//   flipping together: tick, run, publish, listeners) with 100 Watch
//   streams open plus a Check flood, vs no gRPC server, in alternating
//   phases on one registry. See the comment there for what is measured.
// - BM_WatchLoad: 100 Watch streams and a Check flood while a check flips
//   every 10 ms on the real clock, reporting messages, coalescing, lost
//   final states (must be 0) and memory growth as counters.
//
//   bazel run --config=opt //benchmarks:grpc_benchmark

#include <malloc.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
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

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The value below which `q` (0..1) of `v` lies (nearest rank).
double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double CpuSeconds(clockid_t clock) {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return -1;
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// --- Check vs a bare grpc++ unary call, in alternating rounds --------------

// Per-call figures of one variant over every round.
struct CheckVariant {
  std::vector<double> wall_us;  // Per round: wall time per call.
  std::vector<double> cpu_us;   // Per round: process CPU time per call.
};

struct CheckRounds {
  // 0: bare grpc++ handler; 1: vigil, Check("readiness"); 2: vigil,
  // Check("pg"), a check.
  CheckVariant v[3];
  int rounds = 0;
  bool failed = false;
};

// kRounds rounds (at most kBudget of wall time) of kCalls calls to each
// variant, the order rotated every round. Process CPU time is a fair
// per-variant figure too: during a variant's turn the other servers are
// idle, so the process's CPU is that server's plus the client's.
constexpr int kRounds = 60;
constexpr int kCalls = 100;
constexpr absl::Duration kBudget = absl::Seconds(30);

CheckRounds RunCheckRounds() {
  CheckRounds out;
  HealthRegistry registry;
  Check c;
  c.name = "pg";
  c.function = [](const CheckContext&) { return CheckResult::Healthy(); };
  (void)registry.Register(c);
  registry.RunOnceForTest();
  registry.WaitUntilIdleForTest();
  auto vigil = grpc_health::HealthServer::Start(&registry).value();

  // The bare server is built as HealthServer builds its own (same channel
  // arguments), so the only difference is the handler.
  BareHealth bare_service;
  grpc::ServerBuilder builder;
  int bare_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &bare_port);
  builder.RegisterService(&bare_service);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(16 * 1024);
  std::unique_ptr<grpc::Server> bare = builder.BuildAndStart();

  // One channel each, as a prober would have.
  std::unique_ptr<Health::Stub> stubs[3] = {
      Connect(bare_port), Connect(vigil->port()), Connect(vigil->port())};
  const std::string names[3] = {"readiness", "readiness", "pg"};
  for (int i = 0; i < 3; ++i) {
    for (int w = 0; w < 200; ++w) {
      if (!CallCheck(stubs[i].get(), names[i])) out.failed = true;
    }
  }
  const absl::Time give_up = absl::Now() + kBudget;
  for (int round = 0; round < kRounds && absl::Now() < give_up; ++round) {
    for (int k = 0; k < 3; ++k) {
      const int i = (round + k) % 3;
      const double cpu0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
      const absl::Time t0 = absl::Now();
      for (int n = 0; n < kCalls; ++n) {
        if (!CallCheck(stubs[i].get(), names[i])) out.failed = true;
      }
      const double wall = absl::ToDoubleMicroseconds(absl::Now() - t0);
      const double cpu = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
      out.v[i].wall_us.push_back(wall / kCalls);
      out.v[i].cpu_us.push_back(cpu * 1e6 / kCalls);
    }
    ++out.rounds;
  }
  bare->Shutdown();
  vigil->Stop();
  return out;
}

const CheckRounds& CheckRoundsOnce() {
  static const CheckRounds* rounds = new CheckRounds(RunCheckRounds());
  return *rounds;
}

// One row per variant, all from the same alternating measurement (made once
// per process, by whichever row runs first). Manual time: the median over
// rounds of the wall time per call. Counters on the vigil rows: the median,
// 10th and 90th percentile over rounds of the per-round ratio to the bare
// handler (wall and CPU), i.e. the spread of the ratio.
void BM_GrpcCheckRounds(benchmark::State& state) {
  const int i = static_cast<int>(state.range(0));
  const CheckRounds& r = CheckRoundsOnce();
  if (r.failed) {
    state.SkipWithError("a Check call failed");
    return;
  }
  for (auto _ : state) {
    state.SetIterationTime(Median(r.v[i].wall_us) * 1e-6);
  }
  state.counters["rounds"] = r.rounds;
  state.counters["calls_per_round"] = kCalls;
  state.counters["cpu_us_per_call"] = Median(r.v[i].cpu_us);
  if (i == 0) return;
  std::vector<double> wall_ratio, cpu_ratio;
  for (int k = 0; k < r.rounds; ++k) {
    wall_ratio.push_back(r.v[i].wall_us[k] / r.v[0].wall_us[k]);
    cpu_ratio.push_back(r.v[i].cpu_us[k] / r.v[0].cpu_us[k]);
  }
  state.counters["ratio_median"] = Median(wall_ratio);
  state.counters["ratio_p10"] = Quantile(wall_ratio, 0.1);
  state.counters["ratio_p90"] = Quantile(wall_ratio, 0.9);
  state.counters["cpu_ratio_median"] = Median(cpu_ratio);
  state.counters["cpu_ratio_p10"] = Quantile(cpu_ratio, 0.1);
  state.counters["cpu_ratio_p90"] = Quantile(cpu_ratio, 0.9);
}
BENCHMARK(BM_GrpcCheckRounds)
    ->ArgName("variant")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// --- The registry's check completion under gRPC load -----------------------

// What is measured, and why. One registry on a fake clock with 10 checks
// whose statuses flip together every completion (so every completion
// publishes 10 snapshots and the groups' transitions, and every Watch
// stream has news). A completion is: flip, advance the clock, Tick(), wait
// until idle (every run finished, published, listeners called). Phases
// alternate on the same registry, the order rotated each round:
//   load 0: no gRPC server at all (the baseline);
//   load 1: a HealthServer, no streams, no calls: the listener's own cost
//           (ring the doorbell; the notifier wakes and finds no stream);
//   load 2: 100 Watch streams ("", "readiness", "c0"), no Check calls;
//   load 3: the streams plus a Check flood bounded to 2 x 1,000 calls/s
//           ("readiness" and the check "c3", a snapshot lookup);
//   in loads 1-3 each completion starts once every stream has received the
//   previous one's status (an untimed wait), as when checks change every
//   few ms rather than back to back;
//   load 4: the streams with an unbounded flood (2 threads calling Check
//           back to back) and no wait: the gRPC side takes all the CPU it
//           can get.
// Two figures per phase, each the median over rounds:
//   cpu:1  CPU time of the registry's threads per completion: the thread
//          running Tick() and waiting for idle, plus every worker thread
//          that ran a check (each found by the check function itself).
//          This is what vigil's gRPC side adds to the registry's own work
//          (listener calls, contention on the registry's locks, caches
//          cooled by other threads) whatever the share of the 2 cores it
//          gets;
//   cpu:0  wall time per completion, which also includes waiting for a
//          core while gRPC's threads and the clients' (here in the same
//          process, on the same 2 cores) run.
// load 4's wall time is CPU contention by construction (a flood on the
// same cores), not a cost vigil can remove; its CPU figure is not.
constexpr int kLoads = 5;
constexpr int kCompletionRounds = 16;
constexpr int kCompletionsPerPhase = 40;

struct CompletionRounds {
  std::vector<double> wall_us[kLoads];
  std::vector<double> cpu_us[kLoads];
  std::vector<double> switches[kLoads];  // Per completion, per round.
  uint64_t watch_messages[kLoads] = {};
  uint64_t flood_checks[kLoads] = {};
  int unsettled = 0;  // Completions whose fan-out did not settle in 2 s.
  bool failed = false;
};

// The worker threads' CPU clocks, as found from inside the check function.
class WorkerClocks {
 public:
  void Note() {
    thread_local bool noted = false;
    if (noted) return;
    noted = true;
    clockid_t id;
    if (pthread_getcpuclockid(pthread_self(), &id) != 0) return;
    MutexLock lock(&mu_);
    clocks_.push_back(id);
    tids_.push_back(static_cast<int>(gettid()));
  }
  // Context switches (voluntary + involuntary) of every worker and of the
  // calling thread, from /proc.
  uint64_t ContextSwitches() {
    std::vector<int> tids;
    {
      MutexLock lock(&mu_);
      tids = tids_;
    }
    tids.push_back(static_cast<int>(gettid()));
    uint64_t sum = 0;
    for (int tid : tids) {
      FILE* f = std::fopen(
          absl::StrCat("/proc/self/task/", tid, "/status").c_str(), "r");
      if (f == nullptr) continue;
      char line[256];
      while (std::fgets(line, sizeof(line), f) != nullptr) {
        unsigned long long n = 0;
        if (std::sscanf(line, "voluntary_ctxt_switches: %llu", &n) == 1 ||
            std::sscanf(line, "nonvoluntary_ctxt_switches: %llu", &n) == 1) {
          sum += n;
        }
      }
      std::fclose(f);
    }
    return sum;
  }
  // Sum of every worker's CPU time (a worker's clock that cannot be read
  // any more, i.e. an exited worker, counts as lost).
  double Seconds(int* lost) {
    MutexLock lock(&mu_);
    double sum = 0;
    for (clockid_t id : clocks_) {
      const double s = CpuSeconds(id);
      if (s < 0) {
        ++*lost;
      } else {
        sum += s;
      }
    }
    return sum;
  }

 private:
  Mutex mu_;
  std::vector<clockid_t> clocks_ ABSL_GUARDED_BY(mu_);
  std::vector<int> tids_ ABSL_GUARDED_BY(mu_);
};

CompletionRounds RunCompletionRounds() {
  CompletionRounds out;
  testing::FakeClock clock;
  RegistryOptions o;
  o.clock = &clock;
  HealthRegistry registry(o);
  std::atomic<bool> up{true};
  WorkerClocks workers;
  for (int i = 0; i < 10; ++i) {
    Check c;
    c.name = absl::StrCat("c", i);
    c.options.interval = absl::Seconds(1);
    c.options.failure_threshold = 1;
    c.function = [&up, &workers](const CheckContext&) {
      workers.Note();
      return up.load() ? CheckResult::Healthy() : CheckResult::Unhealthy("x");
    };
    (void)registry.Register(c);
  }
  registry.RunOnceForTest();
  registry.WaitUntilIdleForTest();
  auto complete_once = [&] {
    up.store(!up.load());
    clock.Advance(absl::Seconds(1));
    registry.RunOnceForTest();
    registry.WaitUntilIdleForTest();
  };
  for (int w = 0; w < 20; ++w) complete_once();

  for (int round = 0; round < kCompletionRounds; ++round) {
    for (int k = 0; k < kLoads; ++k) {
      const int load = (round + k) % kLoads;
      std::unique_ptr<grpc_health::HealthServer> server;
      std::unique_ptr<Health::Stub> stub;
      std::vector<std::unique_ptr<StreamReader>> readers;
      std::atomic<bool> flood{true};
      std::atomic<uint64_t> checks{0};
      std::vector<std::thread> flooders;
      if (load >= 1) {
        server = grpc_health::HealthServer::Start(&registry).value();
      }
      if (load >= 2) {
        stub = Connect(server->port());
        for (int i = 0; i < 100; ++i) {
          const std::string name =
              i % 3 == 0 ? "" : (i % 3 == 1 ? "readiness" : "c0");
          readers.push_back(std::make_unique<StreamReader>(stub.get(), name));
        }
      }
      if (load >= 3) {
        for (int t = 0; t < 2; ++t) {
          flooders.emplace_back([&, t, bounded = load == 3] {
            auto own = Connect(server->port());
            const std::string name = t == 0 ? "readiness" : "c3";
            absl::Time next = absl::Now();
            while (flood.load()) {
              if (bounded) {
                next += absl::Milliseconds(1);  // 1,000 calls/s.
                absl::SleepFor(next - absl::Now());
              }
              CallCheck(own.get(), name);
              checks.fetch_add(1);
            }
          });
        }
      }
      // Loads 1-3: wait (untimed, bounded) until every stream shows the
      // registry's current status.
      auto settle = [&] {
        if (load == 0 || load == 4) return;
        const int want = up.load() ? HealthCheckResponse::SERVING
                                   : HealthCheckResponse::NOT_SERVING;
        const absl::Time by = absl::Now() + absl::Seconds(2);
        while (absl::Now() < by) {
          bool all = true;
          for (auto& r : readers) all = all && r->last() == want;
          if (all) return;
          absl::SleepFor(absl::Microseconds(200));
        }
        ++out.unsettled;
      };
      settle();
      double wall_sum = 0;
      double cpu_sum = 0;
      uint64_t switches = 0;
      int lost = 0;
      for (int n = 0; n < kCompletionsPerPhase; ++n) {
        const uint64_t switches0 = workers.ContextSwitches();
        const double self0 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
        const double workers0 = workers.Seconds(&lost);
        const absl::Time t0 = absl::Now();
        complete_once();
        wall_sum += absl::ToDoubleMicroseconds(absl::Now() - t0);
        cpu_sum += (CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - self0 +
                    workers.Seconds(&lost) - workers0) *
                   1e6;
        switches += workers.ContextSwitches() - switches0;
        settle();
      }
      if (lost > 0) out.failed = true;
      out.wall_us[load].push_back(wall_sum / kCompletionsPerPhase);
      out.cpu_us[load].push_back(cpu_sum / kCompletionsPerPhase);
      out.switches[load].push_back(static_cast<double>(switches) /
                                   kCompletionsPerPhase);
      flood.store(false);
      for (std::thread& t : flooders) t.join();
      out.flood_checks[load] += checks.load();
      for (auto& r : readers) out.watch_messages[load] += r->messages();
      readers.clear();
      if (server != nullptr) server->Stop();
    }
  }
  return out;
}

const CompletionRounds& CompletionRoundsOnce() {
  static const CompletionRounds* rounds =
      new CompletionRounds(RunCompletionRounds());
  return *rounds;
}

// Args: load (0-4 as above), cpu (1: the registry's threads' CPU time
// per completion; 0: wall time per completion). Manual time: the median
// over rounds of that figure. Counters on load > 0: the median, 10th and
// 90th percentile over rounds of the per-round ratio to load 0.
void BM_CompletionUnderGrpc(benchmark::State& state) {
  const int load = static_cast<int>(state.range(0));
  const bool cpu = state.range(1) == 1;
  const CompletionRounds& r = CompletionRoundsOnce();
  if (r.failed) {
    state.SkipWithError("a worker thread's CPU clock was lost");
    return;
  }
  const std::vector<double>* figures = cpu ? r.cpu_us : r.wall_us;
  for (auto _ : state) {
    state.SetIterationTime(Median(figures[load]) * 1e-6);
  }
  state.counters["rounds"] = static_cast<double>(figures[load].size());
  state.counters["completions_per_round"] = kCompletionsPerPhase;
  // The registry's threads' context switches per completion (median over
  // rounds; reading /proc adds one or two of its own).
  state.counters["ctx_switches"] = Median(r.switches[load]);
  if (load == 0) return;
  std::vector<double> ratio;
  for (size_t k = 0; k < figures[load].size(); ++k) {
    ratio.push_back(figures[load][k] / figures[0][k]);
  }
  state.counters["ratio_median"] = Median(ratio);
  state.counters["ratio_p10"] = Quantile(ratio, 0.1);
  state.counters["ratio_p90"] = Quantile(ratio, 0.9);
  state.counters["unsettled"] = r.unsettled;
  state.counters["watch_msgs"] = static_cast<double>(r.watch_messages[load]);
  state.counters["flood_checks"] = static_cast<double>(r.flood_checks[load]);
}
BENCHMARK(BM_CompletionUnderGrpc)
    ->ArgNames({"load", "cpu"})
    ->ArgsProduct({{0, 1, 2, 3, 4}, {0, 1}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// --- The same completion, for counting instructions -----------------------

// Timings of a ~20 us completion on 2 shared cores move by 20-300 % from
// round to round, and CPU time of the registry's threads still includes
// cache misses and core sharing with the 100 client threads (here in the
// same process). So this row is meant to run under
//   valgrind --tool=callgrind --separate-threads=yes --compress-strings=no
// which counts the instructions each thread executes, whatever else runs
// (hardware counters, perf_event_open, are not available in these VMs:
// `perf stat -e instructions` says <not supported>). The registry's threads
// are the ones doing a completion: the ticker below (RunOnceForTest and
// WaitUntilIdleForTest) and the pool's workers (running checks, publishing,
// calling listeners); benchmarks/grpc_instructions.sh finds their
// per-thread files by the functions TickerForInstructionCount and
// WorkerPool::Loop, and sums only those. The clients stay in this process,
// on their own threads, which are not summed. Run at two completion counts,
// the difference cancels set-up (registering, warm-up, server start,
// streams, thread creation).
//
// Args: load (0: no gRPC server; 3: a HealthServer, 100 Watch streams and a
// 2-thread Check flood, each completion started once every stream shows the
// previous status, as load 3 above), completions. The wall time reported
// is meaningless under valgrind.
struct TickerShared {
  Mutex mu;
  int requested ABSL_GUARDED_BY(mu) = 0;
  int done ABSL_GUARDED_BY(mu) = 0;
};

// Its own function (not inlined), so that its thread can be found by name
// in callgrind's per-thread output.
__attribute__((noinline)) void TickerForInstructionCount(
    TickerShared* shared, int completions,
    const std::function<void()>& complete_once) {
  for (int n = 0; n < completions; ++n) {
    {
      MutexLock lock(&shared->mu);
      shared->mu.Await([shared, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return shared->requested > n;
      });
    }
    complete_once();
    MutexLock lock(&shared->mu);
    shared->done = n + 1;
  }
}

void BM_CompletionInstructions(benchmark::State& state) {
  const int load = static_cast<int>(state.range(0));
  const int completions = static_cast<int>(state.range(1));
  for (auto _ : state) {
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
    registry.RunOnceForTest();  // Every check HEALTHY before the streams.
    registry.WaitUntilIdleForTest();
    std::function<void()> complete_once = [&] {
      up.store(!up.load());
      clock.Advance(absl::Seconds(1));
      registry.RunOnceForTest();
      registry.WaitUntilIdleForTest();
    };
    std::unique_ptr<grpc_health::HealthServer> server;
    std::unique_ptr<Health::Stub> stub;
    std::vector<std::unique_ptr<StreamReader>> readers;
    std::atomic<bool> flood{true};
    std::vector<std::thread> flooders;
    if (load == 3) {
      server = grpc_health::HealthServer::Start(&registry).value();
      stub = Connect(server->port());
      for (int i = 0; i < 100; ++i) {
        const std::string name =
            i % 3 == 0 ? "" : (i % 3 == 1 ? "readiness" : "c0");
        readers.push_back(std::make_unique<StreamReader>(stub.get(), name));
      }
      for (int t = 0; t < 2; ++t) {
        flooders.emplace_back([&, t] {
          auto own = Connect(server->port());
          const std::string name = t == 0 ? "readiness" : "c3";
          absl::Time next = absl::Now();
          while (flood.load()) {
            next += absl::Milliseconds(1);
            absl::SleepFor(next - absl::Now());
            CallCheck(own.get(), name);
          }
        });
      }
    }
    int unsettled = 0;
    auto settle = [&] {
      if (load == 0) return;
      const int want = up.load() ? HealthCheckResponse::SERVING
                                 : HealthCheckResponse::NOT_SERVING;
      const absl::Time by = absl::Now() + absl::Seconds(60);
      while (absl::Now() < by) {
        bool all = true;
        for (auto& r : readers) all = all && r->last() == want;
        if (all) return;
        absl::SleepFor(absl::Microseconds(200));
      }
      ++unsettled;
    };
    TickerShared shared;
    std::thread ticker(TickerForInstructionCount, &shared, completions,
                       std::cref(complete_once));
    for (int n = 0; n < completions; ++n) {
      settle();
      {
        MutexLock lock(&shared.mu);  // Its release wakes the ticker.
        shared.requested = n + 1;
      }
      MutexLock lock(&shared.mu);
      shared.mu.Await([&shared, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return shared.done > n;
      });
    }
    ticker.join();
    settle();
    flood.store(false);
    for (std::thread& t : flooders) t.join();
    readers.clear();
    if (server != nullptr) server->Stop();
    state.counters["unsettled"] = unsettled;
  }
}
BENCHMARK(BM_CompletionInstructions)
    ->ArgNames({"load", "completions"})
    ->ArgsProduct({{0, 3}, {10, 60}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

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
