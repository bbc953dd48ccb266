#include "health/pressure/fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "health/pressure/internal/cgroup.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/gauge.h"
#include "health/pressure/internal/parse.h"
#include "health/pressure/internal/report.h"

namespace vigil {
namespace pressure {
namespace {

constexpr long kProcSuperMagic = 0x9fa0;

// The layout getdents64 fills in.
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

}  // namespace

// TrendOptions' own defaults: a 10 min window, speaking after 1 min and 6
// samples, DEGRADED when full within 30 min.
TrendOptions FdOptions::DefaultTrend() { return TrendOptions(); }

CheckOptions FdOptions::DefaultCheckOptions() {
  return internal::PressureCheckOptions(absl::Seconds(10), /*critical=*/true);
}

absl::Status FdOptions::Validate() const {
  return internal::FirstError({source.Validate("fds.source"),
                               usage.Validate("fds.usage"),
                               trend.Validate("fds.trend")});
}

struct FdDetector::Impl {
  explicit Impl(const FdOptions& o) : gauge(o.usage, o.trend) {}
  ~Impl() {
    if (dir_fd >= 0) close(dir_fd);
  }

  std::string dir_path;
  int dir_fd = -1;
  int dir_error = 0;
  bool on_procfs = false;
  std::vector<char> dirents;  // getdents64 buffer.
  internal::KeptOpenFile limits_file;
  internal::SignalSet signals;
  int sig_count = 0, sig_limit = 0;
  internal::Gauge gauge;

