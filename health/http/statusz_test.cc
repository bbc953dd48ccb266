// /statusz and /statusz/history through HealthEndpoints: formats, filters,
// the details policy (from a non-local address, with the token), and that
// serving never runs a check.

#include "health/http/internal/statusz.h"

#include <atomic>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/endpoints.h"
#include "health/report.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kRemote = "203.0.113.9";
constexpr absl::string_view kToken = "s3cret";

class StatuszTest : public ::testing::Test {
 protected:
  StatuszTest() : registry_(Options(&clock_)) {
    history_ = HealthHistory::Create(&registry_).value();
    EndpointsOptions o;
    o.history = history_.get();
    o.bearer_token = std::string(kToken);
    endpoints_ = HealthEndpoints::Create(&registry_, o).value();
  }

  static RegistryOptions Options(testing::FakeClock* clock) {
    RegistryOptions o;
    o.clock = clock;
    o.service.name = "orders";
    o.service.version = "1.2.3";
    o.service.instance = "pod-7";
    return o;
  }

  void Add(const std::string& name, CheckResult r) {
    {
      MutexLock lock(&mu_);
      results_[name] = std::move(r);
    }
    Check c;
    c.name = name;
    c.options.failure_threshold = 1;
    c.options.interval = absl::Seconds(10);
    c.function = [this, name](const CheckContext&) {
      runs_.fetch_add(1);
      MutexLock lock(&mu_);
      return results_[name];
    };
    ASSERT_TRUE(registry_.Register(c).ok());
  }
  void Set(const std::string& name, CheckResult r) {
    MutexLock lock(&mu_);
    results_[name] = std::move(r);
  }
  void Run() {
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  }
  void RunAgain() {
    clock_.Advance(absl::Seconds(10));
    Run();
  }

  static CheckResult Memory(Status s, double used) {
    CheckResult r;
    r.status = s;
    r.message = absl::StrCat("memory at ", used * 100, "% of limit");
    r.observed_value = used;
    r.observed_unit = "ratio";
    r.warn_threshold = 0.8;
    r.critical_threshold = 0.9;
    r.time_to_exhaustion = absl::Minutes(4);
    return r;
  }

  // The S1 story: memory rises through warn to critical, db flips.
  void MemoryRises() {
    Add("memory", Memory(Status::kHealthy, 0.5));
    Add("db", CheckResult::Healthy("connected"));
    Run();
    Set("memory", Memory(Status::kDegraded, 0.85));
    Set("db", CheckResult::Unhealthy("connection refused"));
    RunAgain();
    Set("memory", Memory(Status::kUnhealthy, 0.95));
    RunAgain();
  }

  HttpResponse Get(const std::string& target, absl::string_view remote,
                   absl::string_view auth = "", absl::string_view accept = "") {
    HttpRequest r;
    r.method = "GET";
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      for (absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&')) {
        const size_t eq = kv.find('=');
        r.query.emplace_back(std::string(kv.substr(0, eq)),
                             eq == absl::string_view::npos
                                 ? ""
                                 : std::string(kv.substr(eq + 1)));
      }
    }
    r.remote_address = std::string(remote);
    if (!auth.empty()) r.headers.emplace_back("Authorization", auth);
    if (!accept.empty()) r.headers.emplace_back("Accept", accept);
    return endpoints_->Handle(r);
  }

  testing::FakeClock clock_;
  HealthRegistry registry_;
  std::unique_ptr<HealthHistory> history_;
  std::unique_ptr<HealthEndpoints> endpoints_;
  Mutex mu_;
  std::map<std::string, CheckResult> results_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> runs_{0};
};

