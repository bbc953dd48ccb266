#include "watchdog/watchdog.h"

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"
#include "health/testing/wait_for.h"
#include "watchdog/internal/procfs.h"
#include "watchdog/internal/stack_capture.h"

namespace vigil {
namespace {

// The scheduler state letter of thread `tid` of this process ('R', 'S',
// 'D', 'T', ...), from /proc/self/task/<tid>/stat; '?' if unreadable.
char ThreadState(pid_t tid) {
  std::ifstream f(absl::StrCat("/proc/self/task/", tid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(f)),
                   std::istreambuf_iterator<char>());
  // "tid (comm) S ...": comm may contain spaces and parentheses.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return '?';
  return stat[close + 2];
}

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Kind = WatchdogEvent::Kind;

constexpr absl::Duration kMs = absl::Milliseconds(1);

// /proc/self/mountinfo of the cgroup layouts: the sampler finds the
// hierarchies where these say they are mounted (as the pressure detectors
// do), never by guessing.
constexpr char kV2Mounts[] =
    "22 28 0:21 / /proc rw - proc proc rw\n"
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
constexpr char kHybridMounts[] =
    "22 28 0:21 / /proc rw - proc proc rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

// A throwaway /proc + /sys tree under TEST_TMPDIR.
class Fixture {
 public:
  Fixture() {
    static int n = 0;
    root_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/root", ++n);
    Write("proc/self/status", "Name:\tx\nTracerPid:\t0\nThreads:\t1\n");
  }
  void Write(const std::string& rel, const std::string& text) {
    const std::string path = absl::StrCat(root_, "/", rel);
    for (size_t i = 1; i < path.size(); ++i) {
      if (path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
    }
    std::ofstream(path) << text;
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

class WatchdogTest : public ::testing::Test {
 public:
  static HeartbeatOptions Stages(absl::Duration miss, absl::Duration long_miss,
                                 absl::Duration kill) {
    HeartbeatOptions h;
    h.miss_after = miss;
    h.long_miss_after = long_miss;
    h.kill_after = kill;
    return h;
  }

 protected:
  WatchdogOptions Options() {
    WatchdogOptions o;
    o.clock = &clock_;
    o.start_thread = false;
    o.tick = absl::Milliseconds(100);
    o.root = fixture_.root();
    o.log_to_stderr = false;
    o.capture_stacks = false;
    return o;
  }

  void Start(WatchdogOptions o) {
    watchdog_ = std::make_unique<Watchdog>(std::move(o));
    ASSERT_TRUE(watchdog_->status().ok()) << watchdog_->status();
    watchdog_->AddListener([this](const WatchdogEvent& e) {
      MutexLock lock(&mu_);
      events_.push_back(e);
    });
    t0_ = clock_.Now();
    next_ = watchdog_->RunOnceForTest();
  }

  // A heartbeat "worker" on this thread: miss 1 s, long miss 2 s, kill 3 s.
  Heartbeat Worker() {
    return watchdog_
        ->Register("worker",
                   Stages(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3)))
        .value();
  }

  // Starts the watchdog with one worker that never beats, steps past its
  // first miss at 1 s (where the starvation baseline is sampled), runs
  // `meanwhile` (which changes the fixture's counters), then steps past the
  // kill threshold at 3 s. Returns the worker's heartbeat.
  Heartbeat HangPastTheKill(const std::function<void()>& meanwhile) {
    Start(Options());
    Heartbeat hb = Worker();
    StepTo(t0_ + absl::Seconds(1) + kMs);
    meanwhile();
    StepTo(t0_ + absl::Seconds(3) + kMs);
    return hb;
  }

  // Runs every monitor step due up to `target` on time, then one at
  // `target` itself, as a punctual monitor thread would.
  void StepTo(absl::Time target) {
    while (next_ <= target) {
      clock_.SetNow(next_);
      next_ = watchdog_->RunOnceForTest();
    }
    clock_.SetNow(target);
    next_ = watchdog_->RunOnceForTest();
  }
  void StepBy(absl::Duration d) { StepTo(clock_.Now() + d); }

  std::vector<Kind> Kinds() {
    MutexLock lock(&mu_);
    std::vector<Kind> k;
    for (const auto& e : events_) k.push_back(e.kind);
    return k;
  }
  std::vector<WatchdogEvent> Events() {
    MutexLock lock(&mu_);
    return events_;
  }
  WatchdogEvent Last() {
    MutexLock lock(&mu_);
    return events_.back();
  }

  Fixture fixture_;
  testing::FakeClock clock_;
  std::unique_ptr<Watchdog> watchdog_;
  absl::Time t0_;
  absl::Time next_;
  Mutex mu_;
  std::vector<WatchdogEvent> events_ ABSL_GUARDED_BY(mu_);
};

TEST_F(WatchdogTest, InvalidOptionsAreReportedNamingTheField) {
  WatchdogOptions o = Options();
  o.tick = absl::ZeroDuration();
  Watchdog w(o);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("tick"));
  EXPECT_EQ(w.Register("x").status(), w.status());

  o = Options();
  o.kill_jitter = -kMs;
  EXPECT_THAT(Watchdog(o).status().message(), HasSubstr("kill_jitter"));
}

TEST_F(WatchdogTest, InvalidHeartbeatOptionsAreRejected) {
  Start(Options());
  EXPECT_THAT(watchdog_->Register("").status().message(), HasSubstr("name"));
  EXPECT_THAT(
      watchdog_->Register("a", Stages(-kMs, kMs, kMs)).status().message(),
      HasSubstr("miss_after"));
  EXPECT_THAT(watchdog_->Register("a", Stages(2 * kMs, kMs, 3 * kMs))
                  .status()
                  .message(),
              HasSubstr("long_miss_after"));
  EXPECT_THAT(watchdog_->Register("a", Stages(kMs, 3 * kMs, 2 * kMs))
                  .status()
                  .message(),
              HasSubstr("kill_after"));
  EXPECT_THAT(watchdog_->Statuses(), IsEmpty());
}

TEST_F(WatchdogTest, EachStageFiresExactlyAtItsBoundary) {
  Start(Options());
  Heartbeat hb = Worker();
  StepTo(t0_ + absl::Seconds(1) - kMs);
  EXPECT_THAT(Kinds(), IsEmpty());
  StepTo(t0_ + absl::Seconds(1) + kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
  EXPECT_EQ(Last().heartbeat, "worker");
  EXPECT_GE(Last().silent_for, absl::Seconds(1));
  EXPECT_EQ(Last().threshold, absl::Seconds(1));

  StepTo(t0_ + absl::Seconds(2) - kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
  StepTo(t0_ + absl::Seconds(2) + kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss, Kind::kLongMiss));
  EXPECT_EQ(Last().stack_error, "stack capture disabled");

  StepTo(t0_ + absl::Seconds(3) - kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss, Kind::kLongMiss));
  EXPECT_THAT(watchdog_->Hung(), IsEmpty());
  StepTo(t0_ + absl::Seconds(3) + kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss, Kind::kLongMiss, Kind::kKill));
  EXPECT_EQ(Last().action, KillAction::kNone);
  ASSERT_EQ(watchdog_->Hung().size(), 1u);
  EXPECT_EQ(watchdog_->Hung()[0].name, "worker");

