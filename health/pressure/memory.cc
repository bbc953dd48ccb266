#include "health/pressure/memory.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "health/pressure/internal/cgroup.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/gauge.h"
#include "health/pressure/internal/parse.h"
#include "health/pressure/internal/psi.h"
#include "health/pressure/internal/report.h"

namespace vigil {
namespace pressure {

using internal::CgroupDir;
using internal::CgroupVersion;
using internal::KeptOpenFile;

TrendOptions MemoryOptions::DefaultTrend() {
  TrendOptions t;
  t.window = absl::Minutes(5);
  t.min_span = absl::Seconds(30);
  t.min_samples = 5;
  t.horizon = absl::Minutes(10);
  return t;
}

TrendOptions MemoryOptions::DefaultSpikeTrend() {
  TrendOptions t;
  t.window = absl::Seconds(5);
  t.min_span = absl::Milliseconds(500);
  t.min_samples = 3;
  t.horizon = absl::Seconds(10);
  t.critical_horizon = absl::Seconds(4);
  return t;
}

CheckOptions MemoryOptions::DefaultCheckOptions() {
  return internal::PressureCheckOptions(absl::Seconds(5), /*critical=*/true);
}

absl::Status MemoryOptions::Validate() const {
  if (absl::Status s = internal::FirstError(
          {source.Validate("memory.source"), usage.Validate("memory.usage"),
           psi_full.Validate("memory.psi_full"),
           psi_some.Validate("memory.psi_some"), trend.Validate("memory.trend"),
           spike.Validate("memory.spike")});
      !s.ok()) {
    return s;
  }
  if (oom_kill_hold < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("memory.oom_kill_hold: must be >= 0");
  }
  return absl::OkStatus();
}

struct MemoryDetector::Impl {
  explicit Impl(const MemoryOptions& o)
      : usage_gauge(o.usage, o.trend),
        spike_gauge(o.usage, o.spike),
        psi_full(o.psi_full),
        psi_some(o.psi_some) {}

  internal::CgroupLayout layout;
  CgroupDir cgroup;  // The memory cgroup whose usage is read.
  bool v2 = false;
  // One per cgroup from the target's up to the top visible one: a limit
  // anywhere on that path can OOM-kill the target, and what counts is the
  // usage of the cgroup that carries it (siblings share it).
  struct CgroupLevel {
    std::string path;    // Inside the root, for reports.
    KeptOpenFile usage;  // memory.current / memory.usage_in_bytes
    KeptOpenFile stat;   // memory.stat
    std::vector<KeptOpenFile>
        limits;  // memory.max + memory.high / limit_in_bytes
    bool read_on_last_sample = false;  // usage and stat were read.
  };
  std::vector<CgroupLevel> levels;  // [0] is the target's cgroup.
  KeptOpenFile events_file;         // memory.events / memory.oom_control
  KeptOpenFile meminfo_file;
  internal::PsiSource psi;
  std::optional<uint64_t> host_total;  // MemTotal at creation.

  internal::SignalSet signals;
  int sig_usage = 0, sig_inactive = 0, sig_limit = 0, sig_host = 0, sig_psi = 0,
      sig_oom = 0;

  internal::Gauge usage_gauge;
  internal::Gauge spike_gauge;  // Only its trend level is used.
  Hysteresis psi_full;
  Hysteresis psi_some;
  Level stall_level = Level::kOk;
  Level oom_level = Level::kOk;
  bool have_headroom_source = false;
  int headroom_depth = MemoryReading::kHostLimit;
  std::optional<uint64_t> last_oom_kills;
  absl::Time last_oom_kill_time = absl::InfinitePast();

