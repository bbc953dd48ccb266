#include "watchdog/history.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class WatchdogHistoryTest : public ::testing::Test {
 protected:
  WatchdogHistoryTest() : registry_(RegistryOpts()) {
    root_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/root");
    mkdir(root_.c_str(), 0755);
    mkdir((root_ + "/proc").c_str(), 0755);
    mkdir((root_ + "/proc/self").c_str(), 0755);
    std::ofstream(root_ + "/proc/self/status")
        << "Name:\tx\nTracerPid:\t0\nThreads:\t1\n";
    WatchdogOptions o;
    o.clock = &clock_;
    o.start_thread = false;
    o.root = root_;
    o.log_to_stderr = false;
    o.capture_stacks = false;
    o.publish_to_supervisor = false;
    watchdog_ = std::make_unique<Watchdog>(o);
    history_ = HealthHistory::Create(&registry_).value();
  }
  RegistryOptions RegistryOpts() {
    RegistryOptions o;
    o.clock = &clock_;
    return o;
  }
  // Steps the monitor every 100 ms for `d`, as a punctual thread would.
  void StepBy(absl::Duration d) {
    const absl::Time end = clock_.Now() + d;
    while (clock_.Now() < end) {
      clock_.Advance(absl::Milliseconds(100));
      watchdog_->RunOnceForTest();
    }
  }
  std::vector<std::string> WatchdogEvents() {
    std::vector<std::string> out;
    for (const HistoryEvent& e : history_->Events()) {
      if (e.kind == HistoryEvent::Kind::kWatchdog) {
        out.push_back(absl::StrCat(e.subject, " ", e.watchdog_event));
      }
    }
    return out;
  }

  std::string root_;
  testing::FakeClock clock_;
  HealthRegistry registry_;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<HealthHistory> history_;
};

TEST_F(WatchdogHistoryTest, MissLongMissKillAndRecoveryAreJournaled) {
  WatchdogHistory link(watchdog_.get(), history_.get());
  HeartbeatOptions h;
  h.miss_after = absl::Seconds(1);
  h.long_miss_after = absl::Seconds(2);
  h.kill_after = absl::Seconds(3);
  Heartbeat worker = watchdog_->Register("worker", h).value();
  watchdog_->RunOnceForTest();
  StepBy(absl::Milliseconds(1500));
  ASSERT_EQ(history_->Heartbeats().size(), 1u);
  EXPECT_EQ(history_->Heartbeats()[0].stage, "miss");
  EXPECT_EQ(history_->Heartbeats()[0].kill_after, absl::Seconds(3));
  StepBy(absl::Seconds(2));
  worker.Beat();
  StepBy(absl::Milliseconds(200));
  EXPECT_THAT(WatchdogEvents(), ElementsAre("worker miss", "worker long miss",
                                            "worker kill", "worker recovered"));
  const HistoryEvent miss = history_->Events().front();
  EXPECT_EQ(miss.to, Status::kDegraded);
  EXPECT_THAT(miss.message, HasSubstr("threshold 1s"));
  EXPECT_EQ(history_->Events().back().to, Status::kHealthy);
  EXPECT_EQ(history_->Heartbeats()[0].stage, "ok");
}

TEST_F(WatchdogHistoryTest, DestroyedLinkRecordsNothingMore) {
  { WatchdogHistory link(watchdog_.get(), history_.get()); }
  Heartbeat worker = watchdog_->Register("worker").value();
  watchdog_->RunOnceForTest();
  StepBy(absl::Seconds(2));
  EXPECT_TRUE(WatchdogEvents().empty());
  EXPECT_TRUE(history_->Heartbeats().empty());
}

}  // namespace
}  // namespace vigil