  // One alert per stage per episode: more silence adds nothing.
  StepBy(absl::Seconds(30));
  EXPECT_EQ(Kinds().size(), 3u);
  const WatchdogCounters c = watchdog_->counters();
  EXPECT_EQ(c.misses, 1u);
  EXPECT_EQ(c.long_misses, 1u);
  EXPECT_EQ(c.kills, 1u);
  EXPECT_EQ(c.kills_suppressed, 0u);
  EXPECT_EQ(c.recoveries, 0u);
}

TEST_F(WatchdogTest, TheMonitorWakesWhenAThresholdFallsDue) {
  WatchdogOptions o = Options();
  o.tick = absl::Seconds(10);  // Much longer than the thresholds.
  Start(o);
  Heartbeat hb =
      watchdog_
          ->Register("w", Stages(absl::Milliseconds(300),
                                 absl::Milliseconds(700), absl::Seconds(1)))
          .value();
  // The next step is due at the miss threshold, not a tick later.
  EXPECT_EQ(watchdog_->RunOnceForTest(), t0_ + absl::Milliseconds(300));
}

TEST_F(WatchdogTest, ABeatSeenByTheMonitorRestartsTheSilence) {
  Start(Options());
  Heartbeat hb = Worker();
  StepTo(t0_ + absl::Milliseconds(500));
  hb.Beat();
  // The next tick (t0 + 600 ms) sees it: silence counts from there.
  const absl::Time seen = t0_ + absl::Milliseconds(600);
  StepTo(seen + absl::Seconds(1) - kMs);
  EXPECT_THAT(Kinds(), IsEmpty());
  StepTo(seen + absl::Seconds(1) + kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
}

TEST_F(WatchdogTest, RecoveryIsReportedOnceAndStartsANewEpisode) {
  Start(Options());
  Heartbeat hb = Worker();
  StepTo(t0_ + absl::Seconds(4));
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss, Kind::kLongMiss, Kind::kKill));
  hb.Beat();
  StepBy(absl::Milliseconds(100));
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss, Kind::kLongMiss, Kind::kKill,
                                   Kind::kRecovered));
  EXPECT_GE(Last().silent_for, absl::Seconds(4));
  EXPECT_THAT(watchdog_->Hung(), IsEmpty());
  EXPECT_EQ(watchdog_->Statuses()[0].stage, WatchdogStage::kOk);
  // Beating on: no more events.
  for (int i = 0; i < 20; ++i) {
    hb.Beat();
    StepBy(absl::Milliseconds(100));
  }
  EXPECT_EQ(Kinds().size(), 4u);
  // Silent again: a new episode, alerted again.
  StepBy(absl::Milliseconds(1100));
  EXPECT_EQ(Kinds().size(), 5u);
  EXPECT_EQ(Last().kind, Kind::kMiss);
}

TEST_F(WatchdogTest, HeartbeatsAreJudgedIndependently) {
  Start(Options());
  const HeartbeatOptions s =
      Stages(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3));
  Heartbeat a = watchdog_->Register("a", s).value();
  Heartbeat b = watchdog_->Register("b", s).value();
  for (int i = 0; i < 40; ++i) {
    b.Beat();
    StepBy(absl::Milliseconds(100));
  }
  for (const WatchdogEvent& e : Events()) EXPECT_EQ(e.heartbeat, "a");
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss, Kind::kLongMiss, Kind::kKill));
  std::vector<HeartbeatStatus> st = watchdog_->Statuses();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].stage, WatchdogStage::kKill);
  EXPECT_EQ(st[1].stage, WatchdogStage::kOk);
}

