#include "health/pressure/io.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "health/pressure/internal/cgroup.h"
#include "health/pressure/internal/psi.h"
#include "health/pressure/internal/report.h"

namespace vigil {
namespace pressure {

CheckOptions IoOptions::DefaultCheckOptions() {
  return internal::PressureCheckOptions(absl::Seconds(5), /*critical=*/false);
}

absl::Status IoOptions::Validate() const {
  return internal::FirstError({source.Validate("io.source"),
                               psi_some.Validate("io.psi_some"),
                               psi_full.Validate("io.psi_full")});
}

struct IoDetector::Impl {
  explicit Impl(const IoOptions& o) : some(o.psi_some), full(o.psi_full) {}
  internal::PsiSource psi;
  internal::SignalSet signals;
  int sig_psi = 0;
  Hysteresis some;
  Hysteresis full;
};

IoDetector::IoDetector(IoOptions options)
    : DetectorCore(std::move(options)),
      impl_(std::make_unique<Impl>(this->options())) {}

IoDetector::~IoDetector() = default;

absl::Status IoDetector::Open() {
  Impl& io = *impl_;
  const Source& src = options().source;
  internal::CgroupLayout layout =
      src.cgroup_dir.empty()
          ? internal::ResolveCgroups(src.root, src.pid)
          : internal::CgroupLayoutForDir(src.root, src.cgroup_dir);
  io.sig_psi = io.signals.Add("psi");
  io.psi.Open(src.root, layout.unified.PsiDir(), "io");
  if (!io.psi.opened()) {
    return absl::FailedPreconditionError(
        absl::StrCat("io: no IO pressure signal: ", io.psi.path(), ": ",
                     internal::ErrorText(io.psi.error())));
  }
  return absl::OkStatus();
}

void IoDetector::Read(absl::Time now, IoReading& r) {
  Impl& io = *impl_;
  if (io.psi.Read()) {
    io.signals.Ok(io.sig_psi);
    const internal::PsiContent& c = io.psi.content();
    r.psi_cgroup_local = io.psi.cgroup_local();
    r.psi_some_avg10 = c.some->avg10;
    r.psi_some_avg60 = c.some->avg60;
    io.some.Update(c.some->avg10, now);
    if (c.full) {
      r.psi_full_avg10 = c.full->avg10;
      r.psi_full_avg60 = c.full->avg60;
      io.full.Update(c.full->avg10, now);
    }
  } else {
    io.signals.Failed(io.sig_psi, &io.psi.path(), io.psi.error());
    io.some.Reset();
    io.full.Reset();
  }
  r.level = MaxLevel(io.some.level(), io.full.level());
}

CheckResult IoDetector::Result() const {
  const Impl& io = *impl_;
  const IoReading& r = reading();
  CheckResult result;
  result.status = LevelToStatus(r.level);
  auto& d = result.details;
  io.signals.AddDetails(&d);
  d["level"] = std::string(LevelName(r.level));
  if (!r.psi_some_avg10) {
    result.status = Status::kDegraded;
    result.message =
        absl::StrCat("no IO signal readable: ", io.signals.UnavailableText());
    return result;
  }
  d["psi_scope"] = r.psi_cgroup_local ? "cgroup" : "system";
  d["psi_some_avg10"] = internal::FormatNumber(*r.psi_some_avg10);
  d["psi_some_avg60"] = internal::FormatNumber(*r.psi_some_avg60);
  if (r.psi_full_avg10) {
    d["psi_full_avg10"] = internal::FormatNumber(*r.psi_full_avg10);
    d["psi_full_avg60"] = internal::FormatNumber(*r.psi_full_avg60);
    result.observed_value = *r.psi_full_avg10;
    result.warn_threshold = options().psi_full.warn;
    result.critical_threshold = options().psi_full.critical;
  } else {
    result.observed_value = *r.psi_some_avg10;
    result.warn_threshold = options().psi_some.warn;
    result.critical_threshold = options().psi_some.critical;
  }
  result.observed_unit = "percent";
  result.message = absl::StrCat(
      "IO stall (PSI ", d["psi_scope"], "): some ",
      internal::FormatNumber(*r.psi_some_avg10), "%, full ",
      r.psi_full_avg10 ? internal::FormatNumber(*r.psi_full_avg10) : "n/a",
      r.psi_full_avg10 ? "%" : "");
  return result;
}

std::string IoDetector::PsiPath() const {
  return impl_->psi.opened() ? impl_->psi.path() : std::string();
}

std::vector<std::string> IoDetector::Files() const {
  std::vector<std::string> files;
  if (impl_->psi.opened()) files.push_back(impl_->psi.path());
  return files;
}

absl::StatusOr<Check> IoCheck(IoOptions options,
                              std::shared_ptr<IoDetector>* detector) {
  return internal::MakeDetectorCheck(std::move(options), detector);
}

}  // namespace pressure
}  // namespace vigil
