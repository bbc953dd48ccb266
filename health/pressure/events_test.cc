#include "health/pressure/events.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "health/pressure/testing/test_util.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"
#include "health/testing/require.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace pressure {
namespace {

// "name: why; ..." of every unavailable source.
std::string Unavailable(const std::map<std::string, std::string>& u) {
  std::string out;
  for (const auto& [name, why] : u)
    absl::StrAppend(&out, name, ": ", why, "; ");
  return out;
}

using testing::CopyFixture;
using vigil::testing::ReadFile;
using vigil::testing::SetFile;
using vigil::testing::WaitFor;

constexpr double kMiB = 1024.0 * 1024.0;
const char kV1Cgroup[] = "/sys/fs/cgroup/memory/docker/abc";
const char kV2Cgroup[] = "/sys/fs/cgroup/system.slice/app.service";

class EventsTest : public ::testing::Test {
 protected:
  std::unique_ptr<MemoryDetector> Detector(const std::string& root) {
    MemoryOptions o;
    o.source.root = root;
    o.clock = &clock_;
    absl::StatusOr<std::unique_ptr<MemoryDetector>> d =
        MemoryDetector::Create(std::move(o));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }
  MemoryEventsOptions Options() {
    MemoryEventsOptions o;
    o.clock = &clock_;
    o.on_event = [this] { ++calls_; };
    o.fixture_files_for_test = true;  // The copies' v1 knobs take writes.
    return o;
  }
  std::unique_ptr<MemoryEvents> Events(const MemoryDetector& d,
                                       MemoryEventsOptions o) {
    absl::StatusOr<std::unique_ptr<MemoryEvents>> e =
        MemoryEvents::Create(d, std::move(o));
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : nullptr;
  }
  static std::string Unavailable(const MemoryEvents& e,
                                 const std::string& name) {
    auto it = e.unavailable().find(name);
    return it == e.unavailable().end() ? "<armed>" : it->second;
  }
  // The lines "<eventfd> <fd> <args>" registered in a fixture's
  // cgroup.event_control (a regular file keeps what was written).
  std::vector<std::vector<std::string>> Registrations(const std::string& dir) {
    std::vector<std::vector<std::string>> out;
    for (absl::string_view line :
         absl::StrSplit(ReadFile(dir + "/cgroup.event_control").value_or(""),
                        '\n', absl::SkipEmpty())) {
      out.push_back(absl::StrSplit(line, ' '));
    }
    return out;
  }
  // What the kernel does when a notification fires: signal the eventfd.
  static void Signal(const std::string& fd_text) {
    int fd = -1;
    ASSERT_TRUE(absl::SimpleAtoi(fd_text, &fd));
    const uint64_t one = 1;
    ASSERT_EQ(write(fd, &one, sizeof(one)), 8);
  }

