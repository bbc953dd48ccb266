#include "health/pressure/defaults.h"

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace vigil {
namespace pressure {
namespace {

template <typename Options>
Options Prepare(Options o, const DefaultDetectorOptions& d) {
  o.clock = d.clock;
  if (!d.groups.empty()) o.check.groups = d.groups;
  return o;
}

template <typename Options>
Options PrepareWithSource(Options o, const DefaultDetectorOptions& d) {
  o = Prepare(std::move(o), d);
  o.source = d.source;
  return o;
}

}  // namespace

absl::Status RegisterDefaultDetectors(HealthRegistry& registry,
                                      const DefaultDetectorOptions& options,
                                      DefaultDetectors* out) {
  DefaultDetectors result;
  std::vector<Check> checks;

  if (options.enable_memory && options.enable_memory_events) {
    MemoryEventsOptions events = options.memory_events;
    events.clock = options.clock;
    absl::StatusOr<MemoryCheckWithEvents> m = MakeMemoryCheckWithEvents(
        &registry, PrepareWithSource(options.memory, options), events);
    if (!m.ok()) return m.status();
    result.memory = m->detector;
    result.memory_events = std::move(m->events);
    checks.push_back(std::move(m->check));
  } else if (options.enable_memory) {
    absl::StatusOr<Check> c =
        MemoryCheck(PrepareWithSource(options.memory, options), &result.memory);
    if (!c.ok()) return c.status();
    checks.push_back(*std::move(c));
  }
  MemoryEventsOptions psi_events = options.psi_events;
  psi_events.clock = options.clock;
  if (options.enable_cpu) {
    absl::StatusOr<Check> c = absl::UnknownError("unset");
    if (options.enable_psi_events) {
      absl::StatusOr<CheckWithEvents> e = MakeCpuCheckWithEvents(
          &registry, PrepareWithSource(options.cpu, options), psi_events,
          &result.cpu);
      if (e.ok()) {
        result.cpu_events = std::move(e->events);
        c = std::move(e->check);
      } else {
        c = e.status();
      }
    } else {
      c = CpuCheck(PrepareWithSource(options.cpu, options), &result.cpu);
    }
    if (absl::IsFailedPrecondition(c.status())) {
      result.skipped.emplace_back(c.status().message());
    } else if (!c.ok()) {
      return c.status();
    } else {
      checks.push_back(*std::move(c));
    }
  }
  if (options.enable_io) {
    absl::StatusOr<Check> c = absl::UnknownError("unset");
    if (options.enable_psi_events) {
      absl::StatusOr<CheckWithEvents> e = MakeIoCheckWithEvents(
          &registry, PrepareWithSource(options.io, options), psi_events,
          &result.io);
      if (e.ok()) {
        result.io_events = std::move(e->events);
        c = std::move(e->check);
      } else {
        c = e.status();
      }
    } else {
      c = IoCheck(PrepareWithSource(options.io, options), &result.io);
    }
    if (absl::IsFailedPrecondition(c.status())) {
      result.skipped.emplace_back(c.status().message());
    } else if (!c.ok()) {
      return c.status();
    } else {
      checks.push_back(*std::move(c));
    }
  }
  for (const std::string& path : options.disk_paths) {
    DiskOptions o = Prepare(options.disk, options);
    o.path = path;
    o.name.clear();
    std::shared_ptr<DiskDetector> detector;
    absl::StatusOr<Check> c = DiskCheck(std::move(o), &detector);
    if (!c.ok()) return c.status();
    result.disks.push_back(std::move(detector));
    checks.push_back(*std::move(c));
  }
  if (options.enable_fds) {
    absl::StatusOr<Check> c =
        FdCheck(PrepareWithSource(options.fds, options), &result.fds);
    if (!c.ok()) return c.status();
    checks.push_back(*std::move(c));
  }
  if (options.enable_tasks) {
    absl::StatusOr<Check> c =
        TasksCheck(PrepareWithSource(options.tasks, options), &result.tasks);
    if (!c.ok()) return c.status();
    checks.push_back(*std::move(c));
  }

  std::vector<std::string> done;
  for (Check& c : checks) {
    std::string name = c.name;
    if (absl::Status s = registry.Register(std::move(c)); !s.ok()) {
      for (const std::string& n : done) registry.Unregister(n).IgnoreError();
      return s;
    }
    done.push_back(std::move(name));
  }
  std::sort(done.begin(), done.end());
  result.registered = std::move(done);
  for (MemoryEvents* e : {result.memory_events.get(), result.cpu_events.get(),
                          result.io_events.get()}) {
    if (e != nullptr) e->Start();
  }
  if (out != nullptr) *out = std::move(result);
  return absl::OkStatus();
}

}  // namespace pressure
}  // namespace vigil
