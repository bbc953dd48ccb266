#include "health/pressure/events.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "health/pressure/internal/file.h"
#include "health/pressure/internal/parse.h"
#include "health/pressure/internal/psi.h"

namespace vigil {
namespace pressure {

using internal::ErrorText;

namespace {

// Epoll data of the wake eventfd (sources use their index).
constexpr uint64_t kWakeTag = ~uint64_t{0};

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

// Reads what is pending on a source fd so a level-triggered epoll does not
// report it again (eventfd counter, inotify records; PSI needs nothing).
void Drain(int fd) {
  char buf[4096];
  for (int i = 0; i < 16; ++i) {
    if (read(fd, buf, sizeof(buf)) <= 0) return;
  }
}

}  // namespace

std::vector<double> MemoryEventsOptions::DefaultThresholdRatios() {
  std::vector<double> r;
  for (int percent = 25; percent <= 95; percent += 5)
    r.push_back(percent / 100.0);
  return r;
}

absl::Status MemoryEventsOptions::Validate() const {
  if (!on_event) {
    return absl::InvalidArgumentError("memory_events.on_event: required");
  }
  for (double r : v1_threshold_ratios) {
    if (!(r > 0 && r < 1)) {
      return absl::InvalidArgumentError(
          "memory_events.v1_threshold_ratios: must each be in (0, 1)");
    }
  }
  if (psi_trigger) {
    if (absl::Status s = internal::ValidatePsiTrigger(
            "memory_events", trigger_stall, trigger_window);
        !s.ok()) {
      return s;
    }
  }
  if (follow_up_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "memory_events.follow_up_interval: must be > 0");
  }
  if (follow_up_for < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "memory_events.follow_up_for: must be >= 0");
  }
  if (min_spacing < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "memory_events.min_spacing: must be >= 0");
  }
  return absl::OkStatus();
}

MemoryEvents::MemoryEvents(MemoryEventsOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

absl::StatusOr<std::unique_ptr<MemoryEvents>> MemoryEvents::New(
    MemoryEventsOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<MemoryEvents> e(new MemoryEvents(std::move(options)));
  e->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  e->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (e->epoll_fd_ < 0 || e->wake_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat("memory_events: epoll/eventfd: ", ErrorText(errno)));
  }
  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(e->epoll_fd_, EPOLL_CTL_ADD, e->wake_fd_, &ev);
  return e;
}

absl::StatusOr<std::unique_ptr<MemoryEvents>> MemoryEvents::Create(
    const MemoryDetector& detector, MemoryEventsOptions options) {
  absl::StatusOr<std::unique_ptr<MemoryEvents>> made = New(std::move(options));
  if (!made.ok()) return made.status();
  std::unique_ptr<MemoryEvents> e = *std::move(made);
  const std::string dir = detector.CgroupFullPath();
  const char* no_v1 =
      dir.empty() ? "no memory cgroup" : "not a cgroup v1 memory cgroup";
  const char* no_v2 =
      dir.empty() ? "no memory cgroup" : "not a cgroup v2 memory cgroup";
  if (!dir.empty() && !detector.cgroup_is_v2()) {
    e->ArmV1(dir);
  } else {
    for (const char* name : {"v1_thresholds", "v1_pressure_level", "v1_oom"}) {
      e->unavailable_[name] = no_v1;
    }
  }
  if (!dir.empty() && detector.cgroup_is_v2()) {
    e->ArmV2(dir);
  } else {
    e->unavailable_["v2_events"] = no_v2;
  }
  e->ArmPsi(detector.PsiPath(), "memory");
  return e;
}

absl::StatusOr<std::unique_ptr<MemoryEvents>> MemoryEvents::CreateForPsi(
    absl::string_view resource, const std::string& psi_path,
    MemoryEventsOptions options) {
  absl::StatusOr<std::unique_ptr<MemoryEvents>> made = New(std::move(options));
  if (!made.ok()) return made.status();
  std::unique_ptr<MemoryEvents> e = *std::move(made);
  e->ArmPsi(psi_path, resource);
  return e;
}

MemoryEvents::~MemoryEvents() {
  Stop();
  for (Source& s : sources_) {
    CloseFd(s.fd);
    for (int fd : s.keep) CloseFd(fd);
  }
  CloseFd(wake_fd_);
  CloseFd(epoll_fd_);
}

void MemoryEvents::Add(Source source) {
  epoll_event ev = {};
  ev.events = source.name == "psi_trigger" ? EPOLLPRI : EPOLLIN;
  ev.data.u64 = sources_.size();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, source.fd, &ev) != 0) {
    // A regular file (a fixture tree) cannot be polled: EPERM.
    unavailable_[source.name] =
        absl::StrCat("cannot be polled (", ErrorText(errno),
                     "): not a kernel file; polling only");
    CloseFd(source.fd);
    for (int fd : source.keep) CloseFd(fd);
    return;
  }
  armed_.push_back(source.name);
  sources_.push_back(std::move(source));
}