  vigil::testing::FakeClock clock_;
  int calls_ = 0;
};

TEST_F(EventsTest, V1ThresholdsAtRatiosOfTheEffectiveLimit) {
  const std::string root = CopyFixture("v1");
  auto d = Detector(root);
  auto e = Events(*d, Options());
  EXPECT_EQ(e->armed(), (std::vector<std::string>{
                            "v1_thresholds", "v1_pressure_level", "v1_oom"}));
  // hierarchical_memory_limit 256 MiB: 25%, 30%, ... 95% of it.
  ASSERT_EQ(e->v1_thresholds_bytes().size(), 15u);
  EXPECT_EQ(e->v1_thresholds_bytes().front(), uint64_t{64 << 20});
  EXPECT_EQ(e->v1_thresholds_bytes().back(),
            static_cast<uint64_t>(0.95 * 256 * kMiB + 0.5));
  const auto regs = Registrations(root + kV1Cgroup);
  ASSERT_EQ(regs.size(), 17u);
  EXPECT_EQ(regs[0][2], "67108864");
  EXPECT_EQ(regs[15][2], "low");   // vmpressure level.
  EXPECT_EQ(regs[16].size(), 2u);  // OOM notification: no argument.
  // The thresholds share one eventfd; each source has its own.
  EXPECT_EQ(regs[0][0], regs[14][0]);
  EXPECT_NE(regs[0][0], regs[15][0]);
  EXPECT_NE(regs[15][0], regs[16][0]);
  EXPECT_EQ(Unavailable(*e, "v2_events"), "not a cgroup v2 memory cgroup");
  EXPECT_TRUE(absl::StrContains(Unavailable(*e, "psi_trigger"),
                                "not a kernel PSI file"))
      << Unavailable(*e, "psi_trigger");
}

TEST_F(EventsTest, EachV1SourceWakesTheCheckAtOnce) {
  const std::string root = CopyFixture("v1");
  auto d = Detector(root);
  MemoryEventsOptions o = Options();
  o.follow_up_for = absl::ZeroDuration();
  auto e = Events(*d, o);
  const auto regs = Registrations(root + kV1Cgroup);
  ASSERT_EQ(regs.size(), 17u);
  EXPECT_EQ(e->PollOnceForTest(), 0);  // Nothing pending: no call.
  EXPECT_EQ(calls_, 0);
  int expected = 0;
  for (size_t i : {size_t{0}, size_t{15}, size_t{16}}) {
    clock_.Advance(absl::Seconds(1));
    Signal(regs[i][0]);
    EXPECT_EQ(e->PollOnceForTest(), 1) << i;
    EXPECT_EQ(calls_, ++expected) << i;
  }
  EXPECT_EQ(e->event_count(), 3);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(e->PollOnceForTest(), 0);  // No follow-ups configured.
  EXPECT_EQ(calls_, 3);
}

TEST_F(EventsTest, FollowUpsEvery250msFor5sAfterTheLastEvent) {
  const std::string root = CopyFixture("v1");
  auto d = Detector(root);
  auto e = Events(*d, Options());
  const std::string efd = Registrations(root + kV1Cgroup)[0][0];
  Signal(efd);
  e->PollOnceForTest();
  EXPECT_EQ(calls_, 1);
  clock_.Advance(absl::Milliseconds(249));
  e->PollOnceForTest();
  EXPECT_EQ(calls_, 1);  // 1 ms shy.
  clock_.Advance(absl::Milliseconds(1));
  e->PollOnceForTest();
  EXPECT_EQ(calls_, 2);
  // Up to 5 s after the event: calls at 0.25 s steps through 5.0 s.
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Milliseconds(250));
    e->PollOnceForTest();
  }
  EXPECT_EQ(calls_, 21);
  EXPECT_EQ(e->call_count(), 21);
  EXPECT_EQ(e->event_count(), 1);
}

TEST_F(EventsTest, BurstsWithinMinSpacingFoldIntoOneLaterCall) {
  const std::string root = CopyFixture("v1");
  auto d = Detector(root);
  MemoryEventsOptions o = Options();
  o.follow_up_for = absl::ZeroDuration();
  auto e = Events(*d, o);
  const std::string efd = Registrations(root + kV1Cgroup)[0][0];
  Signal(efd);
  e->PollOnceForTest();
  EXPECT_EQ(calls_, 1);
  for (int i = 0; i < 4; ++i) {  // Four crossings within 40 ms.
    clock_.Advance(absl::Milliseconds(10));
    Signal(efd);
    e->PollOnceForTest();
  }
  EXPECT_EQ(calls_, 1);
  clock_.Advance(absl::Milliseconds(9));  // 49 ms after the call.
  e->PollOnceForTest();
  EXPECT_EQ(calls_, 1);
  clock_.Advance(absl::Milliseconds(1));
  e->PollOnceForTest();
  EXPECT_EQ(calls_, 2);
  clock_.Advance(absl::Seconds(1));
  e->PollOnceForTest();
  EXPECT_EQ(calls_, 2);
}

TEST_F(EventsTest, V2MemoryEventsChangeWakesTheCheck) {
  const std::string root = CopyFixture("v2");
  auto d = Detector(root);
  MemoryEventsOptions o = Options();
  o.follow_up_for = absl::ZeroDuration();
  auto e = Events(*d, o);
  EXPECT_EQ(e->armed(), std::vector<std::string>{"v2_events"});
  EXPECT_EQ(Unavailable(*e, "v1_thresholds"), "not a cgroup v1 memory cgroup");
  EXPECT_EQ(e->PollOnceForTest(), 0);
  // memory.high crossed: the kernel bumps "high" and notifies the file.
  SetFile(root, std::string(kV2Cgroup) + "/memory.events",
          "low 0\nhigh 1\nmax 0\noom 2\noom_kill 1\n");
  EXPECT_GE(e->PollOnceForTest(), 1);
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(e->PollOnceForTest(), 0);  // Drained.
  EXPECT_EQ(calls_, 1);
}

