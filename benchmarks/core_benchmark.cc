// Core costs, each next to its baseline in the same binary:
// - reading a group's status vs a bare atomic load;
// - one check completion (tick + run + snapshot publication) with N checks
//   registered, building a HealthReport, and serialising it (JSON, binary);
// - memory per registered check;
// - evaluation fan-out: 100 checks of 50 ms each, and with one hung check,
//   reported as a ratio to the slowest single check (one check through the
//   same harness).
//
// benchmarks/summarize.py pairs each benchmark with its baseline and prints
// the ratios; its spec names the benchmarks below, and
// benchmarks:summarize_test checks that every name it uses exists.
//
//   bazel run --config=opt //benchmarks:core_benchmark

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "health/history.h"
#include "health/http/endpoints.h"
#include "health/registry.h"
#include "health/report.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace {

std::atomic<uint32_t> g_word{0x01010101};

void BM_BareAtomicLoad(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_word.load(std::memory_order_acquire));
  }
}
BENCHMARK(BM_BareAtomicLoad);

HealthRegistry& SharedRegistry() {
  static HealthRegistry* registry = [] {
    auto* r = new HealthRegistry();
    for (const char* g : {"readiness", "liveness", "batch"}) {
      Check c;
      c.name = absl::StrCat("check-", g);
      c.options.groups = {g};
      c.function = [](const CheckContext&) { return CheckResult::Healthy(); };
      (void)r->Register(c);
    }
    r->RunOnceForTest();
    r->WaitUntilIdleForTest();
    return r;
  }();
  return *registry;
}

void BM_GroupStatusReadiness(benchmark::State& state) {
  HealthRegistry& r = SharedRegistry();
  for (auto _ : state) benchmark::DoNotOptimize(r.GroupStatus(kReadiness));
}
BENCHMARK(BM_GroupStatusReadiness)->ThreadRange(1, 2);

void BM_ReadinessAccessor(benchmark::State& state) {
  HealthRegistry& r = SharedRegistry();
  for (auto _ : state) benchmark::DoNotOptimize(r.readiness());
}
BENCHMARK(BM_ReadinessAccessor)->ThreadRange(1, 2);
BENCHMARK(BM_BareAtomicLoad)->ThreadRange(2, 2);

void BM_GroupStatusCustomGroup(benchmark::State& state) {
  HealthRegistry& r = SharedRegistry();
  for (auto _ : state) benchmark::DoNotOptimize(r.GroupStatus("batch"));
}
BENCHMARK(BM_GroupStatusCustomGroup);

void BM_SnapshotAcquire(benchmark::State& state) {
  HealthRegistry& r = SharedRegistry();
  for (auto _ : state) benchmark::DoNotOptimize(r.snapshot());
}
BENCHMARK(BM_SnapshotAcquire);

// A registry with `n` checks on a fake clock; only "hot" is ever due.
struct Population {
  explicit Population(int n) {
    RegistryOptions o;
    o.clock = &clock;
    registry = std::make_unique<HealthRegistry>(o);
    if (n > 0) Populate(n);
  }
  void Populate(int n) {
    for (int i = 0; i < n; ++i) {
      Check c;
      c.name = i == 0 ? "hot" : absl::StrCat("check-", i);
      c.options.interval = i == 0 ? absl::Seconds(1) : absl::Hours(1000);
      c.options.groups = {i % 3 == 0 ? "liveness" : "readiness"};
      c.function = [](const CheckContext&) {
        CheckResult r = CheckResult::Healthy("ok");
        r.observed_value = 0.5;
        r.observed_unit = "ratio";
        r.details["k"] = "v";
        return r;
      };
      (void)registry->Register(c);
    }
    registry->RunOnceForTest();
    registry->WaitUntilIdleForTest(absl::Minutes(5));
  }
  testing::FakeClock clock;
  std::unique_ptr<HealthRegistry> registry;
};

void BM_CheckCompletionWithNChecks(benchmark::State& state) {
  Population p(state.range(0));
  for (auto _ : state) {
    p.clock.Advance(absl::Seconds(1));
    p.registry->RunOnceForTest();
    p.registry->WaitUntilIdleForTest();
  }
  state.counters["checks"] = state.range(0);
}
BENCHMARK(BM_CheckCompletionWithNChecks)
    ->RangeMultiplier(10)
    ->Range(10, 10000)
    ->Unit(benchmark::kMicrosecond);

