#include "health/history.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace {

using ::testing::ElementsAre;

// A check returning whatever the test last set, with an observed value.
class Gauge {
 public:
  void Set(Status s, double value, std::string message = "") {
    MutexLock lock(&mu_);
    status_ = s;
    value_ = value;
    message_ = std::move(message);
  }
  CheckFunction Function() {
    return [this](const CheckContext&) {
      MutexLock lock(&mu_);
      CheckResult r;
      r.status = status_;
      r.message = message_;
      r.observed_value = value_;
      r.observed_unit = "ratio";
      r.warn_threshold = 0.8;
      r.critical_threshold = 0.9;
      r.time_to_exhaustion = absl::Minutes(5);
      return r;
    };
  }

 private:
  Mutex mu_;
  Status status_ ABSL_GUARDED_BY(mu_) = Status::kHealthy;
  double value_ ABSL_GUARDED_BY(mu_) = 0;
  std::string message_ ABSL_GUARDED_BY(mu_);
};

class HistoryTest : public ::testing::Test {
 protected:
  HistoryTest() : registry_(Options()) {}

  RegistryOptions Options() {
    RegistryOptions o;
    o.clock = &clock_;
    return o;
  }

  std::unique_ptr<HealthHistory> MakeHistory(HistoryOptions o = {}) {
    return HealthHistory::Create(&registry_, o).value();
  }

  Check Make(std::string name, CheckFunction fn) {
    Check c;
    c.name = std::move(name);
    c.function = std::move(fn);
    c.options.interval = absl::Seconds(10);
    c.options.failure_threshold = 1;
    return c;
  }

  void Step() {
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  }
  void Next() {
    clock_.Advance(absl::Seconds(10));
    Step();
  }

  static std::vector<std::string> Describe(
      const std::vector<HistoryEvent>& events) {
    std::vector<std::string> out;
    for (const HistoryEvent& e : events) {
      out.push_back(absl::StrCat(HistoryEventKindName(e.kind), " ", e.subject,
                                 " ", StatusName(e.from), "->",
                                 StatusName(e.to)));
    }
    return out;
  }

  testing::FakeClock clock_;
  HealthRegistry registry_;
};

TEST_F(HistoryTest, RejectsBadOptions) {
  HistoryOptions o;
  o.max_events = 0;
  EXPECT_EQ(HealthHistory::Create(&registry_, o).status().message(),
            "max_events: must be >= 1");
  o = {};
  o.samples_per_check = 1;
  EXPECT_FALSE(HealthHistory::Create(&registry_, o).ok());
  EXPECT_FALSE(HealthHistory::Create(nullptr).ok());
}

TEST_F(HistoryTest, JournalsCheckAndGroupTransitionsInOrderWithTimes) {
  auto history = MakeHistory();
  Gauge g;
  ASSERT_TRUE(registry_.Register(Make("mem", g.Function())).ok());
  Step();
  const absl::Time first = clock_.Now();
  g.Set(Status::kDegraded, 0.85, "85% of limit");
  Next();
  g.Set(Status::kUnhealthy, 0.95, "95% of limit");
  Next();
  const std::vector<HistoryEvent> events = history->Events();
  // Registration publishes "all" and the readiness group as UNKNOWN -> ...
  std::vector<std::string> checks;
  for (const HistoryEvent& e : events) {
    if (e.kind == HistoryEvent::Kind::kCheck) {
      checks.push_back(Describe({e})[0]);
    }
  }
  EXPECT_THAT(checks, ElementsAre("check mem unknown->healthy",
                                  "check mem healthy->degraded",
                                  "check mem degraded->unhealthy"));
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i].sequence, events[i - 1].sequence + 1);
    EXPECT_LE(events[i - 1].time, events[i].time);
  }
  // A copy: Events() returns a temporary vector.
  const HistoryEvent last =
      history->Events(0, absl::InfinitePast(), "mem").back();
  EXPECT_EQ(last.message, "95% of limit");
  EXPECT_EQ(last.time, first + absl::Seconds(20));
  EXPECT_EQ(last.consecutive_failures, 1);
  // Filters: by sequence, time and subject.
  EXPECT_THAT(Describe(history->Events(0, first + absl::Seconds(20), "mem")),
              ElementsAre("check mem degraded->unhealthy"));
  EXPECT_THAT(Describe(history->Events(last.sequence - 1, absl::InfinitePast(),
                                       "readiness")),
              ElementsAre("group readiness degraded->unhealthy"));
  EXPECT_EQ(history->last_sequence(), events.back().sequence);
}