TEST_F(WatchdogTest, DestroyingAHeartbeatUnregistersIt) {
  Start(Options());
  {
    Heartbeat hb = watchdog_->Register("gone").value();
    EXPECT_EQ(watchdog_->Statuses().size(), 1u);
    Heartbeat moved = std::move(hb);
    EXPECT_TRUE(hb.empty());
    EXPECT_EQ(watchdog_->Statuses().size(), 1u);
  }
  EXPECT_THAT(watchdog_->Statuses(), IsEmpty());
  StepBy(absl::Minutes(1));
  EXPECT_THAT(Kinds(), IsEmpty());
  // Empty handles are harmless.
  Heartbeat empty;
  empty.Beat();
  empty.Pause();
  empty.Resume();
  WatchScope scope(empty, absl::Seconds(1));
}

// A scope left after its heartbeat was destroyed writes to state the scope
// itself keeps alive (ASan reports a use-after-free without that).
TEST_F(WatchdogTest, AWatchScopeMayOutliveItsHeartbeat) {
  Start(Options());
  auto hb = std::make_unique<Heartbeat>(Worker());
  {
    WatchScope scope(*hb, absl::Seconds(5), "op");
    StepBy(kMs);
    ASSERT_EQ(watchdog_->Statuses().size(), 1u);
    EXPECT_EQ(watchdog_->Statuses()[0].scope, "op");
    hb.reset();  // Unregisters while the scope is open.
    EXPECT_THAT(watchdog_->Statuses(), IsEmpty());
  }
  StepBy(absl::Minutes(1));
  EXPECT_THAT(watchdog_->Statuses(), IsEmpty());
  EXPECT_THAT(Kinds(), IsEmpty());
}

// Listeners run with no watchdog lock held: a listener can wait for another
// thread that runs a monitor step of its own (with tick_mu_ held during
// delivery, that step would block until the listener gave up).
TEST_F(WatchdogTest, ListenersRunWithNoWatchdogLockHeld) {
  Start(Options());
  Heartbeat hb = Worker();
  std::atomic<int> answered{-1};
  watchdog_->AddListener([&](const WatchdogEvent& e) {
    if (e.kind != Kind::kMiss || answered.load() != -1) return;
    Notification stepped;
    std::thread other([&] {
      watchdog_->RunOnceForTest();
      watchdog_->Statuses();
      watchdog_->Hung();
      stepped.Notify();
    });
    answered = stepped.WaitForNotificationWithTimeout(absl::Seconds(20));
    other.join();
  });
  StepTo(t0_ + absl::Seconds(1));
  EXPECT_EQ(answered.load(), 1);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
}

TEST_F(WatchdogTest, PausedHeartbeatsAreNotJudged) {
  Start(Options());
  Heartbeat hb = Worker();
  absl::Time resumed;
  {
    ScopedPause pause(hb);
    StepBy(absl::Milliseconds(100));
    EXPECT_TRUE(watchdog_->Statuses()[0].paused);
    {
      ScopedPause nested(hb);
      StepBy(absl::Minutes(5));
    }
    StepBy(absl::Minutes(5));
    EXPECT_THAT(Kinds(), IsEmpty());
    EXPECT_TRUE(watchdog_->Statuses()[0].paused);
  }
  // The tick that sees the resume starts the silence.
  StepBy(absl::Milliseconds(100));
  resumed = clock_.Now();
  EXPECT_FALSE(watchdog_->Statuses()[0].paused);
  StepTo(resumed + absl::Seconds(1) - kMs);
  EXPECT_THAT(Kinds(), IsEmpty());
  StepTo(resumed + absl::Seconds(1) + kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
}

TEST_F(WatchdogTest, PausingAStuckHeartbeatEndsItsEpisode) {
  Start(Options());
  Heartbeat hb = Worker();
  StepTo(t0_ + absl::Seconds(5));
  hb.Pause();
  StepBy(absl::Milliseconds(100));
  EXPECT_EQ(Last().kind, Kind::kRecovered);
  EXPECT_THAT(watchdog_->Hung(), IsEmpty());
  hb.Resume();
}

TEST_F(WatchdogTest, AWatchScopeGivesOneOperationItsOwnDeadline) {
  Start(Options());
  Heartbeat hb =
      watchdog_
          ->Register("worker", Stages(absl::Seconds(1), absl::Seconds(3),
                                      absl::Seconds(10)))
          .value();
  absl::Time start;
  {
    WatchScope scope(hb, absl::Seconds(5), "compaction");
    StepBy(absl::Milliseconds(100));  // The monitor sees the scope here.
    start = clock_.Now();
    EXPECT_EQ(watchdog_->Statuses()[0].scope, "compaction");
    EXPECT_EQ(watchdog_->Statuses()[0].miss_after, absl::Seconds(5));
    // Beats inside a scope do not extend it.
    hb.Beat();
    StepTo(start + absl::Seconds(5) - kMs);
    EXPECT_THAT(Kinds(), IsEmpty());
    StepTo(start + absl::Seconds(5) + kMs);
    EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
    EXPECT_EQ(Last().scope, "compaction");
    EXPECT_EQ(Last().threshold, absl::Seconds(5));
    // Thresholds scale with the scope: 3x and 10x the miss threshold.
    StepTo(start + absl::Seconds(15) - kMs);
    EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
    StepTo(start + absl::Seconds(15) + kMs);
    EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss, Kind::kLongMiss));
    StepTo(start + absl::Seconds(50) - kMs);
    EXPECT_EQ(Kinds().size(), 2u);
    StepTo(start + absl::Seconds(50) + kMs);
    EXPECT_THAT(Kinds(),
                ElementsAre(Kind::kMiss, Kind::kLongMiss, Kind::kKill));
  }
  // Leaving the scope counts as a beat.
  StepBy(absl::Milliseconds(100));
  EXPECT_EQ(Last().kind, Kind::kRecovered);
  EXPECT_EQ(watchdog_->Statuses()[0].scope, "");
  EXPECT_EQ(watchdog_->Statuses()[0].miss_after, absl::Seconds(1));
}

