#include "health/pressure/tasks.h"

#include <algorithm>
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

using internal::KeptOpenFile;

// TrendOptions' own defaults: a 10 min window, speaking after 1 min and 6
// samples, DEGRADED when full within 30 min.
TrendOptions TasksOptions::DefaultTrend() { return TrendOptions(); }

CheckOptions TasksOptions::DefaultCheckOptions() {
  return internal::PressureCheckOptions(absl::Seconds(10), /*critical=*/true);
}

absl::Status TasksOptions::Validate() const {
  return internal::FirstError({source.Validate("tasks.source"),
                               usage.Validate("tasks.usage"),
                               trend.Validate("tasks.trend")});
}

struct TasksDetector::Impl {
  explicit Impl(const TasksOptions& o)
      : cgroup(o.usage, o.trend),
        process(o.usage, o.trend),
        system(o.usage, o.trend) {}

  internal::CgroupDir pids_dir;
  // The cgroup and its visible ancestors: pids.max anywhere on the path
  // limits us, against the pids.current of the cgroup that carries it.
  struct PidsLevel {
    KeptOpenFile current;
    KeptOpenFile max;
    bool read_current = false;
  };
  std::vector<PidsLevel> pids_levels;
  KeptOpenFile stat_file;
  KeptOpenFile limits_file;
  KeptOpenFile loadavg_file;
  KeptOpenFile threads_max_file;
  KeptOpenFile pid_max_file;

  internal::SignalSet signals;
  int sig_cgroup = 0, sig_process = 0, sig_system = 0;
  internal::Gauge cgroup;
  internal::Gauge process;
  internal::Gauge system;

  // The steps of Read(), one per signal.
  // cgroup: pids.current against the smallest pids.max.
  void ReadCgroup(TasksReading& r);
  // process: threads against RLIMIT_NPROC.
  void ReadProcess(TasksReading& r);
  // system: all tasks against threads-max and pid_max.
  void ReadSystem(TasksReading& r);
  // Feeds the three gauges; the worst level.
  Level Combine(absl::Time now, TasksReading& r);
};

TasksDetector::TasksDetector(TasksOptions options)
    : DetectorCore(std::move(options)),
      impl_(std::make_unique<Impl>(this->options())) {}

TasksDetector::~TasksDetector() = default;

absl::Status TasksDetector::Open() {
  Impl& t = *impl_;
  const Source& src = options().source;
  internal::CgroupLayout layout =
      src.cgroup_dir.empty()
          ? internal::ResolveCgroups(src.root, src.pid)
          : internal::CgroupLayoutForDir(src.root, src.cgroup_dir);
  t.sig_cgroup = t.signals.Add("cgroup_pids");
  t.sig_process = t.signals.Add("process_threads");
  t.sig_system = t.signals.Add("system_tasks");
  t.pids_dir = layout.pids;
  if (t.pids_dir.ok()) {
    for (const std::string& dir : t.pids_dir.AncestorFullPaths()) {
      Impl::PidsLevel level;
      level.current.Open(dir + "/pids.current", 64);
      if (internal::PathExists(dir + "/pids.max")) {
        level.max.Open(dir + "/pids.max", 64);
      }
      t.pids_levels.push_back(std::move(level));
    }
  }
  const std::string proc = internal::ProcDir(src.pid);
  t.stat_file.Open(internal::JoinRoot(src.root, proc + "/stat"), 1024);
  t.limits_file.Open(internal::JoinRoot(src.root, proc + "/limits"), 2048);
  t.loadavg_file.Open(internal::JoinRoot(src.root, "/proc/loadavg"), 128);
  t.threads_max_file.Open(
      internal::JoinRoot(src.root, "/proc/sys/kernel/threads-max"), 64);
  t.pid_max_file.Open(internal::JoinRoot(src.root, "/proc/sys/kernel/pid_max"),
                      64);
  return absl::OkStatus();
}

namespace {

std::optional<uint64_t> ReadUint(KeptOpenFile& f) {
  if (!f.Read()) return std::nullopt;
  std::optional<uint64_t> v = internal::ParseUint(f.content());
  if (!v) f.set_parse_error();
  return v;
}

}  // namespace