  // The steps of Read(), in order, along its signals.
  // The limit that binds: the cgroup on the path whose working set is the
  // largest share of its limit.
  struct Binding {
    bool cgroup_limited = false;
    std::optional<double> ws, limit;
    int depth = MemoryReading::kHostLimit;
  };
  // Cgroup usage, inactive file pages, limits, OOM counters.
  void ReadCgroups(MemoryReading& r, Binding* binding);
  // The smallest limit of `level`, or nullopt; sets *any_limit when a limit
  // file was read and *failed to one that was not.
  static std::optional<uint64_t> ReadLimits(CgroupLevel& level, bool* any_limit,
                                            const KeptOpenFile** failed);
  // Usage and memory.stat figures of one level.
  struct LevelUsage {
    std::optional<uint64_t> usage;
    std::optional<uint64_t> inactive;    // (total_)inactive_file
    std::optional<uint64_t> hier_limit;  // v1 hierarchical_memory_limit
    bool stat_ok = false;                // inactive was read.
  };
  static LevelUsage ReadUsage(CgroupLevel& level);
  // The target's own usage and inactive_file signals (level 0).
  void ReportOwnUsage(const CgroupLevel& level, const LevelUsage& used,
                      MemoryReading& r);
  void ReadOomCounters(MemoryReading& r);
  // Headroom: the cgroup's when a real limit applies, else the host's.
  void UpdateHeadroom(absl::Time now, const Binding& binding, MemoryReading& r);
  // Stall (PSI).
  void UpdateStall(absl::Time now, MemoryReading& r);
  // OOM kills since the previous sample, held for `hold`.
  void UpdateOom(absl::Time now, absl::Duration hold, const MemoryReading& r);
  // Combine the signals into r.level.
  void Combine(MemoryReading& r) const;
};

MemoryDetector::MemoryDetector(MemoryOptions options)
    : DetectorCore(std::move(options)),
      impl_(std::make_unique<Impl>(this->options())) {}

MemoryDetector::~MemoryDetector() = default;

absl::Status MemoryDetector::Open() {
  Impl& m = *impl_;
  const Source& src = options().source;
  if (!src.cgroup_dir.empty()) {
    m.layout = internal::CgroupLayoutForDir(src.root, src.cgroup_dir);
    if (!m.layout.memory.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "memory.source.cgroup_dir: not a memory cgroup: ",
          m.layout.problems.empty() ? src.cgroup_dir : m.layout.problems));
    }
  } else {
    m.layout = internal::ResolveCgroups(src.root, src.pid);
  }

  m.sig_usage = m.signals.Add("cgroup_usage");
  m.sig_inactive = m.signals.Add("inactive_file");
  m.sig_limit = m.signals.Add("cgroup_limit");
  m.sig_host = m.signals.Add("host_meminfo");
  m.sig_psi = m.signals.Add("psi");
  m.sig_oom = m.signals.Add("oom_counters");

  m.cgroup = m.layout.memory;
  if (m.cgroup.ok()) {
    m.v2 = m.cgroup.version == CgroupVersion::kV2;
    if (m.v2) {
      // A v2 cgroup without the memory controller enabled is accounted to
      // its nearest ancestor that has it.
      for (const std::string& dir : m.cgroup.AncestorFullPaths()) {
        if (internal::PathExists(dir + "/memory.current")) {
          const size_t cut = m.cgroup.full_path.size() - dir.size();
          m.cgroup.path.resize(m.cgroup.path.size() - cut);
          m.cgroup.full_path = dir;
          break;
        }
      }
      m.events_file.Open(m.cgroup.full_path + "/memory.events", 256);
    } else {
      m.events_file.Open(m.cgroup.full_path + "/memory.oom_control", 256);
    }
    std::string display = m.cgroup.path;
    for (const std::string& dir : m.cgroup.AncestorFullPaths()) {
      Impl::CgroupLevel level;
      level.path = display;
      display.resize(display.rfind('/') == 0 ? 1 : display.rfind('/'));
      level.usage.Open(
          dir + (m.v2 ? "/memory.current" : "/memory.usage_in_bytes"), 64);
      level.stat.Open(dir + "/memory.stat", 2048);
      for (const char* name :
           {"memory.max", "memory.high", "memory.limit_in_bytes"}) {
        const bool v2_file = absl::string_view(name) != "memory.limit_in_bytes";
        if (v2_file != m.v2) continue;
        const std::string path = absl::StrCat(dir, "/", name);
        if (!internal::PathExists(path)) continue;
        KeptOpenFile f;
        f.Open(path, 64);
        level.limits.push_back(std::move(f));
      }
      m.levels.push_back(std::move(level));
    }
  }
  m.meminfo_file.Open(internal::JoinRoot(src.root, "/proc/meminfo"), 4096);
  if (m.meminfo_file.Read()) {
    internal::MemInfo info;
    if (internal::ParseMeminfo(m.meminfo_file.content(), &info)) {
      m.host_total = info.total_bytes;
    }
  }
  // Cgroup-local PSI: the v2 cgroup itself, or the unified cgroup in hybrid
  // mode. An explicit v1 cgroup_dir has no PSI of its own.
  std::string psi_dir;
  if (m.cgroup.ok() && m.v2) {
    psi_dir = m.cgroup.PsiDir();
  } else if (src.cgroup_dir.empty()) {
    psi_dir = m.layout.unified.PsiDir();
  }
  m.psi.Open(src.root, psi_dir, "memory");
  return absl::OkStatus();
}