TEST_F(StatuszTest, PageHasARowPerCheckSparklinesAndTimeline) {
  MemoryRises();
  const int runs = runs_.load();
  HttpResponse r = Get("/statusz", "127.0.0.1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  const std::string& page = r.body;
  EXPECT_THAT(page,
              HasSubstr("data-check=\"memory\" data-status=\"unhealthy\""));
  EXPECT_THAT(page, HasSubstr("data-check=\"db\" data-status=\"unhealthy\""));
  EXPECT_THAT(page, HasSubstr("<h1>orders is unhealthy</h1>"));
  EXPECT_THAT(page, HasSubstr("data-samples=\"3\" data-last=\"0.95\""));
  EXPECT_THAT(page, HasSubstr("class=\"critical\""));
  EXPECT_THAT(page, HasSubstr("exhausted in 4m"));
  EXPECT_THAT(page, HasSubstr("memory at 95% of limit"));
  EXPECT_THAT(page, HasSubstr("data-subject=\"memory\" data-to=\"degraded\""));
  EXPECT_THAT(page, HasSubstr("data-subject=\"memory\" data-to=\"unhealthy\""));
  EXPECT_THAT(page, Not(HasSubstr("id=\"withheld\"")));
  // Self-contained: no external reference of any kind.
  EXPECT_THAT(page, Not(HasSubstr("http://")));
  EXPECT_THAT(page, Not(HasSubstr("https://")));
  EXPECT_THAT(page, Not(HasSubstr("src=")));
  // Serving never runs a check.
  EXPECT_EQ(runs_.load(), runs);
}

TEST_F(StatuszTest, PageWithholdsDetailsFromRemoteClientsWithoutToken) {
  MemoryRises();
  const std::string page = Get("/statusz", kRemote).body;
  EXPECT_THAT(page, HasSubstr("id=\"withheld\""));
  EXPECT_THAT(page,
              HasSubstr("data-check=\"memory\" data-status=\"unhealthy\""));
  EXPECT_THAT(page, Not(HasSubstr("95%")));
  EXPECT_THAT(page, Not(HasSubstr("connection refused")));
  EXPECT_THAT(page, Not(HasSubstr("<svg")));
  // Timeline entries keep their subjects and statuses, not their messages.
  EXPECT_THAT(page, HasSubstr("data-subject=\"db\" data-to=\"unhealthy\""));

  const std::string with_token =
      Get("/statusz", kRemote, absl::StrCat("Bearer ", kToken)).body;
  EXPECT_THAT(with_token, Not(HasSubstr("id=\"withheld\"")));
  EXPECT_THAT(with_token, HasSubstr("connection refused"));
  EXPECT_THAT(with_token, HasSubstr("<svg"));
  EXPECT_THAT(Get("/statusz", kRemote, "Bearer wrong").body,
              HasSubstr("id=\"withheld\""));
}

TEST_F(StatuszTest, PageEscapesNamesAndMessages) {
  Add("x", CheckResult::Unhealthy("<script>alert(1)</script>"));
  Run();
  const std::string page = Get("/statusz", "127.0.0.1").body;
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(page, Not(HasSubstr("<script>alert")));
}

TEST_F(StatuszTest, HistoryAsJsonAndProtobufWithFilters) {
  MemoryRises();
  HttpResponse json = Get("/statusz/history?check=memory", "127.0.0.1");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_THAT(json.body, HasSubstr("\"subject\":\"memory\""));
  EXPECT_THAT(json.body, Not(HasSubstr("\"subject\":\"db\"")));

  HttpResponse pb =
      Get("/statusz/history", "127.0.0.1", "", "application/x-protobuf");
  EXPECT_EQ(pb.content_type, "application/x-protobuf");
  v1::HealthHistory h;
  ASSERT_TRUE(h.ParseFromString(pb.body));
  ASSERT_EQ(h.series_size(), 1);
  EXPECT_EQ(h.series(0).samples_size(), 3);
  EXPECT_DOUBLE_EQ(h.series(0).samples(2).value(), 0.95);

  // ?after= returns only newer events; ?since= as a duration back.
  ASSERT_TRUE(h.ParseFromString(
      Get(absl::StrCat("/statusz/history?format=protobuf&after=",
                       h.last_sequence()),
          "127.0.0.1")
          .body));
  EXPECT_EQ(h.events_size(), 0);
  ASSERT_TRUE(h.ParseFromString(
      Get("/statusz/history?format=protobuf&since=5s&check=memory", "127.0.0.1")
          .body));
  ASSERT_EQ(h.events_size(), 1);
  EXPECT_EQ(h.events(0).to(), v1::STATUS_UNHEALTHY);
  EXPECT_EQ(Get("/statusz/history?since=yesterday", "127.0.0.1").status, 400);
  EXPECT_EQ(Get("/statusz/history?after=x", "127.0.0.1").status, 400);
}

TEST_F(StatuszTest, HistoryWithheldRemotelyUnlessToken) {
  MemoryRises();
  v1::HealthHistory h;
  ASSERT_TRUE(
      h.ParseFromString(Get("/statusz/history?format=protobuf", kRemote).body));
  EXPECT_TRUE(h.details_withheld());
  for (const v1::HistoryEvent& e : h.events()) EXPECT_EQ(e.message(), "");
  EXPECT_FALSE(h.series(0).samples(0).has_value());
  ASSERT_TRUE(h.ParseFromString(Get("/statusz/history?format=protobuf", kRemote,
                                    absl::StrCat("Bearer ", kToken))
                                    .body));
  EXPECT_FALSE(h.details_withheld());
  EXPECT_TRUE(h.series(0).samples(0).has_value());
}

TEST_F(StatuszTest, WithoutHistoryThePageShowsTheSnapshotOnly) {
  auto bare = HealthEndpoints::Create(&registry_).value();
  Add("db", CheckResult::Healthy("ok"));
  Run();
  HttpRequest r;
  r.method = "GET";
  r.path = "/statusz";
  r.remote_address = "127.0.0.1";
  EXPECT_THAT(bare->Handle(r).body, HasSubstr("data-check=\"db\""));
  r.path = "/statusz/history";
  EXPECT_EQ(bare->Handle(r).status, 404);
  r.path = "/statusz/events";
  EXPECT_EQ(bare->Handle(r).status, 404);
}

TEST_F(StatuszTest, EventsWithoutAStreamingTransportAreAnEmptyStream) {
  HttpResponse r = Get("/statusz/events", "127.0.0.1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_THAT(r.body, HasSubstr(": this transport does not stream"));
}

}  // namespace
}  // namespace http
}  // namespace vigil
