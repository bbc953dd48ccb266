#include "health/report.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;

class ReportTest : public ::testing::Test {
 protected:
  ReportTest() : registry_(Options()) {}
  RegistryOptions Options() {
    RegistryOptions o;
    o.clock = &clock_;
    o.service.name = "orders";
    o.service.version = "1.2.3";
    o.service.instance = "pod-7";
    return o;
  }
  testing::FakeClock clock_;
  HealthRegistry registry_;
};

TEST_F(ReportTest, CarriesEveryFieldAndRoundTripsThroughJsonAndBinary) {
  Check db;
  db.name = "postgres";
  db.options.kind = CheckKind::kDependency;
  db.options.groups = {"readiness", "db"};
  db.options.failure_threshold = 1;
  db.function = [&](const CheckContext&) {
    clock_.Advance(absl::Milliseconds(40));
    CheckResult r = CheckResult::Degraded("pool 85% used");
    r.observed_value = 0.85;
    r.observed_unit = "ratio";
    r.warn_threshold = 0.8;
    r.critical_threshold = 0.95;
    r.time_to_exhaustion = absl::Seconds(90);
    r.details["in_use"] = "85";
    return r;
  };
  ASSERT_TRUE(registry_.Register(db).ok());
  Check live;
  live.name = "loop";
  live.options.groups = {"liveness"};
  live.options.critical = false;
  live.function = [](const CheckContext&) { return CheckResult::Healthy(); };
  ASSERT_TRUE(registry_.Register(live).ok());
  registry_.RunOnceForTest();
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  clock_.Advance(absl::Seconds(3));
  registry_.BeginShutdown();

  v1::HealthReport r =
      ToHealthReport(*registry_.snapshot(), registry_.service());
  EXPECT_EQ(r.status(), v1::STATUS_DEGRADED);
  EXPECT_EQ(r.service().name(), "orders");
  EXPECT_EQ(r.service().version(), "1.2.3");
  EXPECT_EQ(r.service().instance(), "pod-7");
  EXPECT_TRUE(r.shutting_down());
  EXPECT_TRUE(r.startup_complete());
  ASSERT_EQ(r.checks_size(), 2);
  const v1::CheckResult& c = r.checks(1);  // Sorted: loop, postgres.
  EXPECT_EQ(c.name(), "postgres");
  EXPECT_EQ(c.status(), v1::STATUS_DEGRADED);
  EXPECT_EQ(c.kind(), v1::CHECK_KIND_DEPENDENCY);
  EXPECT_TRUE(c.critical());
  EXPECT_THAT(c.groups(), ::testing::ElementsAre("db", "readiness"));
  EXPECT_EQ(c.message(), "pool 85% used");
  EXPECT_DOUBLE_EQ(c.observed_value(), 0.85);
  EXPECT_EQ(c.observed_unit(), "ratio");
  EXPECT_DOUBLE_EQ(c.warn_threshold(), 0.8);
  EXPECT_DOUBLE_EQ(c.critical_threshold(), 0.95);
  EXPECT_EQ(c.time_to_exhaustion().seconds(), 90);
  EXPECT_EQ(c.last_duration().nanos(), 40000000);
  EXPECT_EQ(c.time_in_state().seconds(), 3);
  EXPECT_EQ(c.consecutive_successes(), 1);
  EXPECT_EQ(c.details().at("in_use"), "85");

  bool found_readiness = false;
  for (const v1::GroupStatus& g : r.groups()) {
    if (g.name() == "readiness") {
      found_readiness = true;
      EXPECT_EQ(g.status(), v1::STATUS_UNHEALTHY);
      EXPECT_EQ(g.reason(), "shutting down");
    }
  }
  EXPECT_TRUE(found_readiness);

  absl::StatusOr<std::string> json = ToJson(r);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"status\":\"STATUS_DEGRADED\""));
  EXPECT_THAT(*json, HasSubstr("\"observedValue\":0.85"));
  absl::StatusOr<v1::HealthReport> back = HealthReportFromJson(*json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(r, *back));

  v1::HealthReport decoded;
  ASSERT_TRUE(decoded.ParseFromString(r.SerializeAsString()));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(r, decoded));
}

