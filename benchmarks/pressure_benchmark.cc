// Cost of one sample of each pressure detector, next to the raw cost of
// opening, reading and closing the same files (what a naive implementation
// pays every time), and of pread on descriptors kept open (the floor).
//
//   bazel run --config=opt //benchmarks:pressure_benchmark
//
// Everything reads the real /proc and /sys of this machine, for this
// process. At the end: the memory fast path (kernel event -> published
// snapshot) and its idle cost, each next to polling alone.

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "benchmark/benchmark.h"
#include "health/pressure/cpu.h"
#include "health/pressure/defaults.h"
#include "health/pressure/disk.h"
#include "health/pressure/events.h"
#include "health/pressure/fds.h"
#include "health/pressure/io.h"
#include "health/pressure/memory.h"
#include "health/pressure/tasks.h"
#include "health/pressure/trend.h"
#include "health/registry.h"
#include "health/sync.h"

namespace vigil {
namespace pressure {
namespace {

// open + read to EOF + close, as a naive sampler would; a directory (the
// /proc/<pid>/fd count) is open + fstat + close.
void RawRead(const std::string& path) {
  char buf[8192];
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    benchmark::DoNotOptimize(st.st_size);
  } else {
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    benchmark::DoNotOptimize(buf[0]);
  }
  close(fd);
}

// Descriptors kept open and re-read with one pread: the floor.
//
// Each pread asks for about what the detector's reader asks for (the
// smallest power of two, at least 64, that holds twice the content seen at
// setup), not a fixed 8 KiB: sysctl files allocate and zero a kernel buffer
// of the requested size and kernfs attributes one of up to a page, so an
// oversized request would make the floor dearer than the detector's read.
// A directory (the /proc/<pid>/fd count) is one fstat, as in the detector;
// which is which is settled once here, so no sample pays a failing pread.
class KeptOpen {
 public:
  explicit KeptOpen(const std::vector<std::string>& paths) {
    for (const std::string& p : paths) {
      int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      struct stat st;
      if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        dir_fds_.push_back(fd);
        continue;
      }
      char buf[kMaxRead];
      const ssize_t n = pread(fd, buf, sizeof(buf), 0);
      size_t want = 64;
      while (n > 0 && want < 2 * static_cast<size_t>(n)) want *= 2;
      files_.push_back({fd, std::min(want, kMaxRead)});
    }
  }
  ~KeptOpen() {
    for (const File& f : files_) close(f.fd);
    for (int fd : dir_fds_) close(fd);
  }
  void ReadAll() {
    char buf[kMaxRead];
    for (const File& f : files_) {
      benchmark::DoNotOptimize(pread(f.fd, buf, f.read_size, 0));
    }
    for (int fd : dir_fds_) {
      struct stat st;
      benchmark::DoNotOptimize(fstat(fd, &st));
      benchmark::DoNotOptimize(st.st_size);
    }
    benchmark::DoNotOptimize(buf[0]);
  }