TEST_F(EventsTest, MissingMechanismsFallBackToPollingAndSayWhy) {
  // The original v1 tree copied without its notification knobs.
  const std::string root = CopyFixture("v1");
  ASSERT_EQ(unlink((root + kV1Cgroup + "/cgroup.event_control").c_str()), 0);
  auto d = Detector(root);
  auto e = Events(*d, Options());
  EXPECT_FALSE(e->any_armed());
  EXPECT_TRUE(absl::StrContains(Unavailable(*e, "v1_thresholds"),
                                "cgroup.event_control: open for writing"))
      << Unavailable(*e, "v1_thresholds");
  std::map<std::string, std::string> details;
  e->AddDetails(&details);
  EXPECT_EQ(details["events"], "none (polling only)");
  EXPECT_TRUE(absl::StrContains(details["events_unavailable"], "psi_trigger"));
  EXPECT_EQ(details["event_wakeups"], "0");

  auto nopsi = Detector(CopyFixture("nopsi"));
  auto e2 = Events(*nopsi, Options());
  EXPECT_EQ(Unavailable(*e2, "psi_trigger"), "no memory PSI file");

  MemoryEventsOptions off = Options();
  off.v2_events = false;
  off.psi_trigger = false;
  auto v2 = Detector(CopyFixture("v2"));
  auto e3 = Events(*v2, off);
  EXPECT_FALSE(e3->any_armed());
  EXPECT_EQ(Unavailable(*e3, "v2_events"), "disabled");
  EXPECT_EQ(Unavailable(*e3, "psi_trigger"), "disabled");
}

TEST_F(EventsTest, NothingIsWrittenIntoNonKernelFilesByDefault) {
  const std::string root = CopyFixture("v1");
  auto d = Detector(root);
  MemoryEventsOptions o = Options();
  o.fixture_files_for_test = false;
  auto e = Events(*d, o);
  EXPECT_FALSE(e->any_armed());
  EXPECT_TRUE(absl::StrContains(Unavailable(*e, "v1_thresholds"),
                                "not a cgroup v1 filesystem"))
      << Unavailable(*e, "v1_thresholds");
  EXPECT_TRUE(Registrations(root + kV1Cgroup).empty());
}

TEST_F(EventsTest, OptionsAreValidated) {
  auto d = Detector(CopyFixture("v2"));
  MemoryEventsOptions o = Options();
  o.on_event = nullptr;
  EXPECT_EQ(MemoryEvents::Create(*d, o).status().message(),
            "memory_events.on_event: required");
  o = Options();
  o.v1_threshold_ratios = {0.5, 1.0};
  EXPECT_TRUE(absl::StrContains(MemoryEvents::Create(*d, o).status().message(),
                                "v1_threshold_ratios"));
  o = Options();
  o.follow_up_interval = absl::ZeroDuration();
  EXPECT_TRUE(absl::StrContains(MemoryEvents::Create(*d, o).status().message(),
                                "follow_up_interval"));
}

// The whole path on a v2 fixture: a change of memory.events re-runs the
// registered check through RunNow, and its details say which sources live.
TEST_F(EventsTest, RegisteredCheckReRunsOnAnEventAndReportsItsSources) {
  const std::string root = CopyFixture("v2");
  RegistryOptions ro;
  ro.clock = &clock_;
  HealthRegistry registry(ro);
  MemoryOptions mo;
  mo.source.root = root;
  mo.clock = &clock_;
  MemoryEventsOptions eo;
  eo.clock = &clock_;
  eo.follow_up_for = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<MemoryEvents>> e =
      RegisterMemoryCheck(&registry, mo, eo);
  ASSERT_TRUE(e.ok()) << e.status();
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  auto run_count = [&] {
    return registry.snapshot()->FindCheck("memory")->run_count;
  };
  EXPECT_EQ(run_count(), 1u);
  const CheckSnapshot* c = registry.snapshot()->FindCheck("memory");
  EXPECT_EQ(c->result.details.at("events"), "v2_events");
  EXPECT_TRUE(absl::StrContains(c->result.details.at("events_unavailable"),
                                "v1_thresholds: not a cgroup v1"));
  // Without an event nothing is due at this instant.
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  EXPECT_EQ(run_count(), 1u);
  SetFile(root, std::string(kV2Cgroup) + "/memory.events",
          "low 0\nhigh 7\nmax 0\noom 2\noom_kill 1\n");
  ASSERT_TRUE(
      WaitFor([&] { return (*e)->call_count() >= 1; }, absl::Seconds(10)));
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  EXPECT_EQ(run_count(), 2u);
  // SetFile truncates then writes: one or two notifications, one rerun.
  EXPECT_NE(registry.snapshot()->FindCheck("memory")->result.details.at(
                "event_wakeups"),
            "0");
  e->reset();  // Before the registry, as documented.
}

