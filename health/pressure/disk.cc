#include "health/pressure/disk.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/gauge.h"
#include "health/pressure/internal/report.h"

namespace vigil {
namespace pressure {

std::string DefaultDiskCheckName(absl::string_view path) {
  // Check names are [A-Za-z0-9_.:/@-]{1,128}.
  constexpr size_t kMax = 128;
  std::string name = absl::StrCat("disk:", path);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                    c == ':' || c == '/' || c == '@' || c == '-';
    if (!ok) c = '_';
  }
  if (name.size() > kMax) {
    // Keep the end of the path: it tells paths apart.
    name = absl::StrCat("disk:...", name.substr(name.size() - (kMax - 8)));
  }
  return name;
}

TrendOptions DiskOptions::DefaultTrend() {
  TrendOptions t;
  t.window = absl::Minutes(30);
  t.min_span = absl::Minutes(2);
  t.min_samples = 6;
  // Kept samples are thinned to window / (capacity - 1) apart: 96 slots put
  // them about 19 s apart, so the 10 s samples reach 6 within the 2-minute
  // span (with 32, 58 s apart, the trend stayed silent for 5 minutes).
  t.capacity = 96;
  t.horizon = absl::Hours(1);
  return t;
}

CheckOptions DiskOptions::DefaultCheckOptions() {
  return internal::PressureCheckOptions(absl::Seconds(10), /*critical=*/true);
}

absl::Status DiskOptions::Validate() const {
  if (path.empty()) return absl::InvalidArgumentError("disk.path: empty");
  return internal::FirstError({bytes.Validate("disk.bytes"),
                               inodes.Validate("disk.inodes"),
                               trend.Validate("disk.trend")});
}

struct DiskDetector::Impl {
  explicit Impl(const DiskOptions& o)
      : bytes(o.bytes, o.trend), inodes(o.inodes, o.trend) {}
  internal::Gauge bytes;
  internal::Gauge inodes;
};

DiskDetector::DiskDetector(DiskOptions options)
    : DetectorCore(std::move(options)),
      impl_(std::make_unique<Impl>(this->options())) {}

DiskDetector::~DiskDetector() = default;

absl::Status DiskDetector::Open() {
  DiskOptions& o = mutable_options();
  if (o.name.empty()) o.name = DefaultDiskCheckName(o.path);
  struct statvfs st;
  if (statvfs(o.path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "disk.path: statvfs(", o.path, "): ", internal::ErrorText(errno)));
  }
  return absl::OkStatus();
}

void DiskDetector::Read(absl::Time now, DiskReading& r) {
  Impl& k = *impl_;
  struct statvfs st;
  if (statvfs(options().path.c_str(), &st) != 0) {
    r.error = errno;
    k.bytes.MarkUnavailable();
    k.inodes.MarkUnavailable();
  } else {
    const double frsize = static_cast<double>(st.f_frsize);
    // Usable by an unprivileged writer: total minus the root reserve.
    const double reserved_blocks =
        st.f_bfree > st.f_bavail ? static_cast<double>(st.f_bfree - st.f_bavail)
                                 : 0.0;
    const double total_blocks =
        static_cast<double>(st.f_blocks) - reserved_blocks;
    if (total_blocks > 0) {
      r.bytes_total = total_blocks * frsize;
      r.bytes_available = static_cast<double>(st.f_bavail) * frsize;
      const internal::GaugeState& g = k.bytes.Update(
          now, *r.bytes_total - *r.bytes_available, *r.bytes_total);
      r.bytes_ratio = g.ratio;
      if (g.trend.ready) {
        r.bytes_fill_rate = g.trend.rate_per_second;
        r.bytes_time_to_full = g.trend.time_to_exhaustion;
      }
    } else {
      k.bytes.MarkUnavailable();
    }
    const double reserved_inodes =
        st.f_ffree > st.f_favail ? static_cast<double>(st.f_ffree - st.f_favail)
                                 : 0.0;
    const double total_inodes =
        static_cast<double>(st.f_files) - reserved_inodes;
    if (st.f_files > 0 && total_inodes > 0) {
      r.inodes_total = total_inodes;
      r.inodes_available = static_cast<double>(st.f_favail);
      const internal::GaugeState& g = k.inodes.Update(
          now, *r.inodes_total - *r.inodes_available, *r.inodes_total);
      r.inodes_ratio = g.ratio;
      if (g.trend.ready) {
        r.inodes_fill_rate = g.trend.rate_per_second;
        r.inodes_time_to_full = g.trend.time_to_exhaustion;
      }
    } else {
      k.inodes.MarkUnavailable();
    }
  }
  r.level = MaxLevel(k.bytes.state().level(), k.inodes.state().level());
}