TEST_F(HistoryTest, JournalIsBoundedAndWrapsOldestFirst) {
  HistoryOptions o;
  o.max_events = 4;
  auto history = MakeHistory(o);
  for (int i = 0; i < 10; ++i) {
    HistoryEvent e;
    e.kind = HistoryEvent::Kind::kWatchdog;
    e.subject = absl::StrCat("hb", i);
    history->Record(e);
  }
  const std::vector<HistoryEvent> events = history->Events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events.front().subject, "hb6");
  EXPECT_EQ(events.back().subject, "hb9");
  EXPECT_EQ(events.front().sequence, 7u);
  EXPECT_EQ(history->dropped_events(), 6u);
  // Record() stamps events with the registry's clock.
  EXPECT_EQ(events.back().time, clock_.Now());
}

TEST_F(HistoryTest, ConcurrentWritersLoseNothingWithinCapacity) {
  HistoryOptions o;
  o.max_events = 4000;
  auto history = MakeHistory(o);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        HistoryEvent e;
        e.kind = HistoryEvent::Kind::kWatchdog;
        e.subject = absl::StrCat("w", t);
        e.message = absl::StrCat(i);
        history->Record(e);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  const std::vector<HistoryEvent> events = history->Events();
  ASSERT_EQ(events.size(), 4000u);
  // Each writer's events are in its own order; sequences are dense.
  std::vector<int> next(4, 0);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].sequence, i + 1);
    const int w = events[i].subject[1] - '0';
    EXPECT_EQ(events[i].message, absl::StrCat(next[w]++));
  }
  EXPECT_EQ(history->dropped_events(), 0u);
}

TEST_F(HistoryTest, SamplesKeepTheLastValuesWithThresholds) {
  HistoryOptions o;
  o.samples_per_check = 3;
  auto history = MakeHistory(o);
  Gauge g;
  ASSERT_TRUE(registry_.Register(Make("mem", g.Function())).ok());
  Check no_value =
      Make("db", [](const CheckContext&) { return CheckResult::Healthy(); });
  ASSERT_TRUE(registry_.Register(no_value).ok());
  const absl::Time start = clock_.Now();
  for (int i = 0; i < 5; ++i) {
    g.Set(Status::kHealthy, 0.1 * i);
    if (i == 0) {
      Step();
    } else {
      Next();
    }
  }
  const std::vector<SampleSeries> all = history->Samples();
  ASSERT_EQ(all.size(), 1u);  // "db" has no observed value.
  EXPECT_EQ(all[0].check, "mem");
  EXPECT_EQ(all[0].unit, "ratio");
  ASSERT_EQ(all[0].samples.size(), 3u);
  EXPECT_DOUBLE_EQ(all[0].samples[0].value, 0.2);
  EXPECT_DOUBLE_EQ(all[0].samples[2].value, 0.4);
  EXPECT_EQ(all[0].samples[2].time, start + absl::Seconds(40));
  EXPECT_EQ(all[0].samples[2].critical_threshold, 0.9);
  EXPECT_EQ(all[0].samples[2].time_to_exhaustion, absl::Minutes(5));
  const std::vector<SampleSeries> recent =
      history->Samples("mem", start + absl::Seconds(35));
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].samples.size(), 1u);
  EXPECT_TRUE(history->Samples("db").empty());
}

TEST_F(HistoryTest, SeriesAreBoundedInNumber) {
  HistoryOptions o;
  o.max_series = 2;
  auto history = MakeHistory(o);
  Gauge g;
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(registry_.Register(Make(name, g.Function())).ok());
  }
  Step();
  // The first two to report keep series (the workers run them in any
  // order); the third never gets one, however often it reports.
  std::vector<std::string> first;
  for (const SampleSeries& s : history->Samples()) first.push_back(s.check);
  ASSERT_EQ(first.size(), 2u);
  Next();
  std::vector<std::string> later;
  for (const SampleSeries& s : history->Samples()) {
    later.push_back(s.check);
    EXPECT_EQ(s.samples.size(), 2u);
  }
  EXPECT_EQ(later, first);
}

