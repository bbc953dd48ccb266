#include "health/http/endpoints.h"

#include <atomic>
#include <map>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/internal/http1.h"
#include "health/http/internal/utf8.h"
#include "health/report.h"
#include "health/testing/fake_clock.h"
#include "health/version.h"

namespace vigil {
namespace http {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr absl::string_view kRemote = "203.0.113.9";

// A registry on a fake clock whose checks return what the test scripts.
class EndpointsTest : public ::testing::Test {
 protected:
  EndpointsTest() : registry_(Options(&clock_)) {}

  static RegistryOptions Options(testing::FakeClock* clock) {
    RegistryOptions o;
    o.clock = clock;
    o.worker_threads = 2;
    o.service.name = "svc";
    o.service.version = "1.2.3";
    o.service.instance = "pod-7";
    return o;
  }

  void AddCheck(const std::string& name, std::vector<std::string> groups,
                CheckResult result, bool critical = true) {
    {
      MutexLock lock(&mu_);
      results_[name] = std::move(result);
    }
    Check c;
    c.name = name;
    c.options.groups = std::move(groups);
    c.options.critical = critical;
    c.options.failure_threshold = 1;
    c.options.interval = absl::Seconds(1);
    c.function = [this, name](const CheckContext&) {
      runs_.fetch_add(1);
      MutexLock lock(&mu_);
      return results_[name];
    };
    ASSERT_TRUE(registry_.Register(std::move(c)).ok());
  }

  void SetResult(const std::string& name, CheckResult result) {
    MutexLock lock(&mu_);
    results_[name] = std::move(result);
  }

  // Runs every due check once and waits for the results.
  void RunChecks() {
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  }

  // Advances past every interval and runs again.
  void RunAgain() {
    clock_.Advance(absl::Seconds(1));
    RunChecks();
  }

  // The standard fixture: liveness, readiness with a failing non-critical
  // check, a startup check, and a custom group "db".
  void AddStandardChecks() {
    AddCheck("loop", {"liveness"}, CheckResult::Healthy("ticking"));
    AddCheck("warm", {"startup"}, CheckResult::Healthy("warm"));
    CheckResult up = CheckResult::Healthy("connected in 0.3ms");
    up.observed_value = 0.0003;
    up.observed_unit = "seconds";
    up.details["peer"] = "10.0.0.5:6379";
    AddCheck("upstream", {"readiness", "db"}, up);
    AddCheck("scratch", {"readiness"},
             CheckResult::Unhealthy("/tmp: read-only file system"),
             /*critical=*/false);
  }

  std::unique_ptr<HealthEndpoints> Make(EndpointsOptions options = {}) {
    auto e = HealthEndpoints::Create(&registry_, std::move(options));
    EXPECT_TRUE(e.ok()) << e.status();
    return *std::move(e);
  }

  // Parses "GET <target>" the way the probe server does.
  static HttpRequest Request(absl::string_view target,
                             absl::string_view method = "GET",
                             absl::string_view remote = "127.0.0.1",
                             std::string headers = "") {
    const std::string raw =
        absl::StrCat(method, " ", target, " HTTP/1.1\r\n", headers, "\r\n");
    internal::ParseResult p = internal::ParseRequest(raw, {});
    EXPECT_EQ(p.state, internal::ParseResult::State::kComplete) << raw;
    p.request.remote_address = std::string(remote);
    return p.request;
  }

  HttpResponse Get(absl::string_view target,
                   absl::string_view remote = "127.0.0.1",
                   std::string headers = "") {
    return endpoints_->Handle(Request(target, "GET", remote, headers));
  }

  static std::string HeaderOf(const HttpResponse& r, absl::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  testing::FakeClock clock_;
  HealthRegistry registry_;
  std::unique_ptr<HealthEndpoints> endpoints_;
  std::atomic<int> runs_{0};
  Mutex mu_;
  std::map<std::string, CheckResult> results_ ABSL_GUARDED_BY(mu_);
};

TEST_F(EndpointsTest, GroupsAnswerOkOrAShortFailureLine) {
  AddStandardChecks();
  endpoints_ = Make();
  // Nothing has run yet: UNKNOWN does not pass; readiness waits for startup.
  HttpResponse r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "readyz check failed: startup not complete\n");
  EXPECT_EQ(Get("/livez").body, "livez check failed: loop\n");
  EXPECT_EQ(Get("/startupz").status, 503);