TEST_F(WatchdogTest, AShortScopeTightensTheDeadline) {
  Start(Options());
  Heartbeat hb =
      watchdog_
          ->Register("worker", Stages(absl::Seconds(10), absl::Seconds(20),
                                      absl::Seconds(30)))
          .value();
  WatchScope scope(hb, absl::Milliseconds(200), "rpc");
  StepBy(absl::Milliseconds(100));
  const absl::Time start = clock_.Now();
  StepTo(start + absl::Milliseconds(199));
  EXPECT_THAT(Kinds(), IsEmpty());
  StepTo(start + absl::Milliseconds(201));
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
}

TEST_F(WatchdogTest, AnOuterScopeKeepsCountingFromItsOwnStart) {
  Start(Options());
  Heartbeat hb =
      watchdog_
          ->Register("worker", Stages(absl::Seconds(1), absl::Seconds(2),
                                      absl::Seconds(4)))
          .value();
  WatchScope outer(hb, absl::Seconds(10), "request");
  StepBy(absl::Milliseconds(100));
  const absl::Time outer_start = clock_.Now();
  {
    WatchScope inner(hb, absl::Seconds(2), "db-query");
    StepBy(absl::Milliseconds(100));
    StepBy(absl::Seconds(1));
    EXPECT_EQ(watchdog_->Statuses()[0].scope, "db-query");
  }
  StepBy(absl::Milliseconds(100));
  EXPECT_EQ(watchdog_->Statuses()[0].scope, "request");
  StepTo(outer_start + absl::Seconds(10) - kMs);
  EXPECT_THAT(Kinds(), IsEmpty());
  StepTo(outer_start + absl::Seconds(10) + kMs);
  EXPECT_THAT(Kinds(), ElementsAre(Kind::kMiss));
  EXPECT_EQ(Last().scope, "request");
}

TEST_F(WatchdogTest, JitterDelaysTheKillWithinItsBound) {
  for (double u : {0.0, 0.5, 0.999999, 7.0, -3.0}) {
    SCOPED_TRACE(absl::StrCat("random ", u));
    events_.clear();
    WatchdogOptions o = Options();
    o.kill_jitter = absl::Seconds(1);
    int draws = 0;
    o.random = [u, &draws] {
      ++draws;
      return u;
    };
    Start(o);
    Heartbeat hb = Worker();
    const double clamped = std::min(std::max(u, 0.0), 0.999999);
    const absl::Duration kill_at =
        absl::Seconds(3) + absl::Seconds(1) * clamped;
    StepTo(t0_ + kill_at - kMs);
    EXPECT_EQ(Kinds().size(), 2u);
    // Never before kill_after, never after kill_after + jitter.
    StepTo(t0_ + std::min(kill_at + kMs, absl::Seconds(4)));
    EXPECT_EQ(Kinds().size(), 3u);
    EXPECT_EQ(Last().kind, Kind::kKill);
    EXPECT_EQ(draws, 1);  // Once per episode.
    hb = Heartbeat();
    watchdog_.reset();
  }
}

// The monitor itself woke late: the whole process was starved, so the kill
// is deferred (once reported), then happens on the next punctual tick.
TEST_F(WatchdogTest, AMonitorThatWokeLateDefersTheKill) {
  Start(Options());
  Heartbeat hb = Worker();
  StepTo(t0_ + absl::Milliseconds(500));
  // The step due at +600 ms runs at +5 s: 4.4 s late (> 50% of 1 s).
  clock_.SetNow(t0_ + absl::Seconds(5));
  next_ = watchdog_->RunOnceForTest();
  EXPECT_THAT(Kinds(),
              ElementsAre(Kind::kMiss, Kind::kLongMiss, Kind::kKillSuppressed));
  EXPECT_THAT(Last().starvation, HasSubstr("monitor woke 4.4s late"));
  EXPECT_EQ(Last().monitor_lateness, absl::Milliseconds(4400));
  EXPECT_FALSE(Last().debugger_attached);
  EXPECT_THAT(watchdog_->Hung(), IsEmpty());
  EXPECT_THAT(watchdog_->Statuses()[0].kill_suppressed,
              HasSubstr("process starved"));
  // Punctual again and still silent: now it is a hang.
  StepTo(next_);
  EXPECT_EQ(Last().kind, Kind::kKill);
  EXPECT_EQ(Last().monitor_lateness, absl::ZeroDuration());
  EXPECT_EQ(watchdog_->Hung().size(), 1u);
}