void TasksDetector::Impl::ReadCgroup(TasksReading& r) {
  Impl& t = *this;
  // cgroup: pids.current against the smallest pids.max.
  if (!t.pids_dir.ok()) {
    t.signals.Unavailable(t.sig_cgroup, "no pids cgroup");
  } else if (t.pids_dir.is_root) {
    t.signals.NotApplicable(t.sig_cgroup, "root cgroup (no pids.max)");
  } else {
    // The binding level: the largest pids.current / pids.max on the path.
    std::optional<uint64_t> own;
    const KeptOpenFile* failed = nullptr;
    for (size_t i = 0; i < t.pids_levels.size(); ++i) {
      Impl::PidsLevel& level = t.pids_levels[i];
      level.read_current = false;
      std::optional<uint64_t> limit;
      if (level.max.is_open()) {
        if (level.max.Read()) limit = internal::ParseLimit(level.max.content());
        if (!limit) {
          if (level.max.error() == 0) level.max.set_parse_error();
          failed = &level.max;
        }
      }
      const bool limited = limit && *limit != internal::kUnlimited;
      if (i > 0 && !limited) continue;
      level.read_current = true;
      std::optional<uint64_t> current = ReadUint(level.current);
      if (i == 0) {
        own = current;
        if (!current) {
          failed = &level.current;
          break;
        }
        r.cgroup_pids = static_cast<double>(*current);
      }
      if (!limited || !current) continue;
      const double ratio =
          static_cast<double>(*current) / static_cast<double>(*limit);
      if (!r.cgroup_pids_limit ||
          ratio > *r.cgroup_pids_used / *r.cgroup_pids_limit) {
        r.cgroup_pids_used = static_cast<double>(*current);
        r.cgroup_pids_limit = static_cast<double>(*limit);
      }
    }
    if (r.cgroup_pids_limit) {
      t.signals.Ok(t.sig_cgroup);
    } else if (failed != nullptr) {
      t.signals.Failed(t.sig_cgroup, *failed);
    } else {
      t.signals.NotApplicable(t.sig_cgroup, "no pids.max limit");
    }
  }
}

void TasksDetector::Impl::ReadProcess(TasksReading& r) {
  Impl& t = *this;
  // process: threads against RLIMIT_NPROC.
  std::optional<uint64_t> threads;
  if (t.stat_file.Read()) {
    threads = internal::ParseStatThreads(t.stat_file.content());
    if (!threads) t.stat_file.set_parse_error();
  }
  internal::ProcLimits limits;
  const bool limits_ok =
      t.limits_file.Read() &&
      internal::ParseLimits(t.limits_file.content(), &limits) &&
      limits.processes.has_value();
  if (!threads) {
    t.signals.Failed(t.sig_process, t.stat_file);
  } else {
    r.process_threads = static_cast<double>(*threads);
    if (!limits_ok) {
      if (t.limits_file.error() == 0) t.limits_file.set_parse_error();
      t.signals.Failed(t.sig_process, t.limits_file);
    } else if (*limits.processes == internal::kUnlimited) {
      t.signals.NotApplicable(t.sig_process, "RLIMIT_NPROC unlimited");
    } else {
      r.nproc_limit = static_cast<double>(*limits.processes);
      t.signals.Ok(t.sig_process);
    }
  }
}

void TasksDetector::Impl::ReadSystem(TasksReading& r) {
  Impl& t = *this;
  // system: all tasks against threads-max and pid_max.
  std::optional<uint64_t> tasks;
  if (t.loadavg_file.Read()) {
    tasks = internal::ParseLoadavgTasks(t.loadavg_file.content());
    if (!tasks) t.loadavg_file.set_parse_error();
  }
  std::optional<uint64_t> threads_max = ReadUint(t.threads_max_file);
  std::optional<uint64_t> pid_max = ReadUint(t.pid_max_file);
  if (!tasks) {
    t.signals.Failed(t.sig_system, t.loadavg_file);
  } else if (!threads_max && !pid_max) {
    t.signals.Failed(t.sig_system, t.threads_max_file);
  } else {
    r.system_tasks = static_cast<double>(*tasks);
    r.system_tasks_limit = static_cast<double>(std::min(
        threads_max.value_or(UINT64_MAX), pid_max.value_or(UINT64_MAX)));
    t.signals.Ok(t.sig_system);
  }
}