  RunChecks();
  for (const char* path : {"/livez", "/readyz", "/startupz", "/healthz"}) {
    HttpResponse ok = Get(path);
    EXPECT_EQ(ok.status, 200) << path;
    EXPECT_EQ(ok.body, "ok\n") << path;
    EXPECT_EQ(ok.content_type, "text/plain; charset=utf-8");
    EXPECT_THAT(ok.headers, Contains(Pair("Cache-Control", "no-store")));
  }

  SetResult("upstream", CheckResult::Unhealthy("connection refused"));
  RunAgain();
  r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "readyz check failed: upstream\n");
  EXPECT_THAT(r.headers, Contains(Pair("Cache-Control", "no-store")));
  EXPECT_EQ(Get("/livez").status, 200);  // liveness ignores dependencies
  EXPECT_EQ(Get("/healthz").status, 503);
}

TEST_F(EndpointsTest, DegradedPasses) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  // "scratch" fails but is not critical: readiness is DEGRADED, which passes.
  EXPECT_EQ(registry_.GroupStatus(kReadiness), Status::kDegraded);
  EXPECT_EQ(Get("/readyz").status, 200);
  SetResult("loop", CheckResult::Degraded("slow ticks"));
  RunAgain();
  EXPECT_EQ(Get("/livez").status, 200);
}

TEST_F(EndpointsTest, VerboseListsEveryCheckWithReasonsForLocalClients) {
  AddStandardChecks();
  AddCheck("cache", {"readiness"}, CheckResult::Degraded("hit ratio 0.2"));
  endpoints_ = Make();
  RunChecks();
  HttpResponse r = Get("/readyz?verbose");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "[+]cache degraded: hit ratio 0.2\n"
            "[-]scratch failed (non-critical): /tmp: read-only file system\n"
            "[+]upstream ok\n"
            "readyz check passed\n");

  SetResult("upstream", CheckResult::Unhealthy("refused\r\nInjected: yes"));
  RunAgain();
  r = Get("/readyz?verbose=1");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body,
              HasSubstr("[-]upstream failed: refused  Injected: yes\n"));
  EXPECT_THAT(r.body, ::testing::EndsWith("readyz check failed\n"));
}

TEST_F(EndpointsTest, VerboseWithholdsReasonsFromRemoteClients) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  SetResult("upstream", CheckResult::Unhealthy("password=hunter2 refused"));
  RunAgain();
  HttpResponse r = Get("/readyz?verbose", kRemote);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            "[-]scratch failed (non-critical): reason withheld\n"
            "[-]upstream failed: reason withheld\n"
            "readyz check failed\n");
  EXPECT_THAT(r.body, Not(HasSubstr("hunter2")));
}

TEST_F(EndpointsTest, VerboseShowsDrainAndUnknownChecks) {
  AddStandardChecks();
  AddCheck("slow", {"readiness"}, CheckResult::Healthy());
  endpoints_ = Make();
  EXPECT_EQ(Get("/readyz?verbose").body,
            "[-]scratch failed (non-critical): not evaluated yet\n"
            "[-]slow failed: not evaluated yet\n"
            "[-]upstream failed: not evaluated yet\n"
            "[-]readiness failed: startup not complete\n"
            "readyz check failed\n");
}

TEST_F(EndpointsTest, DrainFailsReadinessAtOnceOnly) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  ASSERT_EQ(Get("/readyz").status, 200);
  registry_.BeginShutdown();
  HttpResponse r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "readyz check failed: shutting down\n");
  EXPECT_THAT(Get("/readyz?verbose").body,
              HasSubstr("[-]readiness failed: shutting down\n"));
  EXPECT_EQ(Get("/livez").status, 200);
  EXPECT_EQ(Get("/startupz").status, 200);
  auto report = HealthReportFromJson(Get("/readyz?format=json").body);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->shutting_down());
  EXPECT_EQ(report->status(), v1::STATUS_UNHEALTHY);
  EXPECT_EQ(report->groups(0).reason(), "shutting down");
}