// The same with a HealthHistory attached: every run of "hot" (which has an
// observed value) appends a sample, and its first transition a journal
// entry. Baseline: BM_CheckCompletionWithNChecks at the same n.
void BM_CheckCompletionWithHistory(benchmark::State& state) {
  Population p(0);
  auto history = HealthHistory::Create(p.registry.get()).value();
  p.Populate(state.range(0));
  for (auto _ : state) {
    p.clock.Advance(absl::Seconds(1));
    p.registry->RunOnceForTest();
    p.registry->WaitUntilIdleForTest();
  }
  state.counters["checks"] = state.range(0);
  state.counters["samples"] =
      static_cast<double>(history->Samples("hot").at(0).samples.size());
}
// The same with a result listener that does nothing: separates the cost of
// the hook (the worker calls listeners after publishing, and
// WaitUntilIdleForTest waits for them) from the journal's own work.
void BM_CheckCompletionWithNoopResultListener(benchmark::State& state) {
  Population p(0);
  p.registry->AddResultListener([](const CheckSnapshot&) {});
  p.Populate(state.range(0));
  for (auto _ : state) {
    p.clock.Advance(absl::Seconds(1));
    p.registry->RunOnceForTest();
    p.registry->WaitUntilIdleForTest();
  }
  state.counters["checks"] = state.range(0);
}
BENCHMARK(BM_CheckCompletionWithNoopResultListener)
    ->Arg(10)
    ->Unit(benchmark::kMicrosecond);

// Issue 16's contract for the history's cost (<= 1.05x on check
// completion), measured so that a loaded, shared machine can resolve it.
// Two registries of range(0) checks, one with a HealthHistory attached and
// one without, each run `kPerRound` check completions per round; the sides
// alternate in ABBA order (so a drift in the machine's load hits both), and
// each round's process CPU time (every thread: the scheduler, the workers
// and the listeners) and wall time per completion are kept. Reported, per
// completion: the median of each side's rounds (with_ns, without_ns), and
// the median and quartiles of the ratio within each pair of adjacent rounds
// (ratio_median, ratio_p25, ratio_p75), for CPU time and for wall time.
// CPU time is the headline: wall time also counts the time this process
// waited for a core, which the other agents on the machine decide.
// Bounded: at most `kMaxPairs` pairs and about 20 s.
double ProcessCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