CheckResult DiskDetector::Result() const {
  const Impl& k = *impl_;
  const DiskReading& r = reading();
  CheckResult result;
  result.status = LevelToStatus(r.level);
  auto& d = result.details;
  d["path"] = options().path;
  d["level"] = std::string(LevelName(r.level));
  if (r.error != 0) {
    result.status = Status::kDegraded;
    d["unavailable"] = absl::StrCat("statvfs: ", internal::ErrorText(r.error));
    result.message = absl::StrCat("statvfs(", options().path,
                                  "): ", internal::ErrorText(r.error));
    return result;
  }
  std::vector<absl::string_view> signals;
  if (r.bytes_ratio) signals.push_back("bytes");
  if (r.inodes_ratio) signals.push_back("inodes");
  d["signals"] = absl::StrJoin(signals, ",");
  if (!r.inodes_ratio) d["unavailable"] = "inodes: filesystem reports none";

  std::vector<std::string> reasons;
  std::string summary;
  // Predictions not already given as a reason.
  std::vector<std::string> ttf_texts;
  // observed_value: the worse of the two ratios.
  const bool inodes_worse =
      r.inodes_ratio &&
      (!r.bytes_ratio || k.inodes.state().level() > k.bytes.state().level() ||
       (k.inodes.state().level() == k.bytes.state().level() &&
        *r.inodes_ratio > *r.bytes_ratio));
  if (r.bytes_ratio) {
    d["bytes_total"] = internal::FormatNumber(*r.bytes_total, 0);
    d["bytes_available"] = internal::FormatNumber(*r.bytes_available, 0);
    d["bytes_used_ratio"] = internal::FormatNumber(*r.bytes_ratio, 4);
    summary = absl::StrCat(
        options().path, ": ", internal::FormatBytes(*r.bytes_available),
        " free of ", internal::FormatBytes(*r.bytes_total), " (",
        internal::FormatRatio(*r.bytes_ratio), " used)");
    if (k.bytes.state().ratio_level > Level::kOk) reasons.push_back(summary);
  }
  if (r.inodes_ratio) {
    d["inodes_total"] = internal::FormatNumber(*r.inodes_total, 0);
    d["inodes_available"] = internal::FormatNumber(*r.inodes_available, 0);
    d["inodes_used_ratio"] = internal::FormatNumber(*r.inodes_ratio, 4);
    if (k.inodes.state().ratio_level > Level::kOk) {
      reasons.push_back(absl::StrCat(
          options().path, ": ", internal::FormatNumber(*r.inodes_available, 0),
          " inodes free of ", internal::FormatNumber(*r.inodes_total, 0), " (",
          internal::FormatRatio(*r.inodes_ratio), " used)"));
    }
  }
  auto trend = [&](const char* what, const internal::Gauge& g,
                   const std::optional<double>& rate,
                   const std::optional<absl::Duration>& ttf,
                   const std::string& rate_text) {
    if (rate) {
      d[absl::StrCat(what, "_fill_rate_per_second")] =
          internal::FormatNumber(*rate, 1);
    }
    if (!ttf) return;
    d[absl::StrCat(what, "_time_to_full_seconds")] =
        internal::FormatNumber(absl::ToDoubleSeconds(*ttf), 1);
    std::string text = absl::StrCat(
        what, " full in ", internal::FormatDuration(*ttf), " at ", rate_text);
    ttf_texts.push_back(text);
    if (g.state().trend_level > Level::kOk) {
      ttf_texts.pop_back();
      reasons.push_back(absl::StrCat(
          text, " (within the ",
          internal::FormatDuration(g.state().trend_level == Level::kCritical
                                       ? options().trend.critical_horizon
                                       : options().trend.horizon),
          " horizon)"));
    } else {
      summary = absl::StrCat(summary, "; ", text);
    }
    if (!result.time_to_exhaustion || *ttf < *result.time_to_exhaustion) {
      result.time_to_exhaustion = *ttf;
    }
  };
  trend("bytes", k.bytes, r.bytes_fill_rate, r.bytes_time_to_full,
        r.bytes_fill_rate
            ? absl::StrCat(internal::FormatBytes(*r.bytes_fill_rate), "/s")
            : "");
  trend("inodes", k.inodes, r.inodes_fill_rate, r.inodes_time_to_full,
        r.inodes_fill_rate
            ? absl::StrCat(internal::FormatNumber(*r.inodes_fill_rate, 1),
                           " inodes/s")
            : "");
  if (inodes_worse) {
    result.observed_value = *r.inodes_ratio;
    result.warn_threshold = options().inodes.warn;
    result.critical_threshold = options().inodes.critical;
    d["observed"] = "inodes";
  } else if (r.bytes_ratio) {
    result.observed_value = *r.bytes_ratio;
    result.warn_threshold = options().bytes.warn;
    result.critical_threshold = options().bytes.critical;
    d["observed"] = "bytes";
  }
  result.observed_unit = "ratio";
  if (!reasons.empty()) {
    // A warning says when it will be too late, if that is known.
    for (std::string& t : ttf_texts) reasons.push_back(std::move(t));
  }
  result.message = reasons.empty() ? summary : absl::StrJoin(reasons, "; ");
  return result;
}

absl::StatusOr<Check> DiskCheck(DiskOptions options,
                                std::shared_ptr<DiskDetector>* detector) {
  return internal::MakeDetectorCheck(std::move(options), detector);
}

}  // namespace pressure
}  // namespace vigil
