// WriteWatchdogMetrics() against a real Watchdog on a fake clock: the
// counters follow the events delivered, and each heartbeat's silence is the
// monitor's measurement.
#include "monitoring/collectors/watchdog_metrics.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/prometheus.h"
#include "health/testing/fake_clock.h"
#include "watchdog/watchdog.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string Exposition(const Watchdog& watchdog) {
  http::PrometheusWriter w;
  WriteWatchdogMetrics(watchdog, w);
  EXPECT_THAT(w.errors(), IsEmpty());
  return w.text();
}

TEST(WatchdogMetricsTest, CountsEventsAndReportsEachHeartbeatsSilence) {
  testing::FakeClock clock;
  WatchdogOptions o;
  o.clock = &clock;
  o.start_thread = false;
  o.capture_stacks = false;
  o.log_to_stderr = false;
  o.starvation.enabled = false;
  Watchdog watchdog(o);
  ASSERT_TRUE(watchdog.status().ok()) << watchdog.status();
  HeartbeatOptions h;
  h.miss_after = absl::Seconds(1);
  h.long_miss_after = absl::Seconds(2);
  h.kill_after = absl::Seconds(3);
  Heartbeat worker = watchdog.Register("worker", h).value();
  Heartbeat idle = watchdog.Register("idle-loop", h).value();
  watchdog.RunOnceForTest();

  std::string text = Exposition(watchdog);
  EXPECT_THAT(text, HasSubstr("# TYPE vigil_watchdog_events_total counter\n"));
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_events_total{event=\"miss\"} "
                              "0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE vigil_watchdog_heartbeat_silence_seconds "
                              "gauge\n"));
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_heartbeat_silence_seconds{"
                              "heartbeat=\"worker\"} 0\n"));

  // "worker" goes silent past its miss and long miss; "idle-loop" beats.
  clock.Advance(absl::Milliseconds(1500));
  idle.Beat();
  watchdog.RunOnceForTest();
  clock.Advance(absl::Milliseconds(1000));
  idle.Beat();
  watchdog.RunOnceForTest();
  text = Exposition(watchdog);
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_events_total{event=\"miss\"} "
                              "1\n"));
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_events_total{event=\"long_miss\"}"
                              " 1\n"));
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_events_total{event=\"kill\"} "
                              "0\n"));
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_heartbeat_silence_seconds{"
                              "heartbeat=\"worker\"} 2.5\n"));
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_heartbeat_silence_seconds{"
                              "heartbeat=\"idle-loop\"} 0\n"));

  // Recovery is counted; an unregistered heartbeat disappears.
  worker.Beat();
  watchdog.RunOnceForTest();
  idle = Heartbeat();
  text = Exposition(watchdog);
  EXPECT_THAT(text, HasSubstr("vigil_watchdog_events_total{event=\"recovered\"}"
                              " 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("idle-loop")));
}

}  // namespace
}  // namespace vigil