void BM_HistoryCostInterleaved(benchmark::State& state) {
  constexpr int kPerRound = 200;
  constexpr int kMaxPairs = 101;
  constexpr absl::Duration kBudget = absl::Seconds(20);
  const int n = state.range(0);
  Population with(0);
  auto history = HealthHistory::Create(with.registry.get()).value();
  with.Populate(n);
  Population without(0);
  if (state.range(1) == 1) {
    without.registry->AddResultListener([](const CheckSnapshot&) {});
  }
  without.Populate(n);
  struct Round {
    double cpu_ns;
    double wall_ns;
  };
  auto run_round = [](Population& p) {
    const double cpu0 = ProcessCpuNs();
    const absl::Time wall0 = absl::Now();
    for (int i = 0; i < kPerRound; ++i) {
      p.clock.Advance(absl::Seconds(1));
      p.registry->RunOnceForTest();
      p.registry->WaitUntilIdleForTest();
    }
    return Round{(ProcessCpuNs() - cpu0) / kPerRound,
                 absl::ToDoubleNanoseconds(absl::Now() - wall0) / kPerRound};
  };
  std::vector<double> with_cpu, without_cpu, with_wall, without_wall;
  std::vector<double> ratio_cpu, ratio_wall;
  for (auto _ : state) {
    run_round(with);  // Warm-up of both sides, not kept.
    run_round(without);
    const absl::Time deadline = absl::Now() + kBudget;
    for (int pair = 0; pair < kMaxPairs && absl::Now() < deadline; ++pair) {
      Round w, wo;
      if (pair % 2 == 0) {
        w = run_round(with);
        wo = run_round(without);
      } else {
        wo = run_round(without);
        w = run_round(with);
      }
      with_cpu.push_back(w.cpu_ns);
      without_cpu.push_back(wo.cpu_ns);
      with_wall.push_back(w.wall_ns);
      without_wall.push_back(wo.wall_ns);
      ratio_cpu.push_back(w.cpu_ns / wo.cpu_ns);
      ratio_wall.push_back(w.wall_ns / wo.wall_ns);
    }
  }
  state.counters["checks"] = n;
  state.counters["pairs"] = static_cast<double>(ratio_cpu.size());
  state.counters["completions_per_round"] = kPerRound;
  state.counters["with_ns"] = Quantile(with_cpu, 0.5);
  state.counters["without_ns"] = Quantile(without_cpu, 0.5);
  state.counters["ratio_median"] = Quantile(ratio_cpu, 0.5);
  state.counters["ratio_p25"] = Quantile(ratio_cpu, 0.25);
  state.counters["ratio_p75"] = Quantile(ratio_cpu, 0.75);
  state.counters["wall_with_ns"] = Quantile(with_wall, 0.5);
  state.counters["wall_without_ns"] = Quantile(without_wall, 0.5);
  state.counters["wall_ratio_median"] = Quantile(ratio_wall, 0.5);
  state.counters["wall_ratio_p25"] = Quantile(ratio_wall, 0.25);
  state.counters["wall_ratio_p75"] = Quantile(ratio_wall, 0.75);
  state.counters["samples"] =
      static_cast<double>(history->Samples("hot").at(0).samples.size());
}
BENCHMARK(BM_HistoryCostInterleaved)
    ->ArgNames({"checks", "noop_listener"})
    ->Args({10, 0})
    ->Args({10, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// For counting instructions (benchmarks/history_cost.sh runs this under
// valgrind --tool=callgrind, which counts the instructions of every thread
// and does not depend on the machine's load): `completions` check
// completions of 10 checks with, by `attached`, nothing (0), a
// HealthHistory (1) or a result listener that does nothing (2). The script
// runs two counts and divides the difference, so set-up cancels out. Timed
// like any benchmark, but the time under valgrind means nothing.
void BM_CompletionsForInstructionCount(benchmark::State& state) {
  const int attached = state.range(0);
  const int completions = state.range(1);
  Population p(0);
  std::unique_ptr<HealthHistory> history;
  if (attached == 1) history = HealthHistory::Create(p.registry.get()).value();
  if (attached == 2) p.registry->AddResultListener([](const CheckSnapshot&) {});
  p.Populate(10);
  for (auto _ : state) {
    for (int i = 0; i < completions; ++i) {
      p.clock.Advance(absl::Seconds(1));
      p.registry->RunOnceForTest();
      p.registry->WaitUntilIdleForTest();
    }
  }
  state.counters["completions"] = completions;
}
BENCHMARK(BM_CompletionsForInstructionCount)
    ->ArgNames({"attached", "completions"})
    ->ArgsProduct({{0, 1, 2}, {200, 1200}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Serving /statusz (what a probe server worker does per request): the page
// for n checks with history, from the snapshot. Reports the page's bytes.
void BM_StatusPage(benchmark::State& state) {
  Population p(0);
  auto history = HealthHistory::Create(p.registry.get()).value();
  p.Populate(state.range(0));
  for (int i = 0; i < 60; ++i) {  // A minute of samples for "hot".
    p.clock.Advance(absl::Seconds(1));
    p.registry->RunOnceForTest();
    p.registry->WaitUntilIdleForTest();
  }
  http::EndpointsOptions o;
  o.history = history.get();
  auto endpoints = http::HealthEndpoints::Create(p.registry.get(), o).value();
  http::HttpRequest request;
  request.method = "GET";
  request.path = "/statusz";
  request.remote_address = "127.0.0.1";
  size_t bytes = 0;
  for (auto _ : state) {
    http::HttpResponse r = endpoints->Handle(request);
    bytes = r.body.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["checks"] = state.range(0);
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_StatusPage)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_CheckCompletionWithHistory)
    ->Arg(10)
    ->Arg(1000)
    ->Unit(benchmark::kMicrosecond);

void BM_BuildHealthReport(benchmark::State& state) {
  Population p(state.range(0));
  auto snap = p.registry->snapshot();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ToHealthReport(*snap, p.registry->service()));
  }
  state.counters["checks"] = state.range(0);
}
BENCHMARK(BM_BuildHealthReport)
    ->RangeMultiplier(10)
    ->Range(10, 10000)
    ->Unit(benchmark::kMicrosecond);

void BM_ReportToJson(benchmark::State& state) {
  Population p(state.range(0));
  v1::HealthReport report =
      ToHealthReport(*p.registry->snapshot(), p.registry->service());
  size_t bytes = 0;
  for (auto _ : state) {
    std::string json = ToJson(report).value();
    bytes = json.size();
    benchmark::DoNotOptimize(json);
  }
  state.counters["bytes"] = bytes;
  state.counters["checks"] = state.range(0);
}
BENCHMARK(BM_ReportToJson)
    ->RangeMultiplier(10)
    ->Range(10, 10000)
    ->Unit(benchmark::kMicrosecond);

void BM_ReportToBinary(benchmark::State& state) {
  Population p(state.range(0));
  v1::HealthReport report =
      ToHealthReport(*p.registry->snapshot(), p.registry->service());
  size_t bytes = 0;
  for (auto _ : state) {
    std::string bin = report.SerializeAsString();
    bytes = bin.size();
    benchmark::DoNotOptimize(bin);
  }
  state.counters["bytes"] = bytes;
  state.counters["checks"] = state.range(0);
}
BENCHMARK(BM_ReportToBinary)
    ->RangeMultiplier(10)
    ->Range(10, 10000)
    ->Unit(benchmark::kMicrosecond);

// Heap bytes per registered check (including its share of the published
// snapshot), from mallinfo2 before and after registering n checks.
void BM_MemoryPerCheck(benchmark::State& state) {
  const int n = state.range(0);
  double per_check = 0;
  for (auto _ : state) {
    const size_t before = mallinfo2().uordblks;
    {
      auto p = std::make_unique<Population>(n);
      const size_t after = mallinfo2().uordblks;
      per_check = (static_cast<double>(after) - before) / n;
    }
  }
  state.counters["bytes_per_check"] = per_check;
}
BENCHMARK(BM_MemoryPerCheck)
    ->Arg(1000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// `range(0)` checks that each take 50 ms (real time), on a pool allowed to
// grow to `range(1)` workers (128 is the default); real clock. Reported: wall
// time for all to complete. With range(2) == 1, one more check hangs forever
// (until the end of the iteration); the others must not wait for it. The
// baseline is the same harness with one check: the slowest single check,
// measured through the registry, so the ratio of 100 checks to it shows the
// fan-out (1.0 is perfect, 100 is serial).
void BM_FanOut(benchmark::State& state) {
  const int checks = state.range(0);
  const int workers = state.range(1);
  const bool with_hung = state.range(2) == 1;
  constexpr absl::Duration kCheckTime = absl::Milliseconds(50);
  for (auto _ : state) {
    RegistryOptions o;
    o.max_worker_threads = workers;
    HealthRegistry registry(o);
    Notification release;
    std::atomic<int> done{0};
    Mutex mu;
    if (with_hung) {
      Check hung;
      hung.name = "hung";
      hung.options.timeout = absl::Seconds(30);
      hung.function = [&](const CheckContext&) {
        release.WaitForNotification();
        return CheckResult::Healthy();
      };
      (void)registry.Register(hung);
    }
    for (int i = 0; i < checks; ++i) {
      Check c;
      c.name = absl::StrCat("c", i);
      c.options.interval = absl::Hours(1);
      c.function = [&](const CheckContext&) {
        absl::SleepFor(kCheckTime);  // Simulated I/O wait.
        MutexLock lock(&mu);
        done.fetch_add(1);
        return CheckResult::Healthy();
      };
      (void)registry.Register(c);
    }
    const absl::Time start = absl::Now();
    registry.RunOnceForTest();
    {
      MutexLock lock(&mu);
      mu.AwaitWithTimeout([&] { return done.load() == checks; },
                          absl::Seconds(60));
    }
    state.SetIterationTime(absl::ToDoubleSeconds(absl::Now() - start));
    release.Notify();
  }
  state.counters["checks"] = checks;
}
BENCHMARK(BM_FanOut)
    ->ArgNames({"checks", "max_workers", "hung"})
    ->Args({1, 128, 0})
    ->Args({100, 4, 0})
    ->Args({100, 16, 0})
    ->Args({100, 128, 0})
    ->Args({100, 128, 1})
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();
