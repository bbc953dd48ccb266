// The child's half of the lifeline protocol, in process: what the Watchdog
// and the SystemdNotifier publish for the supervisor to read. (The parent's
// half is exercised against real processes in supervisor_test.)

#include "watchdog/internal/lifeline.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/testing/fake_clock.h"
#include "watchdog/systemd.h"
#include "watchdog/watchdog.h"

namespace vigil {
namespace internal {
namespace {

using ::testing::HasSubstr;

TEST(SharedTextTest, WritesTruncateAndBumpTheVersion) {
  auto text = std::make_unique<SharedText<kLifelineNameBytes>>();
  EXPECT_EQ(text->Read(), "");
  const uint32_t v0 = text->version();
  text->Write("abc");
  EXPECT_EQ(text->Read(), "abc");
  EXPECT_EQ(text->version(), v0 + 2);
  text->Write(std::string(300, 'x'));
  EXPECT_EQ(text->Read(), std::string(kLifelineNameBytes - 1, 'x'));
}

class LifelineTest : public ::testing::Test {
 protected:
  LifelineTest() : block_(std::make_unique<LifelineBlock>()) {
    AttachLifeline(block_.get());
  }
  ~LifelineTest() override { AttachLifeline(nullptr); }

  std::unique_ptr<LifelineBlock> block_;
  testing::FakeClock clock_;
};

TEST_F(LifelineTest, TheWatchdogArmsAdvancesFlagsAndHandsOverStacks) {
  WatchdogOptions o;
  o.clock = &clock_;
  o.start_thread = false;
  o.log_to_stderr = false;
  o.starvation.enabled = false;
  o.root = "/nonexistent";
  auto w = std::make_unique<Watchdog>(o);
  HeartbeatOptions h;
  h.miss_after = absl::Seconds(1);
  h.long_miss_after = absl::Seconds(2);
  h.kill_after = absl::Seconds(3);
  Heartbeat hb = w->Register("worker", h).value();
  // Bound to this thread: the long miss captures this very thread's stack.

  EXPECT_EQ(block_->armed.load(), 0u);
  w->RunOnceForTest();
  EXPECT_EQ(block_->armed.load(), 1u);
  const uint64_t p1 = block_->progress.load();
  clock_.Advance(absl::Milliseconds(100));
  w->RunOnceForTest();
  EXPECT_GT(block_->progress.load(), p1);  // Every tick advances it.

  clock_.Advance(absl::Milliseconds(2000));
  w->RunOnceForTest();  // Long miss: a stack for the supervisor.
  EXPECT_THAT(block_->stack.Read(), HasSubstr("heartbeat \"worker\" thread "));
  EXPECT_THAT(block_->stack.Read(), HasSubstr("#0 "));
  EXPECT_EQ(block_->hung.load(), 0u);

  clock_.Advance(absl::Milliseconds(1000));
  w->RunOnceForTest();  // Kill stage: flagged, named.
  EXPECT_EQ(block_->hung.load(), 1u);
  EXPECT_EQ(block_->hung_heartbeat.Read(), "worker");
  EXPECT_GE(block_->hung_silent_nanos.load(),
            absl::ToInt64Nanoseconds(absl::Seconds(3)));

  hb.Beat();
  clock_.Advance(absl::Milliseconds(100));
  w->RunOnceForTest();  // Recovered: flag and stack cleared.
  EXPECT_EQ(block_->hung.load(), 0u);
  EXPECT_EQ(block_->stack.Read(), "");

  // A Watchdog that stops on purpose disarms: silence is not a hang.
  hb = Heartbeat();
  w.reset();
  EXPECT_EQ(block_->armed.load(), 0u);
}

TEST_F(LifelineTest, OnlyTheFirstWatchdogPublishes) {
  WatchdogOptions o;
  o.clock = &clock_;
  o.start_thread = false;
  o.log_to_stderr = false;
  Watchdog first(o);
  Watchdog second(o);
  second.RunOnceForTest();
  EXPECT_EQ(block_->armed.load(), 0u);
  first.RunOnceForTest();
  EXPECT_EQ(block_->armed.load(), 1u);
}

TEST_F(LifelineTest, TheNotifierPublishesInsteadOfSending) {
  bool alive = true;
  SystemdNotifierOptions o;
  o.clock = &clock_;
  o.start_thread = false;
  o.liveness = [&alive] { return alive; };
  o.supervised_interval = absl::Milliseconds(250);
  SystemdNotifier n(o);
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(block_->liveness.load(),
            static_cast<uint32_t>(LifelineLiveness::kUnknown));
  EXPECT_EQ(n.RunOnceForTest(), clock_.Now() + absl::Milliseconds(250));
  EXPECT_EQ(block_->liveness.load(),
            static_cast<uint32_t>(LifelineLiveness::kPassing));
  alive = false;
  n.RunOnceForTest();
  EXPECT_EQ(block_->liveness.load(),
            static_cast<uint32_t>(LifelineLiveness::kFailing));
  ASSERT_TRUE(n.Ready().ok());
  EXPECT_EQ(block_->ready.load(), 1u);
  ASSERT_TRUE(n.SetStatus("draining").ok());
  EXPECT_EQ(block_->status.Read(), "draining");
  ASSERT_TRUE(n.Stopping().ok());
  EXPECT_EQ(block_->stopping.load(), 1u);
}

}  // namespace
}  // namespace internal
}  // namespace vigil