Level TasksDetector::Impl::Combine(absl::Time now, TasksReading& r) {
  Impl& t = *this;
  // The fullest of the three, with their trends.
  Level level = Level::kOk;
  auto feed = [&](internal::Gauge& g, const std::optional<double>& used,
                  const std::optional<double>& limit) {
    if (!used || !limit || *limit <= 0) {
      g.MarkUnavailable();
      return;
    }
    const internal::GaugeState& s = g.Update(now, *used, *limit);
    level = MaxLevel(level, s.level());
    if (!r.usage_ratio || s.ratio > *r.usage_ratio) r.usage_ratio = s.ratio;
    if (s.trend.time_to_exhaustion &&
        (!r.time_to_exhaustion ||
         *s.trend.time_to_exhaustion < *r.time_to_exhaustion)) {
      r.time_to_exhaustion = s.trend.time_to_exhaustion;
    }
  };
  feed(t.cgroup, r.cgroup_pids_used, r.cgroup_pids_limit);
  feed(t.process, r.process_threads, r.nproc_limit);
  feed(t.system, r.system_tasks, r.system_tasks_limit);
  return level;
}

void TasksDetector::Read(absl::Time now, TasksReading& r) {
  Impl& t = *impl_;
  t.ReadCgroup(r);
  t.ReadProcess(r);
  t.ReadSystem(r);
  r.level = t.Combine(now, r);
}

CheckResult TasksDetector::Result() const {
  const Impl& t = *impl_;
  const TasksReading& r = reading();
  CheckResult result;
  result.status = LevelToStatus(r.level);
  auto& d = result.details;
  t.signals.AddDetails(&d);
  d["cgroup"] = t.pids_dir.Describe();
  d["level"] = std::string(LevelName(r.level));
  std::vector<std::string> parts;
  std::vector<std::string> reasons;
  auto gauge = [&](const char* what, const char* unit, const internal::Gauge& g,
                   const std::optional<double>& used,
                   const std::optional<double>& limit) {
    if (used) d[absl::StrCat(what, "_used")] = internal::FormatNumber(*used, 0);
    if (!used || !limit) return;
    const internal::GaugeState& s = g.state();
    d[absl::StrCat(what, "_limit")] = internal::FormatNumber(*limit, 0);
    std::string text =
        absl::StrCat(what, ": ", internal::FormatNumber(*used, 0), " of ",
                     internal::FormatNumber(*limit, 0), " ", unit, " (",
                     internal::FormatRatio(s.ratio), ")");
    if (s.trend.ready) {
      d[absl::StrCat(what, "_fill_rate_per_second")] =
          internal::FormatNumber(s.trend.rate_per_second, 3);
    }
    if (s.trend.time_to_exhaustion) {
      d[absl::StrCat(what, "_time_to_exhaustion_seconds")] =
          internal::FormatNumber(
              absl::ToDoubleSeconds(*s.trend.time_to_exhaustion), 1);
      absl::StrAppend(&text, ", limit in ",
                      internal::FormatDuration(*s.trend.time_to_exhaustion));
    }
    if (s.level() > Level::kOk) reasons.push_back(text);
    parts.push_back(std::move(text));
  };
  gauge("cgroup", "pids", t.cgroup, r.cgroup_pids_used, r.cgroup_pids_limit);
  gauge("process", "threads (RLIMIT_NPROC)", t.process, r.process_threads,
        r.nproc_limit);
  gauge("system", "tasks", t.system, r.system_tasks, r.system_tasks_limit);
  if (!t.signals.any_ok()) {
    result.status = Status::kDegraded;
    result.message =
        absl::StrCat("no task signal readable: ", t.signals.UnavailableText());
    return result;
  }
  if (r.usage_ratio) {
    result.observed_value = *r.usage_ratio;
    result.observed_unit = "ratio";
    result.warn_threshold = options().usage.warn;
    result.critical_threshold = options().usage.critical;
  }
  result.time_to_exhaustion = r.time_to_exhaustion;
  result.message = absl::StrJoin(reasons.empty() ? parts : reasons, "; ");
  return result;
}

std::vector<std::string> TasksDetector::Files() const {
  const Impl& t = *impl_;
  std::vector<std::string> files;
  for (const Impl::PidsLevel& level : t.pids_levels) {
    if (level.max.is_open()) files.push_back(level.max.path());
    if (level.read_current && level.current.is_open()) {
      files.push_back(level.current.path());
    }
  }
  for (const KeptOpenFile* f : {&t.stat_file, &t.limits_file, &t.loadavg_file,
                                &t.threads_max_file, &t.pid_max_file}) {
    if (f->is_open()) files.push_back(f->path());
  }
  return files;
}

absl::StatusOr<Check> TasksCheck(TasksOptions options,
                                 std::shared_ptr<TasksDetector>* detector) {
  return internal::MakeDetectorCheck(std::move(options), detector);
}

}  // namespace pressure
}  // namespace vigil