TEST_F(HistoryTest, KeepsSamplesOfChecksRegisteredBeforeIt) {
  Gauge g;
  ASSERT_TRUE(registry_.Register(Make("before", g.Function())).ok());
  auto history = MakeHistory();
  ASSERT_TRUE(registry_.Register(Make("after", g.Function())).ok());
  g.Set(Status::kHealthy, 0.25);
  Step();
  g.Set(Status::kDegraded, 0.5);
  Next();
  std::vector<std::string> got;
  for (const SampleSeries& series : history->Samples()) {
    for (const Sample& sample : series.samples) {
      got.push_back(absl::StrCat(series.check, " ", sample.value, " ",
                                 StatusName(sample.status)));
    }
  }
  EXPECT_THAT(got, ElementsAre("after 0.25 healthy", "after 0.5 degraded",
                               "before 0.25 healthy", "before 0.5 degraded"));
}

TEST_F(HistoryTest, ReRegisteredCheckContinuesItsSeries) {
  HistoryOptions o;
  o.max_series = 1;
  auto history = MakeHistory(o);
  Gauge g;
  g.Set(Status::kHealthy, 0.1);
  ASSERT_TRUE(registry_.Register(Make("mem", g.Function())).ok());
  Step();
  ASSERT_TRUE(registry_.Unregister("mem").ok());
  g.Set(Status::kHealthy, 0.2);
  ASSERT_TRUE(registry_.Register(Make("mem", g.Function())).ok());
  Next();
  // Its series is found by name again (the only one max_series allows).
  const std::vector<SampleSeries> all = history->Samples();
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].samples.size(), 2u);
  EXPECT_DOUBLE_EQ(all[0].samples[0].value, 0.1);
  EXPECT_DOUBLE_EQ(all[0].samples[1].value, 0.2);
}

TEST_F(HistoryTest, RecordsDrainOnceBeforeReadinessFails) {
  auto history = MakeHistory();
  Gauge g;
  ASSERT_TRUE(registry_.Register(Make("mem", g.Function())).ok());
  Step();
  const uint64_t before = history->last_sequence();
  registry_.BeginShutdown();
  registry_.BeginShutdown();
  EXPECT_THAT(Describe(history->Events(before)),
              ElementsAre("drain  unknown->unknown",
                          "group readiness healthy->unhealthy"));
}

TEST_F(HistoryTest, WaitForEventReturnsOnRecordOrTimeout) {
  auto history = MakeHistory();
  EXPECT_EQ(history->WaitForEvent(0, absl::Milliseconds(1)), 0u);
  std::thread writer([&] { history->Record(HistoryEvent()); });
  EXPECT_EQ(history->WaitForEvent(0, absl::Seconds(30)), 1u);
  writer.join();
}

TEST_F(HistoryTest, RegistryOutlivesHistorySafely) {
  Gauge g;
  ASSERT_TRUE(registry_.Register(Make("mem", g.Function())).ok());
  MakeHistory().reset();
  g.Set(Status::kUnhealthy, 1.0);
  Step();  // The listeners find the history gone and record nothing.
  EXPECT_EQ(registry_.snapshot()->FindCheck("mem")->result.status,
            Status::kUnhealthy);
}

TEST_F(HistoryTest, HeartbeatSourceIsReadOnDemand) {
  auto history = MakeHistory();
  EXPECT_TRUE(history->Heartbeats().empty());
  history->SetHeartbeatSource([] {
    HeartbeatView v;
    v.name = "io-loop";
    v.stage = "miss";
    return std::vector<HeartbeatView>{v};
  });
  ASSERT_EQ(history->Heartbeats().size(), 1u);
  EXPECT_EQ(history->Heartbeats()[0].stage, "miss");
}

}  // namespace
}  // namespace vigil