void MemoryDetector::Impl::ReadCgroups(MemoryReading& r, Binding* binding) {
  Impl& m = *this;
  // Usage, inactive file pages and limits of every level.
  std::optional<double> own_ws;
  // The binding limit: the cgroup on the path whose working set is the
  // largest share of its limit.
  std::optional<double> best_ws, best_limit;
  int best_depth = MemoryReading::kHostLimit;
  auto consider = [&](double ws, uint64_t limit, int depth) {
    if (limit == internal::kUnlimited || limit == 0) return;
    // A limit at or above the host's memory is no limit.
    if (m.host_total && limit >= *m.host_total) return;
    const double l = static_cast<double>(limit);
    if (!best_limit || ws / l > *best_ws / *best_limit) {
      best_ws = ws;
      best_limit = l;
      best_depth = depth;
    }
  };
  bool cgroup_limited = false;
  if (!m.cgroup.ok()) {
    m.signals.Unavailable(m.sig_usage, "no memory cgroup");
    m.signals.Unavailable(m.sig_inactive, "no memory cgroup");
    m.signals.Unavailable(m.sig_limit, "no memory cgroup");
    m.signals.Unavailable(m.sig_oom, "no memory cgroup");
  } else {
    bool any_limit = false;
    const KeptOpenFile* failed_limit = nullptr;
    for (size_t depth = 0; depth < m.levels.size(); ++depth) {
      Impl::CgroupLevel& level = m.levels[depth];
      const std::optional<uint64_t> limit =
          ReadLimits(level, &any_limit, &failed_limit);
      const bool limited = limit && *limit != internal::kUnlimited &&
                           !(m.host_total && *limit >= *m.host_total);
      level.read_on_last_sample = depth == 0 || limited;
      if (!level.read_on_last_sample) continue;
      cgroup_limited = cgroup_limited || limited;
      // Working set of this level (always read for the target's own).
      const LevelUsage used = ReadUsage(level);
      const std::optional<uint64_t>& usage = used.usage;
      const std::optional<uint64_t>& hier_limit = used.hier_limit;
      if (depth == 0) {
        m.ReportOwnUsage(level, used, r);
        if (!usage) break;  // No headroom from any level without our own.
      }
      double ws;
      if (usage) {
        const double u = static_cast<double>(*usage);
        const double inactive =
            used.stat_ok ? static_cast<double>(*used.inactive) : 0.0;
        ws = u - std::min(inactive, u);
      } else {
        ws = *own_ws;  // An ancestor holds at least what we hold.
      }
      if (depth == 0) own_ws = ws;
      if (limit) consider(ws, *limit, static_cast<int>(depth));
      // v1: the kernel's own figure also sees ancestors outside our mount;
      // their usage is unknown, ours is a lower bound of it.
      if (depth == 0 && hier_limit && *hier_limit < internal::kHugeLimit) {
        any_limit = true;
        if (!(m.host_total && *hier_limit >= *m.host_total)) {
          cgroup_limited = true;
          consider(ws, *hier_limit, MemoryReading::kKernelHierarchicalLimit);
        }
      }
    }
    if (failed_limit != nullptr && !any_limit) {
      m.signals.Failed(m.sig_limit, *failed_limit);
    } else if (!any_limit) {
      m.signals.Unavailable(m.sig_limit, "no limit file");
    } else {
      m.signals.Ok(m.sig_limit);
    }
    m.ReadOomCounters(r);
  }
  binding->cgroup_limited = cgroup_limited;
  binding->ws = best_ws;
  binding->limit = best_limit;
  binding->depth = best_depth;
}

std::optional<uint64_t> MemoryDetector::Impl::ReadLimits(
    CgroupLevel& level, bool* any_limit, const KeptOpenFile** failed) {
  std::optional<uint64_t> limit;
  for (KeptOpenFile& f : level.limits) {
    std::optional<uint64_t> v;
    if (f.Read()) {
      v = internal::ParseLimit(f.content());
      if (!v) f.set_parse_error();
    }
    if (!v) {
      *failed = &f;
      continue;
    }
    *any_limit = true;
    limit = std::min(limit.value_or(*v), *v);
  }
  return limit;
}