TEST_F(WatchdogTest, SmallMonitorLatenessIsNotStarvation) {
  Start(Options());
  Heartbeat hb = Worker();
  StepTo(t0_ + absl::Milliseconds(2900));
  // Due at 3.0 s, runs 400 ms late (< 50% of 1 s): a hang.
  clock_.SetNow(t0_ + absl::Milliseconds(3400));
  watchdog_->RunOnceForTest();
  EXPECT_EQ(Last().kind, Kind::kKill);
  EXPECT_EQ(Last().starvation, "");
}

TEST_F(WatchdogTest, CgroupThrottlingDuringTheSilenceDefersTheKill) {
  fixture_.Write("proc/self/mountinfo", kV2Mounts);
  fixture_.Write("proc/self/cgroup", "0::/app.slice/app\n");
  fixture_.Write("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
  fixture_.Write("sys/fs/cgroup/app.slice/app/cpu.stat",
                 "usage_usec 1000\nthrottled_usec 1000000\n");
  Heartbeat hb = HangPastTheKill([&] {
    // Throttled 1.6 s of the next 2 s (80%).
    fixture_.Write("sys/fs/cgroup/app.slice/app/cpu.stat",
                   "usage_usec 1000\nthrottled_usec 2600000\n");
  });
  EXPECT_EQ(Last().kind, Kind::kKillSuppressed);
  EXPECT_THAT(Last().starvation,
              AllOf(HasSubstr("throttled by its CPU quota for 1.6s"),
                    HasSubstr("80%")));
  EXPECT_THAT(watchdog_->Hung(), IsEmpty());
  // Throttling stops; once it is under half of the window, the thread is
  // to blame.
  StepTo(t0_ + absl::Milliseconds(4100));
  EXPECT_EQ(Last().kind, Kind::kKillSuppressed);
  StepTo(t0_ + absl::Milliseconds(4300));
  EXPECT_EQ(Last().kind, Kind::kKill);
  EXPECT_EQ(Kinds().size(), 4u);  // The deferral was reported once.
}

TEST_F(WatchdogTest, CgroupV1ThrottlingIsReadToo) {
  fixture_.Write("proc/self/mountinfo", kHybridMounts);
  fixture_.Write("proc/self/cgroup", "4:cpu,cpuacct:/app\n0::/\n");
  fixture_.Write("sys/fs/cgroup/cpu,cpuacct/app/cpu.stat",
                 "nr_periods 10\nthrottled_time 0\n");
  Heartbeat hb = HangPastTheKill([&] {
    fixture_.Write("sys/fs/cgroup/cpu,cpuacct/app/cpu.stat",
                   "nr_periods 30\nthrottled_time 1500000000\n");
  });
  EXPECT_EQ(Last().kind, Kind::kKillSuppressed);
  EXPECT_THAT(Last().starvation, HasSubstr("1.5s"));
}

TEST_F(WatchdogTest, CpuPressureOfTheOwnCgroupDefersTheKill) {
  fixture_.Write("proc/self/mountinfo", kV2Mounts);
  fixture_.Write("proc/self/cgroup", "0::/app\n");
  fixture_.Write("sys/fs/cgroup/cgroup.controllers", "cpu\n");
  const std::string psi = "sys/fs/cgroup/app/cpu.pressure";
  fixture_.Write(psi,
                 "some avg10=0.00 avg60=0.00 avg300=0.00 total=100\n"
                 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  Heartbeat hb = HangPastTheKill([&] {
    fixture_.Write(psi,
                   "some avg10=95.00 avg60=40.00 avg300=9.00 total=1900100\n"
                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  });
  EXPECT_EQ(Last().kind, Kind::kKillSuppressed);
  EXPECT_THAT(Last().starvation, AllOf(HasSubstr("waited for a CPU for 1.9s"),
                                       HasSubstr("cpu.pressure")));
}

TEST_F(WatchdogTest, RootCgroupPressureIsNotEvidence) {
  // The root cgroup's pressure is the whole machine's.
  fixture_.Write("proc/self/mountinfo", kV2Mounts);
  fixture_.Write("proc/self/cgroup", "0::/\n");
  fixture_.Write("sys/fs/cgroup/cgroup.controllers", "cpu\n");
  fixture_.Write("sys/fs/cgroup/cpu.pressure",
                 "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  Heartbeat hb = HangPastTheKill([&] {
    fixture_.Write("sys/fs/cgroup/cpu.pressure",
                   "some avg10=99.00 avg60=99.00 avg300=99.00 total=9000000\n");
  });
  EXPECT_EQ(Last().kind, Kind::kKill);
}

// Hybrid layout: the cpu controller on v1 (not throttled here), the
// process's own v2 cgroup (for its cpu.pressure) at the cgroup2 mount.
TEST_F(WatchdogTest, HybridLayoutReadsTheV2SidesCpuPressure) {
  fixture_.Write("proc/self/mountinfo", kHybridMounts);
  fixture_.Write("proc/self/cgroup", "4:cpu,cpuacct:/app\n0::/app\n");
  const std::string stat = "sys/fs/cgroup/cpu,cpuacct/app/cpu.stat";
  fixture_.Write(stat, "nr_periods 10\nnr_throttled 0\nthrottled_time 0\n");
  const std::string psi = "sys/fs/cgroup/unified/app/cpu.pressure";
  fixture_.Write(psi, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  const internal::CpuStarvationSample before =
      internal::SampleCpuStarvation(fixture_.root());
  EXPECT_EQ(before.throttled, absl::ZeroDuration());
  EXPECT_EQ(before.cpu_pressure_some, absl::ZeroDuration());
  EXPECT_THAT(before.sources, ElementsAre(fixture_.root() + "/" + stat,
                                          fixture_.root() + "/" + psi));
  Heartbeat hb = HangPastTheKill([&] {
    fixture_.Write(stat, "nr_periods 30\nnr_throttled 0\nthrottled_time 0\n");
    fixture_.Write(psi,
                   "some avg10=90.00 avg60=40.00 avg300=9.00 total=1800000\n");
  });
  EXPECT_EQ(Last().kind, Kind::kKillSuppressed);
  EXPECT_THAT(Last().starvation, AllOf(HasSubstr("waited for a CPU for 1.8s"),
                                       HasSubstr("cpu.pressure")));
}

// Inside a container without a cgroup namespace the v2 mount shows only the
// container's subtree: /proc/self/cgroup's path is mapped through the
// mount's root, not appended to /sys/fs/cgroup.
TEST_F(WatchdogTest, ThrottlingIsFoundThroughTheMountsRoot) {
  fixture_.Write("proc/self/mountinfo",
                 "30 23 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 "
                 "cgroup2 rw\n");
  fixture_.Write("proc/self/cgroup", "0::/kubepods/pod1/app\n");
  fixture_.Write("sys/fs/cgroup/cgroup.controllers", "cpu\n");
  fixture_.Write("sys/fs/cgroup/app/cpu.stat", "throttled_usec 0\n");
  Heartbeat hb = HangPastTheKill([&] {
    fixture_.Write("sys/fs/cgroup/app/cpu.stat", "throttled_usec 1700000\n");
  });
  EXPECT_EQ(Last().kind, Kind::kKillSuppressed);
  EXPECT_THAT(Last().starvation,
              HasSubstr("throttled by its CPU quota for 1.7s"));
}

// No mountinfo, no guess: the counters are not found, the sample is empty
// and the hang is killed as if the cgroup had no quota.
TEST_F(WatchdogTest, UnresolvableCgroupsGiveNoEvidence) {
  fixture_.Write("proc/self/cgroup", "0::/app\n");
  fixture_.Write("sys/fs/cgroup/cgroup.controllers", "cpu\n");
  fixture_.Write("sys/fs/cgroup/app/cpu.stat", "throttled_usec 0\n");
  fixture_.Write("sys/fs/cgroup/app/cpu.pressure",
                 "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  const internal::CpuStarvationSample s =
      internal::SampleCpuStarvation(fixture_.root());
  EXPECT_FALSE(s.throttled.has_value());
  EXPECT_FALSE(s.cpu_pressure_some.has_value());
  EXPECT_THAT(s.sources, IsEmpty());
  Heartbeat hb = HangPastTheKill([&] {
    fixture_.Write("sys/fs/cgroup/app/cpu.stat", "throttled_usec 1900000\n");
  });
  EXPECT_EQ(Last().kind, Kind::kKill);
}

// Pure v2 without PSI files (CONFIG_PSI off, or psi=0): throttling alone.
TEST_F(WatchdogTest, MissingPsiLeavesThrottlingOnly) {
  fixture_.Write("proc/self/mountinfo", kV2Mounts);
  fixture_.Write("proc/self/cgroup", "0::/app\n");
  fixture_.Write("sys/fs/cgroup/cgroup.controllers", "cpu\n");
  fixture_.Write("sys/fs/cgroup/app/cpu.stat",
                 "usage_usec 5\nnr_periods 4\nthrottled_usec 250\n");
  const internal::CpuStarvationSample s =
      internal::SampleCpuStarvation(fixture_.root());
  EXPECT_EQ(s.throttled, absl::Microseconds(250));
  EXPECT_FALSE(s.cpu_pressure_some.has_value());
  EXPECT_THAT(s.sources,
              ElementsAre(fixture_.root() + "/sys/fs/cgroup/app/cpu.stat"));
}

TEST_F(WatchdogTest, StarvationChecksCanBeTurnedOff) {
  WatchdogOptions o = Options();
  o.starvation.enabled = false;
  Start(o);
  Heartbeat hb = Worker();
  clock_.SetNow(t0_ + absl::Seconds(60));
  watchdog_->RunOnceForTest();
  EXPECT_EQ(Last().kind, Kind::kKill);
}

TEST_F(WatchdogTest, NoKillWhileADebuggerIsAttached) {
  fixture_.Write("proc/self/status", "Name:\tx\nTracerPid:\t4242\n");
  Start(Options());
  Heartbeat hb = Worker();
  StepTo(t0_ + absl::Seconds(10));
  EXPECT_THAT(Kinds(),
              ElementsAre(Kind::kMiss, Kind::kLongMiss, Kind::kKillSuppressed));
  EXPECT_TRUE(Last().debugger_attached);
  EXPECT_THAT(watchdog_->Statuses()[0].kill_suppressed,
              HasSubstr("debugger attached (TracerPid 4242)"));
  EXPECT_THAT(Last().ToString(), HasSubstr("a debugger is attached"));
  EXPECT_THAT(watchdog_->Hung(), IsEmpty());
  // The debugger detaches: the next step kills.
  fixture_.Write("proc/self/status", "Name:\tx\nTracerPid:\t0\n");
  StepBy(absl::Milliseconds(100));
  EXPECT_EQ(Last().kind, Kind::kKill);
}

TEST_F(WatchdogTest, EventsRenderAsReadableReports) {
  WatchdogEvent e;
  e.kind = Kind::kLongMiss;
  e.heartbeat = "io-loop";
  e.tid = 1234;
  e.thread_name = "io";
  e.scope = "flush";
  e.silent_for = absl::Milliseconds(2100);
  e.threshold = absl::Seconds(2);
  e.monitor_lateness = absl::Milliseconds(3);
  e.stack = {"#0  0x000000001000 Foo()", "#1  0x000000002000 main"};
  const std::string s = e.ToString();
  EXPECT_THAT(s, HasSubstr("[vigil-watchdog] LONG MISS heartbeat \"io-loop\" "
                           "(thread 1234 \"io\"): silent for 2.1s (threshold "
                           "2s) in scope \"flush\"; monitor late by 3ms\n"));
  EXPECT_THAT(s, HasSubstr("  stack of thread 1234:\n    #0  0x000000001000 "
                           "Foo()\n    #1  0x000000002000 main\n"));
  e.kind = Kind::kKill;
  e.stack.clear();
  e.stack_error = "thread 1234 is gone";
  e.action = KillAction::kAbort;
  EXPECT_THAT(e.ToString(),
              AllOf(HasSubstr("KILL heartbeat"), HasSubstr("action: abort"),
                    HasSubstr("stack unavailable: thread 1234 is gone")));
}

// ---- Stacks: a real thread, really stuck.

std::mutex g_held;
std::mutex g_cv_mu;
std::condition_variable g_cv;
bool g_release = false;  // Guarded by g_cv_mu.

ABSL_ATTRIBUTE_NOINLINE void StuckInWatchdogTestLock(std::atomic<bool>* about) {
  *about = true;
  g_held.lock();  // Blocks: the test holds it.
  g_held.unlock();
  asm volatile("");
}

ABSL_ATTRIBUTE_NOINLINE void StuckInWatchdogTestWait(std::atomic<bool>* about) {
  std::unique_lock<std::mutex> lock(g_cv_mu);
  *about = true;
  g_cv.wait(lock, [] { return g_release; });  // Until the test releases it.
  asm volatile("");
}

class StackTest : public WatchdogTest {
 protected:
  // Runs `block` on a registered thread, steps to the long miss once the
  // thread sleeps, releases it and returns the long-miss event.
  WatchdogEvent RunStuckIn(void (*block)(std::atomic<bool>*),
                           const std::function<void()>& release, pid_t* tid) {
    WatchdogOptions o = Options();
    o.capture_stacks = true;
    o.stack_timeout = absl::Seconds(3);
    o.root = "";  // Thread names come from the real /proc.
    Start(o);
    Notification registered;
    std::atomic<bool> about_to_block{false};
    std::atomic<pid_t> stuck_tid{0};
    Heartbeat hb;
    std::thread stuck([&] {
      hb = watchdog_
               ->Register(
                   "stuck-worker",
                   Stages(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3)))
               .value();
      pthread_setname_np(pthread_self(), "stuck-thread");
      stuck_tid = internal::CurrentThreadId();
      registered.Notify();
      block(&about_to_block);
    });
    registered.WaitForNotification();
    // Asleep where it blocks, not on its way there.
    EXPECT_TRUE(testing::WaitFor(
        [&] { return about_to_block && ThreadState(stuck_tid) == 'S'; },
        absl::Seconds(30)));
    StepBy(absl::Seconds(2) + kMs);
    release();
    stuck.join();
    *tid = stuck_tid;
    return Last();
  }
};

TEST_F(StackTest, LongMissCapturesTheStackOfAThreadStuckOnALock) {
  g_held.lock();
  pid_t tid = 0;
  const WatchdogEvent e = RunStuckIn(
      &StuckInWatchdogTestLock, [] { g_held.unlock(); }, &tid);
  ASSERT_EQ(e.kind, Kind::kLongMiss);
  EXPECT_EQ(e.tid, tid);
  EXPECT_EQ(e.thread_name, "stuck-thread");
#if defined(ABSL_HAVE_THREAD_SANITIZER)
  // ThreadSanitizer defers asynchronous signals to a thread blocked in an
  // intercepted pthread_mutex_lock until the call returns: the capture
  // times out, and the watchdog says so instead of blocking.
  EXPECT_THAT(e.stack, IsEmpty());
  EXPECT_THAT(e.stack_error, HasSubstr("did not answer signal"));
  EXPECT_THAT(e.ToString(), HasSubstr("stack unavailable: thread"));
#else
  ASSERT_THAT(e.stack, Not(IsEmpty())) << e.stack_error;
  EXPECT_THAT(e.stack, Contains(HasSubstr("StuckInWatchdogTestLock")))
      << absl::StrJoin(e.stack, "\n");
  EXPECT_THAT(e.ToString(), HasSubstr("StuckInWatchdogTestLock"));
#endif
  std::cerr << e.ToString();  // For the log.
}

TEST_F(StackTest, LongMissCapturesTheStackOfAThreadWaitingForever) {
  pid_t tid = 0;
  const WatchdogEvent e = RunStuckIn(
      &StuckInWatchdogTestWait,
      [] {
        std::lock_guard<std::mutex> lock(g_cv_mu);
        g_release = true;
        g_cv.notify_all();
      },
      &tid);
  ASSERT_EQ(e.kind, Kind::kLongMiss);
  EXPECT_EQ(e.tid, tid);
  ASSERT_THAT(e.stack, Not(IsEmpty())) << e.stack_error;
  EXPECT_THAT(e.stack, Contains(HasSubstr("StuckInWatchdogTestWait")))
      << absl::StrJoin(e.stack, "\n");
  std::cerr << e.ToString();  // For the log.
}

TEST_F(WatchdogTest, AnUnboundOrVanishedThreadHasNoStackButAReason) {
  WatchdogOptions o = Options();
  o.capture_stacks = true;
  Start(o);
  HeartbeatOptions h =
      Stages(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3));
  h.bind_current_thread = false;
  Heartbeat unbound = watchdog_->Register("loop", h).value();
  Heartbeat gone;
  std::thread t([&] {
    gone = watchdog_
               ->Register("exited", Stages(absl::Seconds(1), absl::Seconds(2),
                                           absl::Seconds(3)))
               .value();
  });
  t.join();
  StepTo(t0_ + absl::Seconds(2) + kMs);
  std::vector<WatchdogEvent> long_misses;
  for (const WatchdogEvent& e : Events()) {
    if (e.kind == Kind::kLongMiss) long_misses.push_back(e);
  }
  ASSERT_EQ(long_misses.size(), 2u);
  EXPECT_EQ(long_misses[0].stack_error, "heartbeat not bound to a thread");
  EXPECT_THAT(long_misses[1].stack_error, HasSubstr("is gone"));
}

// ---- The monitor thread itself.

TEST_F(WatchdogTest, TheMonitorThreadRunsOnItsClockAndStopsWithTheWatchdog) {
  WatchdogOptions o = Options();
  o.start_thread = true;
  Notification missed;
  {
    Watchdog w(o);
    w.AddListener([&](const WatchdogEvent& e) {
      if (e.kind == Kind::kMiss) missed.Notify();
    });
    Heartbeat hb =
        w.Register("worker",
                   Stages(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3)))
            .value();
    EXPECT_FALSE(missed.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
    clock_.Advance(absl::Milliseconds(1500));
    EXPECT_TRUE(missed.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_EQ(w.Statuses()[0].stage, WatchdogStage::kMiss);
  }  // Joins the monitor.
}

// A listener that never returns (here: not before the test lets it) cannot
// make destruction hang: ~Watchdog returns within shutdown_timeout (the
// default, 1 s), abandoning the listener on its thread. What the listener
// uses stays alive until it returns; then the abandoned thread calls no
// other listener and touches nothing of the destroyed Watchdog (ASan would
// report it), and its copy of the listener is released.
TEST_F(WatchdogTest, DestructionIsBoundedWhenAListenerNeverReturns) {
  WatchdogOptions o = Options();
  o.start_thread = true;
  ASSERT_EQ(o.shutdown_timeout, absl::Seconds(1));
  auto release = std::make_shared<Notification>();
  const std::weak_ptr<Notification> listener_state = release;
  Notification entered;
  std::atomic<int> later_calls{0};
  auto w = std::make_unique<Watchdog>(o);
  w->AddListener([release, &entered](const WatchdogEvent&) {
    entered.Notify();
    release->WaitForNotification();
  });
  w->AddListener([&later_calls](const WatchdogEvent&) { ++later_calls; });
  Heartbeat hb =
      w->Register("worker",
                  Stages(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3)))
          .value();
  clock_.Advance(absl::Milliseconds(1500));
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));

  hb = Heartbeat();
  const absl::Time start = absl::Now();
  w.reset();
  const absl::Duration took = absl::Now() - start;
  std::printf(
      "~Watchdog with a listener blocked forever returned in %s "
      "(shutdown_timeout 1s)\n",
      absl::FormatDuration(took).c_str());
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(10));  // Generous: a loaded machine.

  // Still referenced by the stuck listener only.
  ASSERT_FALSE(listener_state.expired());
  release->Notify();
  release.reset();
  EXPECT_TRUE(testing::WaitFor([&] { return listener_state.expired(); },
                               absl::Seconds(30)));
  EXPECT_EQ(later_calls.load(), 0);
}

// A listener that returns in time is waited for, and the thread joined.
TEST_F(WatchdogTest, DestructionWaitsForAListenerThatReturnsInTime) {
  WatchdogOptions o = Options();
  o.start_thread = true;
  o.shutdown_timeout = absl::Seconds(30);
  Notification entered;
  Notification release;
  std::atomic<bool> returned{false};
  auto w = std::make_unique<Watchdog>(o);
  w->AddListener([&](const WatchdogEvent&) {
    if (entered.HasBeenNotified()) return;
    entered.Notify();
    release.WaitForNotification();
    returned = true;
  });
  Heartbeat hb =
      w->Register("worker",
                  Stages(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3)))
          .value();
  clock_.Advance(absl::Milliseconds(1500));
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  hb = Heartbeat();
  // Whether the destructor is already waiting or not, the listener ends
  // well within the bound and must have been waited for.
  std::thread releaser([&] { release.Notify(); });
  w.reset();
  EXPECT_TRUE(returned.load());
  releaser.join();
}

}  // namespace
}  // namespace vigil