TEST_F(EndpointsTest, ExcludeLeavesChecksOutAndReportsUnknownNames) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  SetResult("upstream", CheckResult::Unhealthy("refused"));
  RunAgain();
  ASSERT_EQ(Get("/readyz").status, 503);

  HttpResponse r = Get("/readyz?exclude=upstream");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(HeaderOf(r, "Vigil-Warning"), "");

  r = Get("/readyz?verbose&exclude=upstream&exclude=scratch");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "[+]scratch excluded: ok\n"
            "[+]upstream excluded: ok\n"
            "readyz check passed\n");

  r = Get("/readyz?exclude=upstream&exclude=nosuch&exclude=loop");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "warn: some health checks cannot be excluded: no matches for "
            "\"nosuch\",\"loop\"\nok\n");
  EXPECT_EQ(HeaderOf(r, "Vigil-Warning"),
            "warn: some health checks cannot be excluded: no matches for "
            "\"nosuch\",\"loop\"");

  r = Get("/readyz?verbose&exclude=nosuch");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("no matches for \"nosuch\"\nreadyz check "
                                "failed\n"));

  // JSON leaves excluded checks out and recomputes the status.
  auto report =
      HealthReportFromJson(Get("/readyz?format=json&exclude=upstream").body);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->status(), v1::STATUS_DEGRADED);
  ASSERT_EQ(report->checks_size(), 1);
  EXPECT_EQ(report->checks(0).name(), "scratch");
}

TEST_F(EndpointsTest, PerCheckPaths) {
  AddStandardChecks();
  AddCheck("disk:/var/lib", {"readiness"}, CheckResult::Healthy("12% used"));
  endpoints_ = Make();
  RunChecks();
  EXPECT_EQ(Get("/readyz/upstream").status, 200);
  EXPECT_EQ(Get("/readyz/upstream").body, "ok\n");
  EXPECT_EQ(Get("/healthz/loop").status, 200);
  EXPECT_EQ(Get("/readyz/disk:/var/lib").status, 200);
  EXPECT_EQ(Get("/healthz/disk%3A%2Fvar%2Flib").status, 200);
  EXPECT_EQ(Get("/dbz/upstream").status, 200);
  // The non-critical failing check answers for itself.
  HttpResponse r = Get("/readyz/scratch");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "readyz/scratch check failed: unhealthy\n");
  EXPECT_EQ(Get("/readyz/scratch?verbose").body,
            "[-]scratch failed (non-critical): /tmp: read-only file system\n"
            "readyz/scratch check failed\n");
  // Unknown, or not in that group: 404.
  r = Get("/readyz/nosuch");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "unknown check \"nosuch\" in readyz\n");
  EXPECT_EQ(Get("/livez/upstream").status, 404);
  EXPECT_EQ(Get("/readyz/").status, 404);
}

TEST_F(EndpointsTest, CustomGroupsAndUnknownPaths) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  EXPECT_EQ(Get("/dbz").status, 200);
  EXPECT_EQ(Get("/dbz?verbose").body, "[+]upstream ok\ndbz check passed\n");
  SetResult("upstream", CheckResult::Unhealthy("refused"));
  RunAgain();
  EXPECT_EQ(Get("/dbz").status, 503);
  EXPECT_EQ(Get("/dbz").body, "dbz check failed: upstream\n");
  for (const char* path : {"/", "/nosuchz", "/db", "/readinessz", "/allz",
                           "/livezz", "/metricsx", "/favicon.ico"}) {
    HttpResponse r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(r.headers, Contains(Pair("Cache-Control", "no-store")));
  }
}

TEST_F(EndpointsTest, JsonIsTheHealthReportOfTheGroup) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  for (const HttpResponse& r :
       {Get("/readyz?format=json"),
        Get("/readyz", "127.0.0.1", "Accept: application/json\r\n")}) {
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/json");
    absl::StatusOr<v1::HealthReport> report = HealthReportFromJson(r.body);
    ASSERT_TRUE(report.ok()) << report.status() << r.body;
    EXPECT_EQ(report->status(), v1::STATUS_DEGRADED);
    EXPECT_EQ(report->service().name(), "svc");
    EXPECT_EQ(report->service().instance(), "pod-7");
    ASSERT_EQ(report->groups_size(), 1);
    EXPECT_EQ(report->groups(0).name(), "readiness");
    ASSERT_EQ(report->checks_size(), 2);
    EXPECT_EQ(report->checks(0).name(), "scratch");
    EXPECT_EQ(report->checks(1).name(), "upstream");
    EXPECT_EQ(report->checks(1).message(), "connected in 0.3ms");
    EXPECT_DOUBLE_EQ(report->checks(1).observed_value(), 0.0003);
    EXPECT_EQ(report->checks(1).details().at("peer"), "10.0.0.5:6379");
  }
  // /healthz: every check and every group.
  auto all = HealthReportFromJson(Get("/healthz?format=json").body);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->checks_size(), 4);
  std::vector<std::string> groups;
  for (const auto& g : all->groups()) groups.push_back(g.name());
  EXPECT_THAT(groups,
              ElementsAre("all", "db", "liveness", "readiness", "startup"));
  // One check.
  auto one = HealthReportFromJson(Get("/livez/loop?format=json").body);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->checks_size(), 1);
  EXPECT_EQ(one->checks(0).name(), "loop");
  EXPECT_EQ(one->status(), v1::STATUS_HEALTHY);
}