MemoryDetector::Impl::LevelUsage MemoryDetector::Impl::ReadUsage(
    CgroupLevel& level) {
  LevelUsage used;
  if (level.usage.Read()) {
    used.usage = internal::ParseUint(level.usage.content());
    if (!used.usage) level.usage.set_parse_error();
  }
  std::optional<uint64_t> total_inactive;
  if (level.stat.Read()) {
    const internal::KeyedField fields[] = {
        {"total_inactive_file", &total_inactive},
        {"inactive_file", &used.inactive},
        {"hierarchical_memory_limit", &used.hier_limit}};
    internal::ParseFlatKeyed(level.stat.content(), fields);
    if (total_inactive) used.inactive = total_inactive;  // v1 hierarchical.
    used.stat_ok = used.inactive.has_value();
    if (!used.stat_ok) level.stat.set_parse_error();
  }
  return used;
}

void MemoryDetector::Impl::ReportOwnUsage(const CgroupLevel& level,
                                          const LevelUsage& used,
                                          MemoryReading& r) {
  if (used.usage) {
    signals.Ok(sig_usage);
    r.cgroup_usage_bytes = static_cast<double>(*used.usage);
  } else {
    signals.Failed(sig_usage, level.usage);
  }
  if (used.stat_ok) {
    signals.Ok(sig_inactive);
    r.inactive_file_bytes = static_cast<double>(*used.inactive);
  } else {
    signals.Failed(sig_inactive, level.stat);
  }
}

void MemoryDetector::Impl::ReadOomCounters(MemoryReading& r) {
  Impl& m = *this;
  // OOM counters.
  std::optional<uint64_t> oom, oom_kill, under_oom;
  if (m.events_file.Read()) {
    const internal::KeyedField fields[] = {
        {"oom", &oom}, {"oom_kill", &oom_kill}, {"under_oom", &under_oom}};
    internal::ParseFlatKeyed(m.events_file.content(), fields);
    if (!oom_kill) m.events_file.set_parse_error();
  }
  if (oom_kill) {
    m.signals.Ok(m.sig_oom);
    r.oom_kills = *oom_kill;
    if (m.v2 && oom) r.oom_events = *oom;
    if (!m.v2 && under_oom) r.under_oom = *under_oom != 0;
  } else {
    m.signals.Failed(m.sig_oom, m.events_file);
  }
}

void MemoryDetector::Impl::UpdateHeadroom(absl::Time now,
                                          const Binding& binding,
                                          MemoryReading& r) {
  Impl& m = *this;
  // Headroom: the cgroup's when a real limit applies, else the host's.
  // With a cgroup limit but no readable usage there is no headroom signal:
  // the host's figures would describe something else.
  if (binding.cgroup_limited) {
    m.signals.NotApplicable(m.sig_host, "a cgroup limit applies");
    if (binding.limit) {
      r.working_set_bytes = binding.ws;
      r.limit_bytes = binding.limit;
      r.limit_from_cgroup = true;
      r.limit_depth = binding.depth;
    }
  } else {
    internal::MemInfo info;
    if (m.meminfo_file.Read() &&
        internal::ParseMeminfo(m.meminfo_file.content(), &info) &&
        info.available_bytes) {
      m.signals.Ok(m.sig_host);
      r.host_total_bytes = static_cast<double>(*info.total_bytes);
      r.host_available_bytes = static_cast<double>(*info.available_bytes);
      r.working_set_bytes = *r.host_total_bytes - *r.host_available_bytes;
      r.limit_bytes = r.host_total_bytes;
    } else {
      if (m.meminfo_file.error() == 0) m.meminfo_file.set_parse_error();
      m.signals.Failed(m.sig_host, m.meminfo_file);
    }
  }
  if (r.working_set_bytes && r.limit_bytes && *r.limit_bytes > 0) {
    if (!m.have_headroom_source || m.headroom_depth != r.limit_depth) {
      m.usage_gauge.ResetTrend();
      m.spike_gauge.ResetTrend();
    }
    m.have_headroom_source = true;
    m.headroom_depth = r.limit_depth;
    const internal::GaugeState& g =
        m.usage_gauge.Update(now, *r.working_set_bytes, *r.limit_bytes);
    r.usage_ratio = g.ratio;
    if (g.trend.ready) {
      r.fill_rate_bytes_per_second = g.trend.rate_per_second;
      r.time_to_exhaustion = g.trend.time_to_exhaustion;
    }
    const internal::GaugeState& spike =
        m.spike_gauge.Update(now, *r.working_set_bytes, *r.limit_bytes);
    if (spike.trend.ready) {
      r.spike_fill_rate_bytes_per_second = spike.trend.rate_per_second;
      r.spike_time_to_exhaustion = spike.trend.time_to_exhaustion;
    }
  } else {
    m.usage_gauge.MarkUnavailable();
    m.spike_gauge.MarkUnavailable();
    m.have_headroom_source = false;
  }
}

