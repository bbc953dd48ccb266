#include "health/pressure/cpu.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "health/pressure/internal/cgroup.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/parse.h"
#include "health/pressure/internal/psi.h"
#include "health/pressure/internal/report.h"

namespace vigil {
namespace pressure {

using internal::KeptOpenFile;

CheckOptions CpuOptions::DefaultCheckOptions() {
  return internal::PressureCheckOptions(absl::Seconds(5), /*critical=*/false);
}

absl::Status CpuOptions::Validate() const {
  return internal::FirstError({source.Validate("cpu.source"),
                               psi_some.Validate("cpu.psi_some"),
                               throttled.Validate("cpu.throttled")});
}

struct CpuDetector::Impl {
  explicit Impl(const CpuOptions& o)
      : psi_some(o.psi_some), throttled(o.throttled) {}

  internal::CgroupLayout layout;
  bool v2 = false;
  internal::PsiSource psi;
  KeptOpenFile stat_file;
  KeptOpenFile quota_file;   // cpu.max or cpu.cfs_quota_us
  KeptOpenFile period_file;  // v1 cpu.cfs_period_us

  internal::SignalSet signals;
  int sig_psi = 0, sig_throttle = 0;

  Hysteresis psi_some;
  Hysteresis throttled;
  std::optional<uint64_t> prev_periods;
  std::optional<uint64_t> prev_throttled;
  std::optional<double> prev_throttled_seconds;
  absl::Time prev_time = absl::InfinitePast();

  // The steps of Read(), one per signal.
  // PSI "some" into r and its hysteresis.
  void ReadPsi(absl::Time now, CpuReading& r);
  // Quota and cpu.stat throttling counters against the previous sample;
  // whether a CPU quota applies.
  bool ReadThrottling(absl::Time now, CpuReading& r);
};

CpuDetector::CpuDetector(CpuOptions options)
    : DetectorCore(std::move(options)),
      impl_(std::make_unique<Impl>(this->options())) {}

CpuDetector::~CpuDetector() = default;

absl::Status CpuDetector::Open() {
  Impl& c = *impl_;
  const Source& src = options().source;
  if (!src.cgroup_dir.empty()) {
    c.layout = internal::CgroupLayoutForDir(src.root, src.cgroup_dir);
    if (!c.layout.cpu.ok() && !c.layout.unified.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cpu.source.cgroup_dir: not a cpu cgroup: ", src.cgroup_dir));
    }
  } else {
    c.layout = internal::ResolveCgroups(src.root, src.pid);
  }
  c.sig_psi = c.signals.Add("psi");
  c.sig_throttle = c.signals.Add("throttling");
  c.psi.Open(src.root, c.layout.unified.PsiDir(), "cpu");
  if (c.layout.cpu.ok()) {
    const std::string& dir = c.layout.cpu.full_path;
    c.v2 = c.layout.cpu.version == internal::CgroupVersion::kV2;
    c.stat_file.Open(dir + "/cpu.stat", 512);
    if (c.v2) {
      c.quota_file.Open(dir + "/cpu.max", 64);
    } else {
      c.quota_file.Open(dir + "/cpu.cfs_quota_us", 64);
      c.period_file.Open(dir + "/cpu.cfs_period_us", 64);
    }
  }
  if (!c.psi.opened() && !c.stat_file.is_open()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cpu: no CPU pressure signal: ", c.psi.path(), ": ",
        internal::ErrorText(c.psi.error()), "; no CPU cgroup (",
        c.layout.problems.empty() ? c.layout.mode : c.layout.problems, ")"));
  }
  return absl::OkStatus();
}

void CpuDetector::Impl::ReadPsi(absl::Time now, CpuReading& r) {
  Impl& c = *this;
  if (c.psi.opened() && c.psi.Read()) {
    c.signals.Ok(c.sig_psi);
    r.psi_cgroup_local = c.psi.cgroup_local();
    r.psi_some_avg10 = c.psi.content().some->avg10;
    r.psi_some_avg60 = c.psi.content().some->avg60;
    if (c.psi.cgroup_local() && c.psi.content().full) {
      r.psi_full_avg10 = c.psi.content().full->avg10;
    }
    c.psi_some.Update(*r.psi_some_avg10, now);
  } else {
    c.signals.Failed(c.sig_psi, &c.psi.path(), c.psi.error());
    c.psi_some.Reset();
  }
}