  // The number of open descriptors, or -1 (dir_error set).
  int64_t Count(bool* by_fstat) {
    *by_fstat = false;
    if (dir_fd < 0) return -1;
    if (on_procfs) {
      struct stat st;
      if (fstat(dir_fd, &st) != 0) {
        dir_error = errno;
        return -1;
      }
      if (st.st_size > 0) {
        *by_fstat = true;
        return st.st_size;
      }
    }
    if (lseek(dir_fd, 0, SEEK_SET) != 0) {
      dir_error = errno;
      return -1;
    }
    int64_t count = 0;
    while (true) {
      long n = syscall(SYS_getdents64, dir_fd, dirents.data(), dirents.size());
      if (n < 0) {
        dir_error = errno;
        return -1;
      }
      if (n == 0) break;
      for (long off = 0; off < n;) {
        const auto* e =
            reinterpret_cast<const LinuxDirent64*>(dirents.data() + off);
        const char* name =
            dirents.data() + off + offsetof(LinuxDirent64, d_name);
        if (!(name[0] == '.' &&
              (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))) {
          ++count;
        }
        off += e->d_reclen;
      }
    }
    return count;
  }
};

FdDetector::FdDetector(FdOptions options)
    : DetectorCore(std::move(options)),
      impl_(std::make_unique<Impl>(this->options())) {}

FdDetector::~FdDetector() = default;

absl::Status FdDetector::Open() {
  Impl& f = *impl_;
  const Source& src = options().source;
  const std::string proc = internal::ProcDir(src.pid);
  f.sig_count = f.signals.Add("open_fds");
  f.sig_limit = f.signals.Add("rlimit_nofile");
  f.dir_path = internal::JoinRoot(src.root, proc + "/fd");
  f.dir_fd = open(f.dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (f.dir_fd < 0) {
    f.dir_error = errno;
  } else {
    struct statfs sfs;
    f.on_procfs = fstatfs(f.dir_fd, &sfs) == 0 && sfs.f_type == kProcSuperMagic;
  }
  f.dirents.assign(32768, '\0');
  f.limits_file.Open(internal::JoinRoot(src.root, proc + "/limits"), 2048);
  return absl::OkStatus();
}

void FdDetector::Read(absl::Time now, FdReading& r) {
  Impl& f = *impl_;
  bool by_fstat = false;
  const int64_t count = f.Count(&by_fstat);
  if (count >= 0) {
    f.signals.Ok(f.sig_count);
    r.open_fds = static_cast<double>(count);
    r.counted_by_fstat = by_fstat;
  } else {
    f.signals.Failed(f.sig_count, &f.dir_path, f.dir_error);
  }
  internal::ProcLimits limits;
  if (f.limits_file.Read() &&
      internal::ParseLimits(f.limits_file.content(), &limits) &&
      limits.open_files) {
    if (*limits.open_files == internal::kUnlimited) {
      f.signals.NotApplicable(f.sig_limit, "unlimited");
    } else {
      f.signals.Ok(f.sig_limit);
      r.limit = static_cast<double>(*limits.open_files);
    }
  } else {
    if (f.limits_file.error() == 0) f.limits_file.set_parse_error();
    f.signals.Failed(f.sig_limit, f.limits_file);
  }
  if (r.open_fds && r.limit && *r.limit > 0) {
    const internal::GaugeState& g = f.gauge.Update(now, *r.open_fds, *r.limit);
    r.usage_ratio = g.ratio;
    if (g.trend.ready) {
      r.fill_rate_per_second = g.trend.rate_per_second;
      r.time_to_exhaustion = g.trend.time_to_exhaustion;
    }
  } else {
    f.gauge.MarkUnavailable();
  }
  r.level = f.gauge.state().level();
}

CheckResult FdDetector::Result() const {
  const Impl& f = *impl_;
  const FdReading& r = reading();
  const internal::GaugeState& g = f.gauge.state();
  CheckResult result;
  result.status = LevelToStatus(r.level);
  auto& d = result.details;
  f.signals.AddDetails(&d);
  d["level"] = std::string(LevelName(r.level));
  if (r.open_fds) {
    d["open_fds"] = internal::FormatNumber(*r.open_fds, 0);
    d["count_method"] = r.counted_by_fstat ? "fstat" : "readdir";
  }
  if (r.limit) d["limit"] = internal::FormatNumber(*r.limit, 0);
  if (!r.open_fds) {
    result.status = Status::kDegraded;
    result.message = absl::StrCat("cannot count file descriptors: ",
                                  f.signals.UnavailableText());
    return result;
  }
  if (!r.usage_ratio) {
    result.observed_value = *r.open_fds;
    result.observed_unit = "count";
    result.message = absl::StrCat(
        internal::FormatNumber(*r.open_fds, 0), " open file descriptors (",
        r.limit ? "" : "no limit: ", f.signals.UnavailableText(), ")");
    return result;
  }
  result.observed_value = *r.usage_ratio;
  result.observed_unit = "ratio";
  result.warn_threshold = options().usage.warn;
  result.critical_threshold = options().usage.critical;
  std::vector<std::string> reasons;
  std::string summary = absl::StrCat(
      internal::FormatNumber(*r.open_fds, 0), " of ",
      internal::FormatNumber(*r.limit, 0), " file descriptors open (",
      internal::FormatRatio(*r.usage_ratio), ")");
  if (g.ratio_level > Level::kOk) reasons.push_back(summary);
  if (r.fill_rate_per_second) {
    d["fill_rate_per_second"] =
        internal::FormatNumber(*r.fill_rate_per_second, 3);
  }
  if (r.time_to_exhaustion) {
    result.time_to_exhaustion = r.time_to_exhaustion;
    d["time_to_exhaustion_seconds"] =
        internal::FormatNumber(absl::ToDoubleSeconds(*r.time_to_exhaustion), 1);
    std::string when = absl::StrCat(
        "limit reached in ", internal::FormatDuration(*r.time_to_exhaustion),
        " at ", internal::FormatNumber(*r.fill_rate_per_second, 2), "/s");
    if (g.trend_level > Level::kOk) {
      reasons.push_back(absl::StrCat(
          when, " (within the ",
          internal::FormatDuration(g.trend_level == Level::kCritical
                                       ? options().trend.critical_horizon
                                       : options().trend.horizon),
          " horizon)"));
    } else {
      summary = absl::StrCat(summary, "; ", when);
      if (g.ratio_level > Level::kOk) reasons.push_back(when);
    }
  }
  result.message = reasons.empty() ? summary : absl::StrJoin(reasons, "; ");
  return result;
}

std::vector<std::string> FdDetector::Files() const {
  std::vector<std::string> files;
  if (impl_->dir_fd >= 0) files.push_back(impl_->dir_path);
  if (impl_->limits_file.is_open()) files.push_back(impl_->limits_file.path());
  return files;
}

absl::StatusOr<Check> FdCheck(FdOptions options,
                              std::shared_ptr<FdDetector>* detector) {
  return internal::MakeDetectorCheck(std::move(options), detector);
}

}  // namespace pressure
}  // namespace vigil