void MemoryDetector::Impl::UpdateStall(absl::Time now, MemoryReading& r) {
  Impl& m = *this;
  // Stall.
  if (!m.psi.opened()) {
    m.signals.Failed(m.sig_psi, &m.psi.path(), m.psi.error());
    m.psi_full.Reset();
    m.psi_some.Reset();
  } else if (m.psi.Read()) {
    m.signals.Ok(m.sig_psi);
    r.psi_cgroup_local = m.psi.cgroup_local();
    const internal::PsiContent& c = m.psi.content();
    r.psi_some_avg10 = c.some->avg10;
    r.psi_some_avg60 = c.some->avg60;
    m.psi_some.Update(c.some->avg10, now);
    if (c.full) {
      r.psi_full_avg10 = c.full->avg10;
      r.psi_full_avg60 = c.full->avg60;
      m.psi_full.Update(c.full->avg10, now);
    }
  } else {
    m.signals.Failed(m.sig_psi, &m.psi.path(), m.psi.error());
    m.psi_full.Reset();
    m.psi_some.Reset();
  }
  m.stall_level = MaxLevel(m.psi_full.level(), m.psi_some.level());
}

void MemoryDetector::Impl::UpdateOom(absl::Time now, absl::Duration hold,
                                     const MemoryReading& r) {
  Impl& m = *this;
  // OOM kills since the previous sample.
  if (r.oom_kills) {
    if (m.last_oom_kills && *r.oom_kills > *m.last_oom_kills) {
      m.last_oom_kill_time = now;
    }
    m.last_oom_kills = r.oom_kills;
  }
  m.oom_level = Level::kOk;
  if (m.last_oom_kill_time != absl::InfinitePast() &&
      now - m.last_oom_kill_time < hold) {
    m.oom_level = Level::kWarn;
  }
  if (r.under_oom.value_or(false)) m.oom_level = Level::kCritical;
}

void MemoryDetector::Impl::Combine(MemoryReading& r) const {
  const Impl& m = *this;
  // Combine.
  const internal::GaugeState& g = m.usage_gauge.state();
  Level stall = m.stall_level;
  if (!(g.available && g.ratio_level >= Level::kWarn)) {
    stall = std::min(stall, Level::kWarn);
  }
  r.level = MaxLevel(MaxLevel(g.level(), stall), m.oom_level);
  r.level = MaxLevel(r.level, m.spike_gauge.state().trend_level);
}

void MemoryDetector::Read(absl::Time now, MemoryReading& r) {
  Impl& m = *impl_;
  Impl::Binding binding;
  m.ReadCgroups(r, &binding);
  m.UpdateHeadroom(now, binding, r);
  m.UpdateStall(now, r);
  m.UpdateOom(now, options().oom_kill_hold, r);
  m.Combine(r);
}