void MemoryEvents::ArmV1(const std::string& dir) {
  struct statfs fs = {};
  if (!options_.fixture_files_for_test &&
      (statfs(dir.c_str(), &fs) != 0 || fs.f_type != CGROUP_SUPER_MAGIC)) {
    const std::string why =
        absl::StrCat(dir, ": not a cgroup v1 filesystem; polling only");
    for (const char* name : {"v1_thresholds", "v1_pressure_level", "v1_oom"}) {
      unavailable_[name] = why;
    }
    return;
  }
  const std::string control = dir + "/cgroup.event_control";
  const int control_fd = open(control.c_str(), O_WRONLY | O_CLOEXEC);
  if (control_fd < 0) {
    const std::string why =
        absl::StrCat(control, ": open for writing: ", ErrorText(errno));
    for (const char* name : {"v1_thresholds", "v1_pressure_level", "v1_oom"}) {
      unavailable_[name] = why;
    }
    return;
  }
  if (options_.v1_thresholds) {
    ArmV1Thresholds(dir, control_fd);
  } else {
    unavailable_["v1_thresholds"] = "disabled";
  }
  if (options_.v1_pressure_level) {
    ArmV1Event(dir, control_fd, "v1_pressure_level", "memory.pressure_level",
               " low");
  } else {
    unavailable_["v1_pressure_level"] = "disabled";
  }
  if (options_.v1_oom) {
    ArmV1Event(dir, control_fd, "v1_oom", "memory.oom_control", "");
  } else {
    unavailable_["v1_oom"] = "disabled";
  }
  close(control_fd);
}

void MemoryEvents::ArmV1Thresholds(const std::string& dir, int control_fd) {
  // The effective limit: hierarchical_memory_limit covers the ancestors.
  std::string stat;
  int error = 0;
  std::optional<uint64_t> limit;
  if (internal::ReadWholeFile(dir + "/memory.stat", &stat, &error)) {
    const internal::KeyedField fields[] = {
        {"hierarchical_memory_limit", &limit}};
    internal::ParseFlatKeyed(stat, fields);
  }
  if (!limit || *limit >= internal::kHugeLimit) {
    unavailable_["v1_thresholds"] = "no memory limit on the cgroup";
    return;
  }
  Source s;
  s.name = "v1_thresholds";
  s.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const std::string usage = dir + "/memory.usage_in_bytes";
  const int usage_fd = open(usage.c_str(), O_RDONLY | O_CLOEXEC);
  if (s.fd < 0 || usage_fd < 0) {
    unavailable_[s.name] = absl::StrCat(usage, ": ", ErrorText(errno));
    CloseFd(s.fd);
    CloseFd(usage_fd);
    return;
  }
  s.keep.push_back(usage_fd);
  for (double ratio : options_.v1_threshold_ratios) {
    const uint64_t bytes = static_cast<uint64_t>(
        std::llround(ratio * static_cast<double>(*limit)));
    const std::string line =
        absl::StrCat(s.fd, " ", usage_fd, " ", bytes, "\n");
    if (write(control_fd, line.data(), line.size()) < 0) {
      unavailable_[s.name] =
          absl::StrCat(dir, "/cgroup.event_control: \"", line,
                       "\" refused: ", ErrorText(errno));
      thresholds_bytes_.clear();
      CloseFd(s.fd);
      CloseFd(usage_fd);
      return;
    }
    thresholds_bytes_.push_back(bytes);
  }
  Add(std::move(s));
}

void MemoryEvents::ArmV1Event(const std::string& dir, int control_fd,
                              const std::string& name, const char* file,
                              const char* args) {
  Source s;
  s.name = name;
  s.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const std::string path = absl::StrCat(dir, "/", file);
  const int target_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s.fd < 0 || target_fd < 0) {
    unavailable_[name] = absl::StrCat(path, ": ", ErrorText(errno));
    CloseFd(s.fd);
    CloseFd(target_fd);
    return;
  }
  s.keep.push_back(target_fd);
  const std::string line = absl::StrCat(s.fd, " ", target_fd, args, "\n");
  if (write(control_fd, line.data(), line.size()) < 0) {
    unavailable_[name] = absl::StrCat(dir, "/cgroup.event_control: \"", line,
                                      "\" refused: ", ErrorText(errno));
    CloseFd(s.fd);
    CloseFd(target_fd);
    return;
  }
  Add(std::move(s));
}

