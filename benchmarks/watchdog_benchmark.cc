// The cost of a heartbeat, next to what it should cost: one relaxed atomic
// store. And the false-sharing check: two threads beating separate
// heartbeats (each on its own cache line) against two threads storing to
// one shared line.
//
//   bazel run --config=opt //benchmarks:watchdog_benchmark
//
// A live Watchdog monitors every heartbeat below (10 ms tick), so the
// monitor's sampling -- which reads, and resets, each heartbeat's line -- is
// part of what is measured.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "watchdog/watchdog.h"

namespace vigil {
namespace {

struct alignas(64) PaddedFlag {
  std::atomic<uint32_t> value{0};
};

// Two flags in one cache line: stores from two threads fight over it.
struct SharedLine {
  alignas(64) std::atomic<uint32_t> a{0};
  std::atomic<uint32_t> b{0};
};

Watchdog& TheWatchdog() {
  static Watchdog* const w = [] {
    WatchdogOptions o;
    o.tick = absl::Milliseconds(10);
    o.log_to_stderr = false;
    return new Watchdog(o);
  }();
  return *w;
}

HeartbeatOptions Relaxed() {
  HeartbeatOptions h;
  h.miss_after = absl::Hours(1);
  h.long_miss_after = absl::Hours(1);
  h.kill_after = absl::Hours(1);
  return h;
}

// One heartbeat per benchmark thread index, plus one they all share.
std::vector<Heartbeat>& Heartbeats() {
  static std::vector<Heartbeat>* const hbs = [] {
    auto* v = new std::vector<Heartbeat>();
    for (int i = 0; i < 5; ++i) {
      v->push_back(TheWatchdog().Register("bench", Relaxed()).value());
    }
    return v;
  }();
  return *hbs;
}

PaddedFlag g_flags[4];
SharedLine g_shared;

// Baseline: the bare operation a beat is meant to be.
void BM_BareRelaxedStore(benchmark::State& state) {
  std::atomic<uint32_t>& f = g_flags[state.thread_index()].value;
  for (auto _ : state) {
    f.store(1, std::memory_order_relaxed);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_BareRelaxedStore);

void BM_Beat(benchmark::State& state) {
  Heartbeat& hb = Heartbeats()[state.thread_index()];
  for (auto _ : state) {
    hb.Beat();
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Beat);

// Two threads, each beating its own heartbeat: no contention expected.
BENCHMARK(BM_Beat)->Name("BM_BeatSeparateHeartbeats")->Threads(1)->Threads(2);

// Two threads beating one heartbeat: true sharing of one line.
void BM_BeatOneHeartbeat(benchmark::State& state) {
  Heartbeat& hb = Heartbeats()[4];
  for (auto _ : state) {
    hb.Beat();
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_BeatOneHeartbeat)->Threads(1)->Threads(2);

// Baselines for the two-thread case: separate lines vs one shared line.
BENCHMARK(BM_BareRelaxedStore)
    ->Name("BM_BareStoreSeparateLines")
    ->Threads(1)
    ->Threads(2);

void BM_BareStoreSharedLine(benchmark::State& state) {
  std::atomic<uint32_t>& f =
      state.thread_index() == 0 ? g_shared.a : g_shared.b;
  for (auto _ : state) {
    f.store(1, std::memory_order_relaxed);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_BareStoreSharedLine)->Threads(1)->Threads(2);

// For scale: entering and leaving a scoped deadline, and a pause.
void BM_WatchScope(benchmark::State& state) {
  Heartbeat& hb = Heartbeats()[0];
  for (auto _ : state) {
    WatchScope scope(hb, absl::Seconds(1), "bench");
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_WatchScope);

void BM_ScopedPause(benchmark::State& state) {
  Heartbeat& hb = Heartbeats()[0];
  for (auto _ : state) {
    ScopedPause pause(hb);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ScopedPause);

}  // namespace
}  // namespace vigil