 private:
  static constexpr size_t kMaxRead = 8192;
  struct File {
    int fd;
    size_t read_size;
  };
  std::vector<File> files_;
  std::vector<int> dir_fds_;
};

template <typename Detector>
std::unique_ptr<Detector> Make() {
  absl::StatusOr<std::unique_ptr<Detector>> d = Detector::Create(
      typename std::remove_reference<decltype((*d)->options())>::type());
  return d.ok() ? *std::move(d) : nullptr;
}

template <typename Detector>
void BM_Sample(benchmark::State& state) {
  std::unique_ptr<Detector> d = Make<Detector>();
  if (d == nullptr) {
    state.SkipWithError("detector unavailable on this machine");
    return;
  }
  d->Sample();
  for (auto _ : state) benchmark::DoNotOptimize(&d->Sample());
  state.SetLabel(absl::StrCat(d->Files().size(), " files"));
}

template <typename Detector>
void BM_SampleAndResult(benchmark::State& state) {
  std::unique_ptr<Detector> d = Make<Detector>();
  if (d == nullptr) {
    state.SkipWithError("detector unavailable on this machine");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(d->Run());
}

template <typename Detector>
void BM_RawOpenReadClose(benchmark::State& state) {
  std::unique_ptr<Detector> d = Make<Detector>();
  if (d == nullptr) {
    state.SkipWithError("detector unavailable on this machine");
    return;
  }
  d->Sample();
  const std::vector<std::string> files = d->Files();
  for (auto _ : state) {
    for (const std::string& f : files) RawRead(f);
  }
  state.SetLabel(absl::StrCat(files.size(), " files"));
}

template <typename Detector>
void BM_RawKeptOpenPread(benchmark::State& state) {
  std::unique_ptr<Detector> d = Make<Detector>();
  if (d == nullptr) {
    state.SkipWithError("detector unavailable on this machine");
    return;
  }
  d->Sample();
  KeptOpen kept(d->Files());
  for (auto _ : state) kept.ReadAll();
}

BENCHMARK_TEMPLATE(BM_Sample, MemoryDetector);
BENCHMARK_TEMPLATE(BM_SampleAndResult, MemoryDetector);
BENCHMARK_TEMPLATE(BM_RawOpenReadClose, MemoryDetector);
BENCHMARK_TEMPLATE(BM_RawKeptOpenPread, MemoryDetector);
BENCHMARK_TEMPLATE(BM_Sample, CpuDetector);
BENCHMARK_TEMPLATE(BM_SampleAndResult, CpuDetector);
BENCHMARK_TEMPLATE(BM_RawOpenReadClose, CpuDetector);
BENCHMARK_TEMPLATE(BM_RawKeptOpenPread, CpuDetector);
BENCHMARK_TEMPLATE(BM_Sample, IoDetector);
BENCHMARK_TEMPLATE(BM_SampleAndResult, IoDetector);
BENCHMARK_TEMPLATE(BM_RawOpenReadClose, IoDetector);
BENCHMARK_TEMPLATE(BM_RawKeptOpenPread, IoDetector);
BENCHMARK_TEMPLATE(BM_Sample, FdDetector);
BENCHMARK_TEMPLATE(BM_SampleAndResult, FdDetector);
BENCHMARK_TEMPLATE(BM_RawOpenReadClose, FdDetector);
BENCHMARK_TEMPLATE(BM_RawKeptOpenPread, FdDetector);
BENCHMARK_TEMPLATE(BM_Sample, TasksDetector);
BENCHMARK_TEMPLATE(BM_SampleAndResult, TasksDetector);
BENCHMARK_TEMPLATE(BM_RawOpenReadClose, TasksDetector);
BENCHMARK_TEMPLATE(BM_RawKeptOpenPread, TasksDetector);

void BM_Disk_Sample(benchmark::State& state) {
  DiskOptions o;
  o.path = "/";
  std::unique_ptr<DiskDetector> d = *DiskDetector::Create(o);
  for (auto _ : state) benchmark::DoNotOptimize(&d->Sample());
}
BENCHMARK(BM_Disk_Sample);

void BM_Disk_SampleAndResult(benchmark::State& state) {
  DiskOptions o;
  o.path = "/";
  std::unique_ptr<DiskDetector> d = *DiskDetector::Create(o);
  for (auto _ : state) benchmark::DoNotOptimize(d->Run());
}
BENCHMARK(BM_Disk_SampleAndResult);

void BM_Disk_RawStatvfs(benchmark::State& state) {
  struct statvfs st;
  for (auto _ : state) benchmark::DoNotOptimize(statvfs("/", &st));
}
BENCHMARK(BM_Disk_RawStatvfs);

// The trend estimate alone (Theil–Sen over a full window of 32 samples).
void BM_TrendEstimate(benchmark::State& state) {
  TrendOptions o;
  o.capacity = static_cast<int>(state.range(0));
  o.min_samples = 2;
  o.min_span = absl::ZeroDuration();
  TrendEstimator t(o);
  const absl::Time t0 = absl::UnixEpoch();
  for (int i = 0; i < 1000; ++i) t.Add(t0 + absl::Seconds(i), i * 1.5 + i % 7);
  for (auto _ : state) benchmark::DoNotOptimize(t.Estimate(1500, 1e6));
}
BENCHMARK(BM_TrendEstimate)->Arg(8)->Arg(32)->Arg(64);

// ---------------------------------------------------------------------------
// The fast path (issue 20): a kernel memory notification re-runs the memory
// check (MemoryEvents -> HealthRegistry::RunNow), against polling alone.
// Both need root and the cgroup v1 memory hierarchy (this project's
// machines); elsewhere they report an error.

constexpr int64_t kCgroupLimit = 256 << 20;
constexpr size_t kStep = 2 << 20;

// A fresh v1 memory cgroup (256 MiB) holding one child process that maps
// and touches kStep more bytes on 'a', unmaps them on 'f', and answers each
// command with the CLOCK_MONOTONIC time (ns) at which it started touching.
class StepCgroup {
 public:
  bool Start(std::string* error) {
    dir_ = absl::StrCat("/sys/fs/cgroup/memory/vigil-bench-", getpid());
    if (mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = absl::StrCat(dir_, ": ", std::strerror(errno),
                            " (needs root and cgroup v1 memory)");
      dir_.clear();
      return false;
    }
    Write("memory.limit_in_bytes", absl::StrCat(kCgroupLimit));
    Write("memory.swappiness", "0");
    int to[2], from[2];
    if (pipe(to) != 0 || pipe(from) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      Write("cgroup.procs", absl::StrCat(getpid()));
      close(to[1]);
      close(from[0]);
      Child(to[0], from[1]);
      _exit(0);
    }
    close(to[0]);
    close(from[1]);
    to_ = to[1];
    from_ = from[0];
    return Command('0') > 0;  // Joined and ready.
  }
  ~StepCgroup() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    for (int i = 0; i < 100 && !dir_.empty() && rmdir(dir_.c_str()) != 0; ++i) {
      usleep(10000);  // EBUSY until the killed child is gone.
    }
  }
  // Sends a command; returns the child's start time (ns) or -1.
  int64_t Command(char c) {
    int64_t t = -1;
    if (write(to_, &c, 1) != 1 || read(from_, &t, sizeof(t)) != sizeof(t)) {
      return -1;
    }
    return t;
  }
  const std::string& dir() const { return dir_; }
  uint64_t Usage() const {
    std::string s;
    int fd = open((dir_ + "/memory.usage_in_bytes").c_str(), O_RDONLY);
    char buf[64] = {};
    if (fd >= 0) {
      benchmark::DoNotOptimize(read(fd, buf, sizeof(buf) - 1));
      close(fd);
    }
    return std::strtoull(buf, nullptr, 10);
  }

 private:
  void Write(const char* file, const std::string& value) {
    int fd = open((dir_ + "/" + file).c_str(), O_WRONLY);
    if (fd < 0) return;
    benchmark::DoNotOptimize(write(fd, value.data(), value.size()));
    close(fd);
  }
  static int64_t MonotonicNs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
  }
  static void Child(int in, int out) {
    std::vector<char*> maps;
    char c;
    while (read(in, &c, 1) == 1) {
      int64_t t = MonotonicNs();
      if (c == 'a') {
        char* p =
            static_cast<char*>(mmap(nullptr, kStep, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        for (size_t i = 0; i < kStep; i += 4096) p[i] = 1;
        maps.push_back(p);
      } else if (c == 'f' && !maps.empty()) {
        munmap(maps.back(), kStep);
        maps.pop_back();
      }
      if (write(out, &t, sizeof(t)) != sizeof(t)) return;
    }
  }

  std::string dir_;
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
};

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// A registry running the memory check on `dir`, with MemoryEvents (armed
// with one v1 threshold `threshold_bytes` above the current usage) or
// without (polling every `interval`). The check's warn ratio sits at the
// same place, so each crossing is a status transition.
struct FastPath {
  HealthRegistry registry;
  std::unique_ptr<MemoryEvents> events;
  Mutex mu;
  std::vector<int64_t> transitions ABSL_GUARDED_BY(mu);

  bool Start(const StepCgroup& cg, bool with_events, absl::Duration interval,
             std::string* error) {
    const double usage = static_cast<double>(cg.Usage());
    const double ratio = (usage + kStep / 2) / kCgroupLimit;
    MemoryOptions m;
    m.source.cgroup_dir = cg.dir();
    m.usage = {ratio, 0.99, 0.0001};
    m.trend.enabled = false;
    m.spike.enabled = false;
    m.check.interval = interval;
    registry.AddListener([this](const Transition& t) {
      if (t.subject != Transition::Subject::kCheck) return;
      MutexLock lock(&mu);
      transitions.push_back(MonotonicNowNs());
    });
    if (with_events) {
      MemoryEventsOptions e;
      e.v1_threshold_ratios = {ratio};
      e.follow_up_for = absl::ZeroDuration();  // The first run is measured.
      absl::StatusOr<std::unique_ptr<MemoryEvents>> r =
          RegisterMemoryCheck(&registry, m, e);
      if (!r.ok()) {
        *error = r.status().ToString();
        return false;
      }
      events = *std::move(r);
      if (events->v1_thresholds_bytes().empty()) {
        *error = "v1 thresholds not armed";
        return false;
      }
    } else {
      absl::StatusOr<Check> c = MemoryCheck(m);
      if (!c.ok() || !registry.Register(*std::move(c)).ok()) {
        *error = "memory check";
        return false;
      }
    }
    registry.Start();
    return true;
  }
  size_t Count() {
    MutexLock lock(&mu);
    return transitions.size();
  }
  // Waits (bounded) for transition number `n` (1-based); its time or -1.
  int64_t WaitFor(size_t n, absl::Duration timeout) {
    MutexLock lock(&mu);
    auto ready = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return transitions.size() >= n;
    };
    if (!mu.AwaitWithTimeout(ready, timeout)) return -1;
    return transitions[n - 1];
  }
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  return v[i];
}

// Kernel event (the child starts touching the 2 MiB that cross the
// threshold) -> the check's transition published, per iteration (manual
// time). events:1 wakes on the v1 threshold; events:0 polls every 1 s (the
// default interval is 5 s: five times slower still).
void BM_MemoryEventToSnapshot(benchmark::State& state) {
  const bool with_events = state.range(0) == 1;
  StepCgroup cg;
  std::string error;
  if (!cg.Start(&error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  FastPath fp;
  if (!fp.Start(cg, with_events, absl::Seconds(1), &error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  // First run: HEALTHY (a transition from UNKNOWN).
  if (fp.WaitFor(1, absl::Seconds(10)) < 0) {
    state.SkipWithError("memory check never ran");
    return;
  }
  std::vector<double> ms;
  for (auto _ : state) {
    const size_t before = fp.Count();
    const int64_t t0 = cg.Command('a');  // Up: HEALTHY -> DEGRADED.
    const int64_t t1 = fp.WaitFor(before + 1, absl::Seconds(10));
    if (t0 < 0 || t1 < 0) {
      state.SkipWithError("no transition within 10 s");
      break;
    }
    state.SetIterationTime(static_cast<double>(t1 - t0) / 1e9);
    ms.push_back(static_cast<double>(t1 - t0) / 1e6);
    cg.Command('f');  // Down, and wait for the recovery, untimed.
    if (fp.WaitFor(before + 2, absl::Seconds(10)) < 0) {
      state.SkipWithError("no recovery within 10 s");
      break;
    }
    // Isolated events: past MemoryEvents' 50 ms min_spacing, which folds an
    // event following a call closer than that into a call 50 ms after it.
    absl::SleepFor(absl::Milliseconds(100));
  }
  state.counters["median_ms"] = Percentile(ms, 0.5);
  state.counters["p99_ms"] = Percentile(ms, 0.99);
  state.counters["max_ms"] = Percentile(ms, 1.0);
  state.SetLabel(with_events ? "v1 threshold event" : "polling every 1s");
}
BENCHMARK(BM_MemoryEventToSnapshot)
    ->ArgName("events")
    ->Arg(1)
    ->Iterations(100)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemoryEventToSnapshot)
    ->ArgName("events")
    ->Arg(0)
    ->Iterations(10)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Idle cost: the whole process's CPU time over 5 s of quiet, with the
// default memory check (every 5 s) and its events armed (v1 thresholds,
// vmpressure, OOM, PSI trigger) or polling only. Counters: wake-ups of the
// events thread and runs of the check per iteration.
void BM_MemoryIdleCost(benchmark::State& state) {
  const bool with_events = state.range(0) == 1;
  StepCgroup cg;
  std::string error;
  if (!cg.Start(&error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  HealthRegistry registry;
  MemoryOptions m;
  m.source.cgroup_dir = cg.dir();
  std::unique_ptr<MemoryEvents> events;
  if (with_events) {
    absl::StatusOr<std::unique_ptr<MemoryEvents>> r =
        RegisterMemoryCheck(&registry, m);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    events = *std::move(r);
    state.SetLabel(
        absl::StrCat("armed: ", absl::StrJoin(events->armed(), ",")));
  } else {
    absl::StatusOr<Check> c = MemoryCheck(m);
    if (!c.ok() || !registry.Register(*std::move(c)).ok()) {
      state.SkipWithError("memory check");
      return;
    }
    state.SetLabel("polling only");
  }
  registry.Start();
  const int64_t calls_before = events ? events->call_count() : 0;
  for (auto _ : state) absl::SleepFor(absl::Seconds(5));
  const CheckSnapshot* c = registry.snapshot()->FindCheck("memory");
  state.counters["check_runs"] =
      benchmark::Counter(c ? static_cast<double>(c->run_count) : 0,
                         benchmark::Counter::kAvgIterations);
  state.counters["event_calls"] = benchmark::Counter(
      static_cast<double>(events ? events->call_count() - calls_before : 0),
      benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_MemoryIdleCost)
    ->ArgName("events")
    ->Arg(1)
    ->Arg(0)
    ->Iterations(2)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Idle cost of every default detector (RegisterDefaultDetectors on this
// process), with every event source the machine offers armed (memory
// notifications, PSI triggers for memory, CPU and IO) or polling only.
// Note: a system-wide CPU or IO PSI trigger fires under the machine's own
// load; event_calls counts those wake-ups (zero on a quiet machine).
void BM_DefaultDetectorsIdleCost(benchmark::State& state) {
  const bool with_events = state.range(0) == 1;
  HealthRegistry registry;
  DefaultDetectorOptions o;
  o.enable_memory_events = with_events;
  o.enable_psi_events = with_events;
  DefaultDetectors d;
  if (absl::Status s = RegisterDefaultDetectors(registry, o, &d); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  std::vector<std::string> armed;
  for (MemoryEvents* e :
       {d.memory_events.get(), d.cpu_events.get(), d.io_events.get()}) {
    if (e != nullptr)
      armed.insert(armed.end(), e->armed().begin(), e->armed().end());
  }
  state.SetLabel(with_events
                     ? absl::StrCat("armed: ", absl::StrJoin(armed, ","))
                     : "polling only");
  registry.Start();
  auto calls = [&] {
    int64_t n = 0;
    for (MemoryEvents* e :
         {d.memory_events.get(), d.cpu_events.get(), d.io_events.get()}) {
      if (e != nullptr) n += e->call_count();
    }
    return n;
  };
  const int64_t calls_before = calls();
  for (auto _ : state) absl::SleepFor(absl::Seconds(5));
  state.counters["event_calls"] =
      benchmark::Counter(static_cast<double>(calls() - calls_before),
                         benchmark::Counter::kAvgIterations);
  registry.Stop();
  d.memory_events.reset();
  d.cpu_events.reset();
  d.io_events.reset();
}
BENCHMARK(BM_DefaultDetectorsIdleCost)
    ->ArgName("events")
    ->Arg(1)
    ->Arg(0)
    ->Iterations(2)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pressure
}  // namespace vigil

BENCHMARK_MAIN();