// IO and CPU on a fixture tree: the PSI trigger is never written into a
// regular file; the checks poll and say so.
TEST_F(EventsTest, IoAndCpuChecksFallBackToPollingOnFixturesAndSayWhy) {
  const std::string root = CopyFixture("v2");
  RegistryOptions ro;
  ro.clock = &clock_;
  HealthRegistry registry(ro);
  IoOptions io;
  io.source.root = root;
  io.clock = &clock_;
  CpuOptions cpu;
  cpu.source.root = root;
  cpu.clock = &clock_;
  MemoryEventsOptions eo = MemoryEventsOptions::ForPsi();
  eo.clock = &clock_;
  auto io_events = RegisterIoCheck(&registry, io, eo);
  ASSERT_TRUE(io_events.ok()) << io_events.status();
  auto cpu_events = RegisterCpuCheck(&registry, cpu, eo);
  ASSERT_TRUE(cpu_events.ok()) << cpu_events.status();
  EXPECT_FALSE((*io_events)->any_armed());
  EXPECT_TRUE(absl::StrContains(Unavailable(**io_events, "psi_trigger"),
                                "io.pressure: not a kernel PSI file"))
      << Unavailable(**io_events, "psi_trigger");
  EXPECT_EQ((*io_events)->unavailable().size(), 1u);  // Only PSI applies.
  registry.RunOnceForTest();
  ASSERT_TRUE(registry.WaitUntilIdleForTest());
  const std::shared_ptr<const Snapshot> snapshot = registry.snapshot();
  for (const char* name : {"io", "cpu"}) {
    const CheckSnapshot* c = snapshot->FindCheck(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->result.details.at("events"), "none (polling only)") << name;
    EXPECT_TRUE(absl::StrContains(c->result.details.at("events_unavailable"),
                                  "psi_trigger: "))
        << name;
  }
  io_events->reset();
  cpu_events->reset();
}

// For real: a CPU PSI trigger on /proc/pressure/cpu (or the cgroup's
// cpu.pressure) re-runs the CPU check between its intervals when the test
// makes the CPU contended (more busy threads than cores, bounded at 20 s).
TEST(PsiEventsTest, CpuTriggerReRunsTheCpuCheckOnRealStall) {
  VIGIL_REQUIRE_OR_SKIP(access("/proc/pressure/cpu", R_OK) == 0,
                        "no PSI on this kernel");
  HealthRegistry registry;
  CpuOptions cpu;
  cpu.check.interval = absl::Hours(1);  // Only events re-run it.
  cpu.check.initial_delay = absl::ZeroDuration();
  MemoryEventsOptions eo = MemoryEventsOptions::ForPsi();
  eo.follow_up_for = absl::ZeroDuration();
  auto events = RegisterCpuCheck(&registry, cpu, eo);
  ASSERT_TRUE(events.ok()) << events.status();
  VIGIL_REQUIRE_OR_SKIP((*events)->any_armed(),
                        Unavailable((*events)->unavailable()));
  registry.Start();
  auto run_count = [&]() -> uint64_t {
    const std::shared_ptr<const Snapshot> snapshot = registry.snapshot();
    const CheckSnapshot* c = snapshot->FindCheck("cpu");
    return c == nullptr ? 0 : c->run_count;
  };
  ASSERT_TRUE(WaitFor([&] { return run_count() >= 1; }, absl::Seconds(10)));
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  const absl::Time until = absl::Now() + absl::Seconds(20);
  const unsigned n = 2 * std::max(1u, std::thread::hardware_concurrency()) + 1;
  for (unsigned i = 0; i < n; ++i) {
    busy.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed) && absl::Now() < until) {
      }
    });
  }
  const bool woke =
      WaitFor([&] { return (*events)->call_count() >= 1 && run_count() >= 2; },
              absl::Seconds(20));
  stop = true;
  for (std::thread& t : busy) t.join();
  ASSERT_TRUE(woke) << "event wakeups " << (*events)->event_count() << ", runs "
                    << run_count();
  const std::shared_ptr<const Snapshot> snapshot = registry.snapshot();
  const CheckSnapshot* c = snapshot->FindCheck("cpu");
  EXPECT_EQ(c->result.details.at("events"), "psi_trigger");
  EXPECT_NE(c->result.details.at("event_wakeups"), "0");
  registry.Stop();
  events->reset();
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