TEST_F(EndpointsTest, ProtobufDecodes) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  SetResult("upstream", CheckResult::Unhealthy("refused"));
  RunAgain();
  for (const HttpResponse& r :
       {Get("/readyz?format=protobuf"),
        Get("/readyz", "127.0.0.1", "Accept: application/x-protobuf\r\n")}) {
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.content_type, "application/x-protobuf");
    v1::HealthReport report;
    ASSERT_TRUE(report.ParseFromString(r.body));
    EXPECT_EQ(report.status(), v1::STATUS_UNHEALTHY);
    ASSERT_EQ(report.checks_size(), 2);
    EXPECT_EQ(report.checks(1).name(), "upstream");
    EXPECT_EQ(report.checks(1).status(), v1::STATUS_UNHEALTHY);
    EXPECT_EQ(report.checks(1).message(), "refused");
    EXPECT_EQ(report.checks(1).consecutive_failures(), 1);
  }
}

TEST_F(EndpointsTest, StructuredFormatsRedactForRemoteClients) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  auto report = HealthReportFromJson(Get("/readyz?format=json", kRemote).body);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->checks_size(), 2);
  const v1::CheckResult& up = report->checks(1);
  EXPECT_EQ(up.name(), "upstream");
  EXPECT_EQ(up.status(), v1::STATUS_HEALTHY);
  EXPECT_EQ(up.message(), "");
  EXPECT_FALSE(up.has_observed_value());
  EXPECT_TRUE(up.details().empty());

  v1::HealthReport pb;
  ASSERT_TRUE(pb.ParseFromString(Get("/readyz?format=pb", kRemote).body));
  EXPECT_EQ(pb.checks(1).message(), "");
  EXPECT_FALSE(pb.checks(1).has_observed_value());
}

TEST_F(EndpointsTest, FormatNegotiationEdges) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  HttpResponse r = Get("/readyz?format=xml");
  EXPECT_EQ(r.status, 406);
  EXPECT_EQ(r.body,
            "unsupported format \"xml\"; supported formats: text, json, "
            "protobuf\n");
  EXPECT_THAT(r.headers, Contains(Pair("Cache-Control", "no-store")));
  // ?format wins over Accept.
  EXPECT_EQ(
      Get("/readyz?format=text", "127.0.0.1", "Accept: application/json\r\n")
          .body,
      "ok\n");
  // Malformed Accept: text, still 200.
  r = Get("/readyz", "127.0.0.1", "Accept: application/json;q=oops;;\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  r = Get("/readyz", "127.0.0.1", "Accept: image/png\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
}

TEST_F(EndpointsTest, MethodsOtherThanGetAndHead) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "TRACE"}) {
    HttpResponse r = endpoints_->Handle(Request("/readyz", method));
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_THAT(r.headers, Contains(Pair("Allow", "GET, HEAD, OPTIONS")));
    EXPECT_THAT(r.headers, Contains(Pair("Cache-Control", "no-store")));
  }
  EXPECT_EQ(endpoints_->Handle(Request("/metrics", "POST")).status, 405);
  HttpResponse options = endpoints_->Handle(Request("/livez", "OPTIONS"));
  EXPECT_EQ(options.status, 204);
  EXPECT_THAT(options.headers, Contains(Pair("Allow", "GET, HEAD, OPTIONS")));
  HttpResponse head = endpoints_->Handle(Request("/readyz", "HEAD"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "ok\n");  // the transport drops it, keeping the length
  // Unknown paths are 404 whatever the method.
  EXPECT_EQ(endpoints_->Handle(Request("/nope", "POST")).status, 404);
}

TEST_F(EndpointsTest, ProbesNeverRunChecks) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  const int runs = runs_.load();
  ASSERT_EQ(runs, 4);
  for (int i = 0; i < 200; ++i) {
    Get("/readyz?verbose");
    Get("/healthz?format=json");
    Get("/metrics");
  }
  EXPECT_EQ(runs_.load(), runs);
}