CheckResult MemoryDetector::Result() const {
  const Impl& m = *impl_;
  const MemoryReading& r = reading();
  const internal::GaugeState& g = m.usage_gauge.state();
  CheckResult result;
  result.status = LevelToStatus(r.level);
  result.warn_threshold = options().usage.warn;
  result.critical_threshold = options().usage.critical;
  auto& d = result.details;
  m.signals.AddDetails(&d);
  d["cgroup"] = m.cgroup.Describe();
  d["cgroup_mode"] = m.layout.mode;
  if (!m.layout.problems.empty()) d["cgroup_problems"] = m.layout.problems;
  d["level"] = std::string(LevelName(r.level));

  std::vector<std::string> reasons;
  std::string summary;
  if (r.working_set_bytes && r.limit_bytes) {
    result.observed_value = r.usage_ratio;
    result.observed_unit = "ratio";
    d["working_set_bytes"] = internal::FormatNumber(*r.working_set_bytes, 0);
    d["limit_bytes"] = internal::FormatNumber(*r.limit_bytes, 0);
    d["limit_source"] = r.limit_from_cgroup ? "cgroup" : "host";
    if (r.limit_depth >= 0 &&
        static_cast<size_t>(r.limit_depth) < m.levels.size()) {
      d["limit_cgroup"] = m.levels[r.limit_depth].path;
    } else if (r.limit_depth == MemoryReading::kKernelHierarchicalLimit) {
      d["limit_cgroup"] =
          "hierarchical_memory_limit (an ancestor not visible here)";
    }
    if (r.limit_from_cgroup && !r.inactive_file_bytes) {
      d["working_set"] = "usage (inactive_file unavailable: overestimates)";
    }
    summary =
        absl::StrCat(r.limit_from_cgroup ? "working set " : "host memory used ",
                     internal::FormatBytes(*r.working_set_bytes), " of ",
                     internal::FormatBytes(*r.limit_bytes),
                     r.limit_from_cgroup ? " limit (" : " (",
                     internal::FormatRatio(*r.usage_ratio), ")");
    if (g.ratio_level > Level::kOk) {
      reasons.push_back(
          absl::StrCat(summary, ", ", LevelName(g.ratio_level), " threshold ",
                       internal::FormatRatio(g.ratio_level == Level::kCritical
                                                 ? options().usage.critical
                                                 : options().usage.warn)));
    }
  } else {
    summary = "memory headroom unavailable";
  }
  if (r.cgroup_usage_bytes) {
    d["cgroup_usage_bytes"] = internal::FormatNumber(*r.cgroup_usage_bytes, 0);
  }
  if (r.inactive_file_bytes) {
    d["inactive_file_bytes"] =
        internal::FormatNumber(*r.inactive_file_bytes, 0);
  }
  if (r.host_available_bytes) {
    d["host_available_bytes"] =
        internal::FormatNumber(*r.host_available_bytes, 0);
  }
  if (r.fill_rate_bytes_per_second) {
    d["fill_rate_bytes_per_second"] =
        internal::FormatNumber(*r.fill_rate_bytes_per_second, 0);
  } else if (g.available) {
    d["trend"] = absl::StrCat(
        "waiting for ", internal::FormatDuration(options().trend.min_span),
        " and ", options().trend.min_samples, " samples (have ",
        g.trend.samples, " over ", internal::FormatDuration(g.trend.span), ")");
  }
  if (r.time_to_exhaustion) {
    result.time_to_exhaustion = r.time_to_exhaustion;
    d["time_to_exhaustion_seconds"] =
        internal::FormatNumber(absl::ToDoubleSeconds(*r.time_to_exhaustion), 1);
    const std::string when = absl::StrCat(
        "full in ", internal::FormatDuration(*r.time_to_exhaustion), " at ",
        internal::FormatBytes(*r.fill_rate_bytes_per_second), "/s");
    summary = absl::StrCat(summary, "; ", when);
    if (g.trend_level > Level::kOk) {
      reasons.push_back(absl::StrCat(
          when, " (within the ",
          internal::FormatDuration(g.trend_level == Level::kCritical
                                       ? options().trend.critical_horizon
                                       : options().trend.horizon),
          " horizon)"));
    } else if (g.ratio_level > Level::kOk) {
      reasons.push_back(when);  // A warning says when it will be too late.
    }
  }
  AddSpike(r, &result, &reasons);
  if (r.psi_some_avg10) {
    d["psi_scope"] = r.psi_cgroup_local ? "cgroup" : "system";
    d["psi_some_avg10"] = internal::FormatNumber(*r.psi_some_avg10);
    d["psi_some_avg60"] = internal::FormatNumber(*r.psi_some_avg60);
  }
  if (r.psi_full_avg10) {
    d["psi_full_avg10"] = internal::FormatNumber(*r.psi_full_avg10);
    d["psi_full_avg60"] = internal::FormatNumber(*r.psi_full_avg60);
  }
  if (m.stall_level > Level::kOk) {
    std::string stall = absl::StrCat(
        "memory stall (PSI ", r.psi_cgroup_local ? "cgroup" : "system",
        "): some ", internal::FormatNumber(r.psi_some_avg10.value_or(0)),
        "%, full ", internal::FormatNumber(r.psi_full_avg10.value_or(0)), "%");
    if (!(g.available && g.ratio_level >= Level::kWarn) &&
        m.stall_level == Level::kCritical) {
      absl::StrAppend(&stall, " (headroom fine: capped at warn)");
    }
    reasons.push_back(std::move(stall));
  }
  if (r.oom_kills) d["oom_kill"] = absl::StrCat(*r.oom_kills);
  if (r.oom_events) d["oom_events"] = absl::StrCat(*r.oom_events);
  if (r.under_oom) d["under_oom"] = *r.under_oom ? "1" : "0";
  if (m.oom_level == Level::kCritical) {
    reasons.push_back("cgroup is under OOM (OOM killer disabled)");
  } else if (m.oom_level == Level::kWarn) {
    reasons.push_back(
        absl::StrCat("OOM kill in the cgroup ",
                     internal::FormatDuration(r.time - m.last_oom_kill_time),
                     " ago (", r.oom_kills.value_or(0), " in total)"));
  }
  if (reasons.empty() && !m.signals.any_ok()) {
    result.status = Status::kDegraded;
    result.message = absl::StrCat("no memory signal readable: ",
                                  m.signals.UnavailableText());
    return result;
  }
  result.message = reasons.empty() ? summary : absl::StrJoin(reasons, "; ");
  return result;
}