void MemoryEvents::ArmV2(const std::string& dir) {
  if (!options_.v2_events) {
    unavailable_["v2_events"] = "disabled";
    return;
  }
  Source s;
  s.name = "v2_events";
  s.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (s.fd < 0) {
    unavailable_[s.name] = absl::StrCat("inotify: ", ErrorText(errno));
    return;
  }
  std::vector<std::string> watched;
  std::string problems;
  for (const char* file : {"memory.events", "memory.events.local"}) {
    const std::string path = absl::StrCat(dir, "/", file);
    if (inotify_add_watch(s.fd, path.c_str(), IN_MODIFY) >= 0) {
      watched.push_back(file);
    } else {
      absl::StrAppend(&problems, problems.empty() ? "" : "; ", path, ": ",
                      ErrorText(errno));
    }
  }
  if (watched.empty()) {
    unavailable_[s.name] = problems;
    CloseFd(s.fd);
    return;
  }
  Add(std::move(s));
}

void MemoryEvents::ArmPsi(const std::string& path, absl::string_view resource) {
  Source s;
  s.name = "psi_trigger";
  s.fd = internal::ArmPsiTrigger(
      options_.psi_trigger, path, resource, options_.trigger_stall,
      options_.trigger_window, &unavailable_[s.name]);
  if (s.fd < 0) return;
  unavailable_.erase(s.name);
  Add(std::move(s));
}

std::function<void(std::map<std::string, std::string>*)>
MemoryEvents::DetailsAdder() const {
  std::string armed = absl::StrJoin(armed_, ",");
  std::string unavailable;
  for (const auto& [name, why] : unavailable_) {
    absl::StrAppend(&unavailable, unavailable.empty() ? "" : "; ", name, ": ",
                    why);
  }
  return [armed = std::move(armed), unavailable = std::move(unavailable),
          shared = shared_](std::map<std::string, std::string>* d) {
    if (armed.empty()) {
      (*d)["events"] = "none (polling only)";
    } else if (!shared->running.load()) {
      (*d)["events"] = "none (polling only: events not started)";
    } else {
      (*d)["events"] = armed;
    }
    if (!unavailable.empty()) (*d)["events_unavailable"] = unavailable;
    (*d)["event_wakeups"] = absl::StrCat(shared->events.load());
  };
}

int MemoryEvents::NextTimeoutMs() const {
  if (pending_call_ == absl::InfiniteFuture()) return -1;
  const absl::Duration d = pending_call_ - clock_->Now();
  if (d <= absl::ZeroDuration()) return 0;
  // Round up: waking early would only loop once more.
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(d + absl::Microseconds(999)), 60 * 1000));
}

int MemoryEvents::Step(int timeout_ms) {
  epoll_event ready[8];
  const int n = epoll_wait(epoll_fd_, ready, 8, timeout_ms);
  int taken = 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = ready[i].data.u64;
    if (tag == kWakeTag) continue;  // Stop(): the loop checks stop_.
    Source& s = sources_[tag];
    if (ready[i].events & (EPOLLERR | EPOLLHUP)) {
      // The cgroup went away (PSI trigger): stop watching this source.
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
    }
    if (s.name != "psi_trigger") Drain(s.fd);
    ++taken;
  }
  const absl::Time now = clock_->Now();
  if (taken > 0) {
    shared_->events.fetch_add(taken);
    follow_up_until_ = now + options_.follow_up_for;
    pending_call_ = std::min(pending_call_, last_call_ + options_.min_spacing);
  }
  if (pending_call_ <= now) {
    last_call_ = now;
    calls_.fetch_add(1);
    options_.on_event();
    const absl::Time next = now + options_.follow_up_interval;
    pending_call_ = next <= follow_up_until_ ? next : absl::InfiniteFuture();
  }
  return taken;
}

void MemoryEvents::Start() {
  MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  shared_->running.store(true);
  thread_ = std::thread([this] { Loop(); });
}

void MemoryEvents::Stop() {
  std::thread t;
  {
    MutexLock lock(&mu_);
    if (!running_) return;
    stop_ = true;
    running_ = false;
    t = std::move(thread_);
  }
  shared_->running.store(false);
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  t.join();
  Drain(wake_fd_);
}

void MemoryEvents::Loop() {
  while (true) {
    Step(NextTimeoutMs());
    MutexLock lock(&mu_);
    if (stop_) return;
  }
}