TEST_F(EndpointsTest, ConfigurablePaths) {
  AddStandardChecks();
  EndpointsOptions o;
  o.paths.livez = "/alive";
  o.paths.metrics = "";
  o.paths.custom_groups = false;
  endpoints_ = Make(o);
  RunChecks();
  EXPECT_EQ(Get("/alive").status, 200);
  EXPECT_EQ(Get("/alive/loop").status, 200);
  EXPECT_EQ(Get("/livez").status, 404);
  EXPECT_EQ(Get("/metrics").status, 404);
  EXPECT_EQ(Get("/dbz").status, 404);
  EXPECT_EQ(Get("/readyz").status, 200);
}

TEST_F(EndpointsTest, CreateValidatesOptions) {
  EndpointsOptions o;
  o.paths.readyz = "/ready/z";
  absl::StatusOr<std::unique_ptr<HealthEndpoints>> e =
      HealthEndpoints::Create(&registry_, o);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("paths.readyz"));

  o = {};
  o.paths.metrics = "/livez";
  e = HealthEndpoints::Create(&registry_, o);
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("paths.metrics: \"/livez\" is used twice"));
  o = {};
  o.paths.healthz = "health";
  EXPECT_FALSE(HealthEndpoints::Create(&registry_, o).ok());
  EXPECT_FALSE(HealthEndpoints::Create(nullptr).ok());
}

TEST(DetailsPolicyTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.255.0.3"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("::2"));
  EXPECT_FALSE(IsLoopbackAddress("localhost"));
  EXPECT_FALSE(IsLoopbackAddress(""));
}

TEST(DetailsPolicyTest, ModesTokenAndInjectedLocality) {
  EndpointsOptions o;
  EXPECT_TRUE(DetailsAllowed(o, "127.0.0.1", ""));
  EXPECT_FALSE(DetailsAllowed(o, "10.1.1.1", ""));
  // No token configured: no header unlocks details.
  EXPECT_FALSE(DetailsAllowed(o, "10.1.1.1", "Bearer "));

  o.bearer_token = "s3cret";
  EXPECT_TRUE(DetailsAllowed(o, "10.1.1.1", "Bearer s3cret"));
  EXPECT_TRUE(DetailsAllowed(o, "10.1.1.1", "bearer   s3cret "));
  EXPECT_FALSE(DetailsAllowed(o, "10.1.1.1", "Bearer s3cre"));
  EXPECT_FALSE(DetailsAllowed(o, "10.1.1.1", "Bearer s3cret2"));
  EXPECT_FALSE(DetailsAllowed(o, "10.1.1.1", "Basic s3cret"));
  EXPECT_FALSE(DetailsAllowed(o, "10.1.1.1", "Bearers3cret"));
  EXPECT_FALSE(DetailsAllowed(o, "10.1.1.1", "s3cret"));

  o.is_local_address = [](absl::string_view) { return false; };
  EXPECT_FALSE(DetailsAllowed(o, "127.0.0.1", ""));
  EXPECT_TRUE(DetailsAllowed(o, "127.0.0.1", "Bearer s3cret"));

  o.details = DetailsPolicy::kNever;
  EXPECT_FALSE(DetailsAllowed(o, "127.0.0.1", "Bearer s3cret"));
  o.details = DetailsPolicy::kAlways;
  EXPECT_TRUE(DetailsAllowed(o, "10.1.1.1", ""));
}

TEST(DetailsPolicyTest, ParsesNames) {
  EXPECT_EQ(*ParseDetailsPolicy("always"), DetailsPolicy::kAlways);
  EXPECT_EQ(*ParseDetailsPolicy("loopback_or_token"),
            DetailsPolicy::kLoopbackOrToken);
  EXPECT_EQ(*ParseDetailsPolicy("never"), DetailsPolicy::kNever);
  EXPECT_EQ(ParseDetailsPolicy("sometimes").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DetailsPolicyName(DetailsPolicy::kNever), "never");
}