void MemoryDetector::AddSpike(const MemoryReading& r, CheckResult* result,
                              std::vector<std::string>* reasons) const {
  if (!r.spike_fill_rate_bytes_per_second) return;
  auto& d = result->details;
  d["spike_fill_rate_bytes_per_second"] =
      internal::FormatNumber(*r.spike_fill_rate_bytes_per_second, 0);
  if (!r.spike_time_to_exhaustion) return;
  const absl::Duration tte = *r.spike_time_to_exhaustion;
  d["spike_time_to_exhaustion_seconds"] =
      internal::FormatNumber(absl::ToDoubleSeconds(tte), 1);
  if (!result->time_to_exhaustion || tte < *result->time_to_exhaustion) {
    result->time_to_exhaustion = tte;
  }
  const Level level = impl_->spike_gauge.state().trend_level;
  if (level == Level::kOk) return;
  reasons->push_back(absl::StrCat(
      "spike: full in ", internal::FormatDuration(tte), " at ",
      internal::FormatBytes(*r.spike_fill_rate_bytes_per_second), "/s (",
      level == Level::kCritical ? "below the " : "within the ",
      internal::FormatDuration(level == Level::kCritical
                                   ? options().spike.critical_horizon
                                   : options().spike.horizon),
      level == Level::kCritical ? " floor)" : " horizon)"));
}

std::vector<std::string> MemoryDetector::Files() const {
  const Impl& m = *impl_;
  std::vector<std::string> files;
  // Per sample: the target's usage and stat, every limit, the usage and
  // stat of ancestors only while they carry a limit.
  for (size_t i = 0; i < m.levels.size(); ++i) {
    const Impl::CgroupLevel& level = m.levels[i];
    for (const KeptOpenFile& f : level.limits) {
      if (f.is_open()) files.push_back(f.path());
    }
    if (level.read_on_last_sample) {
      for (const KeptOpenFile* f : {&level.usage, &level.stat}) {
        if (f->is_open()) files.push_back(f->path());
      }
    }
  }
  if (m.events_file.is_open()) files.push_back(m.events_file.path());
  const bool host = !reading().limit_from_cgroup;
  if (host && m.meminfo_file.is_open()) files.push_back(m.meminfo_file.path());
  if (m.psi.opened()) files.push_back(m.psi.path());
  return files;
}

std::string MemoryDetector::PsiPath() const {
  return impl_->psi.opened() ? impl_->psi.path() : std::string();
}

std::string MemoryDetector::CgroupFullPath() const {
  return impl_->cgroup.ok() ? impl_->cgroup.full_path : std::string();
}

bool MemoryDetector::cgroup_is_v2() const {
  return impl_->cgroup.ok() && impl_->v2;
}

std::string MemoryDetector::CgroupDescription() const {
  return impl_->cgroup.Describe();
}

absl::StatusOr<Check> MemoryCheck(MemoryOptions options,
                                  std::shared_ptr<MemoryDetector>* detector) {
  return internal::MakeDetectorCheck(std::move(options), detector);
}

}  // namespace pressure
}  // namespace vigil