absl::StatusOr<MemoryCheckWithEvents> MakeMemoryCheckWithEvents(
    HealthRegistry* registry, MemoryOptions memory,
    MemoryEventsOptions events) {
  MemoryCheckWithEvents out;
  absl::StatusOr<Check> check = MemoryCheck(std::move(memory), &out.detector);
  if (!check.ok()) return check.status();
  const std::string name = check->name;
  events.on_event = [registry, name] { (void)registry->RunNow(name); };
  absl::StatusOr<std::unique_ptr<MemoryEvents>> e =
      MemoryEvents::Create(*out.detector, std::move(events));
  if (!e.ok()) return e.status();
  out.events = *std::move(e);
  out.check = *std::move(check);
  out.check.function = [d = out.detector,
                        add = out.events->DetailsAdder()](const CheckContext&) {
    CheckResult r = d->Run();
    add(&r.details);
    return r;
  };
  return out;
}

absl::StatusOr<std::unique_ptr<MemoryEvents>> RegisterMemoryCheck(
    HealthRegistry* registry, MemoryOptions memory, MemoryEventsOptions events,
    std::shared_ptr<MemoryDetector>* detector) {
  absl::StatusOr<MemoryCheckWithEvents> m =
      MakeMemoryCheckWithEvents(registry, std::move(memory), std::move(events));
  if (!m.ok()) return m.status();
  if (absl::Status s = registry->Register(std::move(m->check)); !s.ok()) {
    return s;
  }
  if (detector != nullptr) *detector = m->detector;
  m->events->Start();
  return std::move(m->events);
}

namespace {

// `check` (of `detector`) with the details of PSI events that re-run it in
// `registry` by name.
template <typename Detector>
absl::StatusOr<CheckWithEvents> WithPsiEvents(
    HealthRegistry* registry, absl::StatusOr<Check> check,
    std::shared_ptr<Detector> detector, absl::string_view resource,
    MemoryEventsOptions events) {
  if (!check.ok()) return check.status();
  const std::string name = check->name;
  events.on_event = [registry, name] { (void)registry->RunNow(name); };
  absl::StatusOr<std::unique_ptr<MemoryEvents>> e = MemoryEvents::CreateForPsi(
      resource, detector->PsiPath(), std::move(events));
  if (!e.ok()) return e.status();
  CheckWithEvents out;
  out.events = *std::move(e);
  out.check = *std::move(check);
  out.check.function = [detector,
                        add = out.events->DetailsAdder()](const CheckContext&) {
    CheckResult r = detector->Run();
    add(&r.details);
    return r;
  };
  return out;
}

absl::StatusOr<std::unique_ptr<MemoryEvents>> RegisterAndStart(
    HealthRegistry* registry, absl::StatusOr<CheckWithEvents> c) {
  if (!c.ok()) return c.status();
  if (absl::Status s = registry->Register(std::move(c->check)); !s.ok()) {
    return s;
  }
  c->events->Start();
  return std::move(c->events);
}

}  // namespace

MemoryEventsOptions MemoryEventsOptions::ForPsi() {
  MemoryEventsOptions o;
  o.follow_up_interval = absl::Seconds(2);
  o.follow_up_for = absl::Seconds(10);
  return o;
}

absl::StatusOr<CheckWithEvents> MakeIoCheckWithEvents(
    HealthRegistry* registry, IoOptions io, MemoryEventsOptions events,
    std::shared_ptr<IoDetector>* detector) {
  std::shared_ptr<IoDetector> d;
  absl::StatusOr<Check> check = IoCheck(std::move(io), &d);
  if (detector != nullptr) *detector = d;
  return WithPsiEvents(registry, std::move(check), std::move(d), "io",
                       std::move(events));
}

absl::StatusOr<CheckWithEvents> MakeCpuCheckWithEvents(
    HealthRegistry* registry, CpuOptions cpu, MemoryEventsOptions events,
    std::shared_ptr<CpuDetector>* detector) {
  std::shared_ptr<CpuDetector> d;
  absl::StatusOr<Check> check = CpuCheck(std::move(cpu), &d);
  if (detector != nullptr) *detector = d;
  return WithPsiEvents(registry, std::move(check), std::move(d), "cpu",
                       std::move(events));
}

absl::StatusOr<std::unique_ptr<MemoryEvents>> RegisterIoCheck(
    HealthRegistry* registry, IoOptions io, MemoryEventsOptions events,
    std::shared_ptr<IoDetector>* detector) {
  return RegisterAndStart(registry,
                          MakeIoCheckWithEvents(registry, std::move(io),
                                                std::move(events), detector));
}

absl::StatusOr<std::unique_ptr<MemoryEvents>> RegisterCpuCheck(
    HealthRegistry* registry, CpuOptions cpu, MemoryEventsOptions events,
    std::shared_ptr<CpuDetector>* detector) {
  return RegisterAndStart(registry,
                          MakeCpuCheckWithEvents(registry, std::move(cpu),
                                                 std::move(events), detector));
}

}  // namespace pressure
}  // namespace vigil