TEST_F(EndpointsTest, DetailsFollowPolicyForEveryRequest) {
  AddStandardChecks();
  EndpointsOptions o;
  o.bearer_token = "tok";
  endpoints_ = Make(o);
  RunChecks();
  const std::string reason = "read-only file system";
  EXPECT_THAT(Get("/readyz?verbose").body, HasSubstr(reason));
  EXPECT_THAT(Get("/readyz?verbose", kRemote).body, Not(HasSubstr(reason)));
  EXPECT_THAT(
      Get("/readyz?verbose", kRemote, "Authorization: Bearer tok\r\n").body,
      HasSubstr(reason));
  EXPECT_THAT(
      Get("/readyz?verbose", kRemote, "Authorization: Bearer nope\r\n").body,
      Not(HasSubstr(reason)));

  o.details = DetailsPolicy::kNever;
  endpoints_ = Make(o);
  EXPECT_THAT(Get("/readyz?verbose").body, HasSubstr("reason withheld"));
  o.details = DetailsPolicy::kAlways;
  endpoints_ = Make(o);
  EXPECT_THAT(Get("/readyz?verbose", kRemote).body, HasSubstr(reason));
}

// Messages, details and units may hold any bytes (check names are validated
// at registration); every format answers with valid UTF-8 (invalid bytes
// become U+FFFD) instead of failing.
class InvalidUtf8Test : public EndpointsTest {
 protected:
  static constexpr absl::string_view kFffd = "\xEF\xBF\xBD";

  void SetUp() override {
    CheckResult bad = CheckResult::Unhealthy("refused \xC3\x28 by peer\xFF");
    bad.details["path\xFE"] = "/data/caf\xE9";
    bad.observed_value = 0.5;
    bad.observed_unit = "ratio\xC0";
    AddCheck("disk", {"readiness"}, bad);
    AddCheck("ok", {"readiness"}, CheckResult::Healthy("fine"));
    endpoints_ = Make();
    RunChecks();
  }

  static std::string Fixed(absl::string_view prefix, absl::string_view rest) {
    return absl::StrCat(prefix, kFffd, rest);
  }
};

TEST_F(InvalidUtf8Test, JsonAnswersInsteadOf500) {
  const HttpResponse r = Get("/readyz?format=json");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_TRUE(internal::IsValidUtf8(r.body));
  absl::StatusOr<v1::HealthReport> report = HealthReportFromJson(r.body);
  ASSERT_TRUE(report.ok()) << report.status() << r.body;
  ASSERT_EQ(report->checks_size(), 2);
  const v1::CheckResult& c = report->checks(0);
  EXPECT_EQ(c.name(), "disk");
  EXPECT_EQ(c.observed_unit(), Fixed("ratio", ""));
  EXPECT_EQ(c.message(), absl::StrCat(Fixed("refused ", "( by peer"), kFffd));
  EXPECT_EQ(c.details().at(Fixed("path", "")), Fixed("/data/caf", ""));
  // The single-check answer too.
  const HttpResponse one = Get("/readyz/disk?format=json");
  EXPECT_EQ(one.status, 503) << one.body;
  EXPECT_TRUE(HealthReportFromJson(one.body).ok()) << one.body;
}

TEST_F(InvalidUtf8Test, ProtobufParsesWithProto3Checks) {
  const HttpResponse r = Get("/readyz?format=protobuf");
  EXPECT_EQ(r.status, 503);
  v1::HealthReport report;
  // proto3 parsing rejects strings that are not UTF-8.
  ASSERT_TRUE(report.ParseFromString(r.body));
  ASSERT_EQ(report.checks_size(), 2);
  EXPECT_EQ(report.checks(0).name(), "disk");
  EXPECT_EQ(report.checks(0).details().at(Fixed("path", "")),
            Fixed("/data/caf", ""));
}

TEST_F(InvalidUtf8Test, TextLinesAreValidUtf8) {
  const HttpResponse r = Get("/readyz?verbose");
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(internal::IsValidUtf8(r.body)) << r.body;
  EXPECT_THAT(r.body, HasSubstr(absl::StrCat(
                          "[-]disk failed: ", Fixed("refused ", "( by peer"),
                          kFffd, "\n")));
}

TEST_F(InvalidUtf8Test, MetricsLabelsAreValidUtf8) {
  const HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(internal::IsValidUtf8(r.body));
  EXPECT_THAT(r.body, HasSubstr(absl::StrCat("check=\"disk\",unit=\"",
                                             Fixed("ratio", "\"}"))));
}