TEST_F(ReportTest, WithoutDetailsKeepsNamesAndStatusesOnly) {
  Check db;
  db.name = "postgres";
  db.function = [](const CheckContext&) {
    CheckResult r = CheckResult::Unhealthy("password authentication failed");
    r.details["user"] = "app";
    r.observed_value = 1;
    return r;
  };
  ASSERT_TRUE(registry_.Register(db).ok());
  registry_.RunOnceForTest();
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  ReportOptions opts;
  opts.include_details = false;
  v1::HealthReport r =
      ToHealthReport(*registry_.snapshot(), registry_.service(), opts);
  ASSERT_EQ(r.checks_size(), 1);
  EXPECT_EQ(r.checks(0).name(), "postgres");
  EXPECT_EQ(r.checks(0).status(), v1::STATUS_UNHEALTHY);
  EXPECT_EQ(r.checks(0).message(), "");
  EXPECT_TRUE(r.checks(0).details().empty());
  EXPECT_FALSE(r.checks(0).has_observed_value());
  EXPECT_THAT(ToJson(r).value(), ::testing::Not(HasSubstr("password")));
}

TEST_F(ReportTest, HistoryCarriesEventsSamplesAndHeartbeats) {
  auto history = HealthHistory::Create(&registry_).value();
  history->SetHeartbeatSource([] {
    HeartbeatView v;
    v.name = "io-loop";
    v.stage = "miss";
    v.silent_for = absl::Seconds(2);
    v.miss_after = absl::Seconds(1);
    return std::vector<HeartbeatView>{v};
  });
  Check mem;
  mem.name = "memory";
  mem.options.failure_threshold = 1;
  mem.function = [](const CheckContext&) {
    CheckResult r = CheckResult::Degraded("85% of limit");
    r.observed_value = 0.85;
    r.observed_unit = "ratio";
    r.critical_threshold = 0.95;
    r.time_to_exhaustion = absl::Minutes(7);
    return r;
  };
  ASSERT_TRUE(registry_.Register(mem).ok());
  registry_.RunOnceForTest();
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());

  HistoryQuery q;
  q.subject = "memory";
  v1::HealthHistory h = ToHealthHistory(*history, q);
  EXPECT_EQ(h.service().name(), "orders");
  ASSERT_EQ(h.events_size(), 1);
  EXPECT_EQ(h.events(0).kind(), v1::HistoryEvent::KIND_CHECK);
  EXPECT_EQ(h.events(0).to(), v1::STATUS_DEGRADED);
  EXPECT_EQ(h.events(0).message(), "85% of limit");
  ASSERT_EQ(h.series_size(), 1);
  EXPECT_EQ(h.series(0).unit(), "ratio");
  ASSERT_EQ(h.series(0).samples_size(), 1);
  EXPECT_DOUBLE_EQ(h.series(0).samples(0).value(), 0.85);
  EXPECT_EQ(h.series(0).samples(0).time_to_exhaustion().seconds(), 420);
  ASSERT_EQ(h.heartbeats_size(), 1);
  EXPECT_EQ(h.heartbeats(0).silent_for().seconds(), 2);
  EXPECT_FALSE(h.details_withheld());
  EXPECT_EQ(h.last_sequence(), history->last_sequence());
  EXPECT_THAT(ToJson(h).value(), HasSubstr("\"timeToExhaustion\":\"420s\""));

  q.include_details = false;
  h = ToHealthHistory(*history, q);
  EXPECT_TRUE(h.details_withheld());
  EXPECT_EQ(h.events(0).message(), "");
  EXPECT_FALSE(h.series(0).samples(0).has_value());
  EXPECT_FALSE(h.series(0).samples(0).has_critical_threshold());
  EXPECT_EQ(h.series(0).samples(0).status(), v1::STATUS_DEGRADED);

  q = {};
  q.after = history->last_sequence();
  EXPECT_EQ(ToHealthHistory(*history, q).events_size(), 0);
}

TEST(ReportParseTest, MalformedJsonIsAnError) {
  EXPECT_EQ(HealthReportFromJson("{not json").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HealthReportFromJson("{\"bogusField\": 1}").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReportEnumTest, StatusMapping) {
  for (Status s : {Status::kUnknown, Status::kHealthy, Status::kDegraded,
                   Status::kUnhealthy}) {
    EXPECT_EQ(FromProto(ToProto(s)), s);
    EXPECT_EQ(static_cast<int>(ToProto(s)), static_cast<int>(s));
  }
}

}  // namespace
}  // namespace vigil