bool CpuDetector::Impl::ReadThrottling(absl::Time now, CpuReading& r) {
  Impl& c = *this;
  bool have_quota = false;
  if (!c.layout.cpu.ok()) {
    c.signals.Unavailable(c.sig_throttle, "no CPU cgroup");
  } else {
    std::optional<uint64_t> quota, period;
    if (c.quota_file.Read()) {
      quota = internal::ParseLimit(c.quota_file.content());
      if (c.v2) {
        // "max 100000" or "50000 100000".
        absl::string_view text = c.quota_file.content();
        size_t space = text.find(' ');
        if (space != absl::string_view::npos) {
          period = internal::ParseUint(text.substr(space + 1));
        }
      } else if (c.period_file.Read()) {
        period = internal::ParseUint(c.period_file.content());
      }
    }
    if (quota && *quota != internal::kUnlimited && period && *period > 0) {
      have_quota = true;
      r.quota_cpus = static_cast<double>(*quota) / static_cast<double>(*period);
    }
    internal::CpuStat stat;
    if (c.stat_file.Read())
      internal::ParseCpuStat(c.stat_file.content(), &stat);
    const std::optional<uint64_t>& periods = stat.nr_periods;
    const std::optional<uint64_t>& throttled = stat.nr_throttled;
    if (!c.stat_file.is_open() || c.stat_file.error() != 0) {
      c.signals.Failed(c.sig_throttle, c.stat_file);
    } else if (!quota) {
      c.signals.Failed(c.sig_throttle, c.quota_file);
    } else if (!have_quota) {
      c.signals.NotApplicable(c.sig_throttle, "no CPU quota");
    } else if (!periods || !throttled) {
      c.signals.Unavailable(c.sig_throttle,
                            "cpu.stat has no nr_periods/nr_throttled");
    } else {
      c.signals.Ok(c.sig_throttle);
      r.nr_periods = periods;
      r.nr_throttled = throttled;
      if (stat.throttled) {
        r.throttled_seconds_total = absl::ToDoubleSeconds(*stat.throttled);
      }
      if (c.prev_periods && *periods >= *c.prev_periods &&
          *throttled >= *c.prev_throttled) {
        const uint64_t dp = *periods - *c.prev_periods;
        const uint64_t dt = *throttled - *c.prev_throttled;
        r.throttled_ratio =
            dp == 0 ? 0.0 : static_cast<double>(dt) / static_cast<double>(dp);
        const double wall = absl::ToDoubleSeconds(now - c.prev_time);
        if (wall > 0 && r.throttled_seconds_total && c.prev_throttled_seconds) {
          r.throttled_seconds_per_second =
              (*r.throttled_seconds_total - *c.prev_throttled_seconds) / wall;
        }
      }
      c.prev_periods = periods;
      c.prev_throttled = throttled;
      c.prev_throttled_seconds = r.throttled_seconds_total;
      c.prev_time = now;
    }
  }
  return have_quota;
}

void CpuDetector::Read(absl::Time now, CpuReading& r) {
  Impl& c = *impl_;
  c.ReadPsi(now, r);
  const bool have_quota = c.ReadThrottling(now, r);
  if (!have_quota || !r.nr_periods) {
    c.prev_periods.reset();
    c.prev_throttled.reset();
    c.throttled.Reset();
  } else if (r.throttled_ratio) {
    c.throttled.Update(*r.throttled_ratio, now);
  }
  r.level = MaxLevel(c.psi_some.level(), c.throttled.level());
}

CheckResult CpuDetector::Result() const {
  const Impl& c = *impl_;
  const CpuReading& r = reading();
  CheckResult result;
  result.status = LevelToStatus(r.level);
  auto& d = result.details;
  c.signals.AddDetails(&d);
  d["cgroup"] = c.layout.cpu.Describe();
  d["level"] = std::string(LevelName(r.level));
  std::vector<std::string> parts;
  std::vector<std::string> reasons;
  if (r.psi_some_avg10) {
    result.observed_value = *r.psi_some_avg10;
    result.observed_unit = "percent";
    result.warn_threshold = options().psi_some.warn;
    result.critical_threshold = options().psi_some.critical;
    d["psi_scope"] = r.psi_cgroup_local ? "cgroup" : "system";
    d["psi_some_avg10"] = internal::FormatNumber(*r.psi_some_avg10);
    d["psi_some_avg60"] = internal::FormatNumber(*r.psi_some_avg60);
    if (r.psi_full_avg10) {
      d["psi_full_avg10"] = internal::FormatNumber(*r.psi_full_avg10);
    }
    std::string p =
        absl::StrCat("CPU stall (PSI ", d["psi_scope"], " some) ",
                     internal::FormatNumber(*r.psi_some_avg10), "%");
    if (c.psi_some.level() > Level::kOk) reasons.push_back(p);
    parts.push_back(std::move(p));
  }
  if (r.quota_cpus) d["quota_cpus"] = internal::FormatNumber(*r.quota_cpus);
  if (r.nr_periods) d["nr_periods"] = absl::StrCat(*r.nr_periods);
  if (r.nr_throttled) d["nr_throttled"] = absl::StrCat(*r.nr_throttled);
  if (r.throttled_ratio) {
    d["throttled_ratio"] = internal::FormatNumber(*r.throttled_ratio, 3);
    if (r.throttled_seconds_per_second) {
      d["throttled_seconds_per_second"] =
          internal::FormatNumber(*r.throttled_seconds_per_second, 3);
    }
    if (!result.observed_value) {
      result.observed_value = *r.throttled_ratio;
      result.observed_unit = "ratio";
      result.warn_threshold = options().throttled.warn;
      result.critical_threshold = options().throttled.critical;
    }
    std::string t = absl::StrCat(
        "throttled in ", internal::FormatRatio(*r.throttled_ratio),
        " of periods (quota ", internal::FormatNumber(*r.quota_cpus), " CPUs)");
    if (c.throttled.level() > Level::kOk) reasons.push_back(t);
    parts.push_back(std::move(t));
  }
  if (!c.signals.any_ok()) {
    result.status = Status::kDegraded;
    result.message =
        absl::StrCat("no CPU signal readable: ", c.signals.UnavailableText());
    return result;
  }
  if (parts.empty()) parts.push_back("throttling: waiting for a second sample");
  result.message = absl::StrJoin(reasons.empty() ? parts : reasons, "; ");
  return result;
}

std::string CpuDetector::PsiPath() const {
  return impl_->psi.opened() ? impl_->psi.path() : std::string();
}

std::vector<std::string> CpuDetector::Files() const {
  std::vector<std::string> files;
  if (impl_->psi.opened()) files.push_back(impl_->psi.path());
  for (const KeptOpenFile* f :
       {&impl_->stat_file, &impl_->quota_file, &impl_->period_file}) {
    if (f->is_open()) files.push_back(f->path());
  }
  return files;
}

absl::StatusOr<Check> CpuCheck(CpuOptions options,
                               std::shared_ptr<CpuDetector>* detector) {
  return internal::MakeDetectorCheck(std::move(options), detector);
}

}  // namespace pressure
}  // namespace vigil