TEST_F(EndpointsTest, MetricsReportStatusTimingAndIdentity) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  clock_.Advance(absl::Milliseconds(7500));
  HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.headers, Contains(Pair("Cache-Control", "no-store")));
  const std::string& m = r.body;
  EXPECT_THAT(m, HasSubstr(absl::StrCat(
                     "vigil_build_info{service=\"svc\",version=\"1.2.3\","
                     "instance=\"pod-7\",vigil_version=\"",
                     kVersion, "\"} 1\n")));
  EXPECT_THAT(m, HasSubstr("vigil_process_start_time_seconds 1767225600\n"));
  EXPECT_THAT(m, HasSubstr("vigil_startup_complete 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_shutting_down 0\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_status{check=\"upstream\",state="
                           "\"healthy\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_status{check=\"upstream\",state="
                           "\"unhealthy\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_status{check=\"scratch\",state="
                           "\"unhealthy\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_passing{check=\"scratch\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("vigil_group_status{group=\"readiness\",state="
                           "\"degraded\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_group_passing{group=\"readiness\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_group_passing{group=\"db\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_time_in_state_seconds{check="
                           "\"upstream\"} 7.5\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_consecutive_failures{check="
                           "\"scratch\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_runs_total{check=\"loop\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_last_duration_seconds{check="
                           "\"loop\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_info{check=\"upstream\",kind=\"self\","
                           "critical=\"true\",groups=\"db,readiness\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("# TYPE vigil_check_runs_total counter\n"));
  // Details for a local scrape.
  EXPECT_THAT(m, HasSubstr("vigil_check_observed_value{check=\"upstream\","
                           "unit=\"seconds\"} 3e-04\n"));
  // Not for a remote one without a token.
  EXPECT_THAT(Get("/metrics", kRemote).body,
              Not(HasSubstr("vigil_check_observed_value")));
}

TEST_F(EndpointsTest, MetricsShowTimeToExhaustionAndDrain) {
  CheckResult disk = CheckResult::Degraded("disk 91% full");
  disk.observed_value = 0.91;
  disk.observed_unit = "ratio";
  disk.warn_threshold = 0.9;
  disk.critical_threshold = 0.97;
  disk.time_to_exhaustion = absl::Minutes(40);
  AddCheck("disk:/data", {"readiness"}, disk);
  endpoints_ = Make();
  RunChecks();
  registry_.BeginShutdown();
  const std::string m = Get("/metrics").body;
  EXPECT_THAT(m, HasSubstr("vigil_check_time_to_exhaustion_seconds{check="
                           "\"disk:/data\"} 2400\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_warn_threshold{check=\"disk:/data\","
                           "unit=\"ratio\"} 0.9\n"));
  EXPECT_THAT(m, HasSubstr("vigil_check_critical_threshold{check="
                           "\"disk:/data\",unit=\"ratio\"} 0.97\n"));
  EXPECT_THAT(m, HasSubstr("vigil_shutting_down 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_group_passing{group=\"readiness\"} 0\n"));
}

TEST_F(EndpointsTest, CollectorsAppendFamiliesAndAreIsolated) {
  AddStandardChecks();
  endpoints_ = Make();
  RunChecks();
  const uint64_t queue =
      endpoints_->AddMetricsCollector([](PrometheusWriter& w, bool details) {
        w.BeginFamily("app_queue_depth", MetricType::kGauge, "Queue depth.");
        w.Add({{"queue", "in"}}, details ? 5 : -1);
      });
  endpoints_->AddMetricsCollector(
      [](PrometheusWriter&, bool) { throw std::runtime_error("boom\nline"); });
  endpoints_->AddMetricsCollector([](PrometheusWriter& w, bool) {
    w.Gauge("vigil_check_status", "clash with vigil's own", 1);
    w.Gauge("app_after", "still written", 2);
  });
  std::string m = Get("/metrics").body;
  EXPECT_THAT(m, HasSubstr("app_queue_depth{queue=\"in\"} 5\n"));
  EXPECT_THAT(Get("/metrics", kRemote).body,
              HasSubstr("app_queue_depth{queue=\"in\"} -1\n"));
  EXPECT_THAT(m, HasSubstr("# vigil: collector 2 threw: boom line\n"));
  EXPECT_THAT(m, HasSubstr("# vigil: family vigil_check_status written "
                           "twice\n"));
  EXPECT_THAT(m, HasSubstr("app_after 2\n"));
  endpoints_->RemoveMetricsCollector(queue);
  EXPECT_THAT(Get("/metrics").body, Not(HasSubstr("app_queue_depth")));
}

}  // namespace
}  // namespace http
}  // namespace vigil
