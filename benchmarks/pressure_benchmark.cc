// Cost of one sample of each pressure detector, next to the raw cost of
// opening, reading and closing the same files (what a naive implementation
// pays every time), and of pread on descriptors kept open (the floor).
//
//   bazel run --config=opt //benchmarks:pressure_benchmark
//
// Everything reads the real /proc and /sys of this machine, for this
// process.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "health/pressure/cpu.h"
#include "health/pressure/disk.h"
#include "health/pressure/fds.h"
#include "health/pressure/io.h"
#include "health/pressure/memory.h"
#include "health/pressure/tasks.h"
#include "health/pressure/trend.h"

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

}  // namespace
}  // namespace pressure
}  // namespace vigil

BENCHMARK_MAIN();
