#include "health/checks/internal/net.h"

#include <netdb.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/internal/http_client.h"
#include "health/checks/internal/result_util.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace checks {
namespace internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseHostPortTest, AcceptsNamesAndLiterals) {
  absl::StatusOr<HostPort> hp = ParseHostPort("db-1.internal:5432", "address");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "db-1.internal");
  EXPECT_EQ(hp->port, 5432);
  hp = ParseHostPort("127.0.0.1:6379", "address");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  hp = ParseHostPort("[::1]:80", "address");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 80);
  hp = ParseHostPort("localhost.:65535", "address");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->port, 65535);
}

TEST(ParseHostPortTest, RejectsMalformedInputNamingTheField) {
  for (const char* bad :
       {"", "localhost", "localhost:", "localhost:0", "localhost:65536",
        "localhost:http", "local host:80", "::1:80", "[::1]80", "[zz::g]:80",
        "-bad.example:80", "bad-.example:80", "a..b:80", "999.1.1.1:80",
        "[::1:80", "host_name!:80"}) {
    absl::StatusOr<HostPort> hp = ParseHostPort(bad, "upstream");
    EXPECT_EQ(hp.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(hp.status().message(), HasSubstr("upstream")) << bad;
  }
}

TEST(FormatHostPortTest, BracketsIpv6) {
  EXPECT_EQ(FormatHostPort("::1", 80), "[::1]:80");
  EXPECT_EQ(FormatHostPort("10.0.0.1", 80), "10.0.0.1:80");
  EXPECT_EQ(FormatHostPort("example.com", 443), "example.com:443");
}

TEST(ParseUrlTest, ParsesSchemesPortsAndTargets) {
  absl::StatusOr<Url> u =
      ParseUrl("http://example.com/healthz?x=1#frag", "url");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE(u->https);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/healthz?x=1");
  EXPECT_EQ(u->path, "/healthz");
  EXPECT_EQ(u->Display(), "http://example.com/healthz");
  EXPECT_EQ(u->HostHeader(), "example.com");

  u = ParseUrl("HTTPS://[::1]:8443", "url");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->HostHeader(), "[::1]:8443");

  u = ParseUrl("https://example.com?token=abc", "url");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/?token=abc");
  EXPECT_THAT(u->Display(), Not(HasSubstr("token")));
}

TEST(ParseUrlTest, RejectsMalformedUrlsNamingTheField) {
  for (const char* bad :
       {"", "example.com/x", "ftp://example.com/", "http://", "http:///x",
        "http://exa mple.com/", "http://example.com:0/",
        "http://example.com:99999/", "http://[::1/", "http://[::1]x/",
        "http://bad_host!/", "http://example.com/a b"}) {
    absl::StatusOr<Url> u = ParseUrl(bad, "url");
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(u.status().message(), HasSubstr("url")) << bad;
  }
}

TEST(ParseUrlTest, RejectsCredentialsWithoutEchoingThem) {
  absl::StatusOr<Url> u =
      ParseUrl("https://admin:hunter2-secret@example.com/", "url");
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(u.status().message(), HasSubstr("credentials"));
  EXPECT_THAT(u.status().message(), Not(HasSubstr("hunter2-secret")));
}

TEST(IoDeadlineTest, ForRunKeepsAMarginBeforeTheContextDeadline) {
  vigil::testing::FakeClock clock;
  const absl::Time start = clock.Now();
  IoDeadline d = IoDeadline::ForRun(&clock, start, start + absl::Seconds(2),
                                    absl::Seconds(9));
  // 10% margin capped at 100ms.
  EXPECT_EQ(d.budget(), absl::Milliseconds(1900));
  EXPECT_EQ(d.Remaining(), absl::Milliseconds(1900));
  EXPECT_EQ(d.RemainingMs(), 1900);
  clock.Advance(absl::Milliseconds(1899));
  EXPECT_FALSE(d.Expired());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(d.Expired());
  EXPECT_EQ(d.RemainingMs(), 0);

  d = IoDeadline::ForRun(&clock, clock.Now(),
                         clock.Now() + absl::Milliseconds(500),
                         absl::Seconds(9));
  EXPECT_EQ(d.budget(), absl::Milliseconds(450));
}

TEST(IoDeadlineTest, ForRunFallsBackWhenTheContextHasNoDeadline) {
  vigil::testing::FakeClock clock;
  IoDeadline d =
      IoDeadline::ForRun(&clock, absl::Time(), absl::Time(), absl::Seconds(3));
  EXPECT_EQ(d.budget(), absl::Seconds(3) - absl::Milliseconds(100));
}

TEST(IoDeadlineTest, ARunThatStartsAtItsDeadlineHasNoBudget) {
  vigil::testing::FakeClock clock;
  const absl::Time t = clock.Now();
  IoDeadline d = IoDeadline::ForRun(&clock, t, t, absl::Seconds(3));
  EXPECT_EQ(d.budget(), absl::ZeroDuration());
  EXPECT_TRUE(d.Expired());
}

TEST(FailureKindTest, RoundTripsThroughStatusPayload) {
  absl::Status s = WithKind(absl::UnavailableError("x"), FailureKind::kRefused);
  EXPECT_EQ(KindOf(s), FailureKind::kRefused);
  EXPECT_EQ(KindOf(absl::UnavailableError("y")), FailureKind::kOther);
  EXPECT_TRUE(WithKind(absl::OkStatus(), FailureKind::kRefused).ok());
}

TEST(ClassifyConnectErrnoTest, MapsErrnos) {
  EXPECT_EQ(ClassifyConnectErrno(ECONNREFUSED), FailureKind::kRefused);
  EXPECT_EQ(ClassifyConnectErrno(ENETUNREACH), FailureKind::kUnreachable);
  EXPECT_EQ(ClassifyConnectErrno(EHOSTUNREACH), FailureKind::kUnreachable);
  EXPECT_EQ(ClassifyConnectErrno(ETIMEDOUT), FailureKind::kTimedOut);
  EXPECT_EQ(ClassifyConnectErrno(ECONNRESET), FailureKind::kReset);
  EXPECT_EQ(ClassifyConnectErrno(EACCES), FailureKind::kOther);
}

TEST(ResolverTest, LiteralsNeedNoLookup) {
  std::atomic<int> lookups{0};
  Resolver r([&](const std::string&, int, std::vector<Address>*) {
    ++lookups;
    return EAI_FAIL;
  });
  IoDeadline d(Clock::Real(), Clock::Real()->Now() + absl::Seconds(1));
  absl::StatusOr<std::vector<Address>> a =
      r.Resolve("127.0.0.1", 80, AF_UNSPEC, d);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].ToString(), "127.0.0.1:80");
  a = r.Resolve("::1", 443, AF_UNSPEC, d);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)[0].ToString(), "[::1]:443");
  a = r.Resolve("::1", 443, AF_INET, d);
  EXPECT_EQ(KindOf(a.status()), FailureKind::kResolve);
  EXPECT_EQ(lookups.load(), 0);
}

TEST(ResolverTest, ResolvesLocalhostWithTheSystemResolver) {
  Resolver r;
  IoDeadline d(Clock::Real(), Clock::Real()->Now() + absl::Seconds(10));
  absl::StatusOr<std::vector<Address>> a =
      r.Resolve("localhost", 8080, AF_INET, d);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_FALSE(a->empty());
  EXPECT_EQ((*a)[0].ToString(), "127.0.0.1:8080");
}

TEST(ResolverTest, ClassifiesLookupErrors) {
  int code = EAI_NONAME;
  Resolver r(
      [&](const std::string&, int, std::vector<Address>*) { return code; });
  IoDeadline d(Clock::Real(), Clock::Real()->Now() + absl::Seconds(10));
  absl::StatusOr<std::vector<Address>> a =
      r.Resolve("db.example", 1, AF_UNSPEC, d);
  EXPECT_EQ(KindOf(a.status()), FailureKind::kResolve);
  EXPECT_THAT(a.status().message(), HasSubstr("name not found: db.example"));
  code = EAI_AGAIN;
  a = r.Resolve("db.example", 1, AF_UNSPEC, d);
  EXPECT_EQ(KindOf(a.status()), FailureKind::kResolveAgain);
  EXPECT_THAT(a.status().message(), HasSubstr("temporary failure"));
}

// A lookup that blocks until the test releases it, like getaddrinfo(3)
// waiting on a DNS server that never answers.
class BlockingLookup {
 public:
  LookupFunction Function() {
    return [this](const std::string& host, int, std::vector<Address>* out) {
      MutexLock lock(&mu_);
      ++started_;
      mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return released_; });
      if (host == "slow.example") {
        Address a;
        auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(0x7f000001);
        a.length = sizeof(sockaddr_in);
        out->push_back(a);
        return 0;
      }
      return EAI_NONAME;
    };
  }
  void Release() {
    MutexLock lock(&mu_);
    released_ = true;
  }
  int started() {
    MutexLock lock(&mu_);
    return started_;
  }

 private:
  Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(ResolverTest, GivesUpAtTheDeadlineWhileTheLookupHangs) {
  BlockingLookup lookup;
  Resolver r(lookup.Function());
  IoDeadline d(Clock::Real(), Clock::Real()->Now() + absl::Milliseconds(200));
  d.set_budget(absl::Milliseconds(200));
  absl::StatusOr<std::vector<Address>> a =
      r.Resolve("slow.example", 1, AF_UNSPEC, d);
  EXPECT_EQ(KindOf(a.status()), FailureKind::kTimedOut);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(a.status().message(),
              HasSubstr("timed out after 200ms resolving slow.example"));
  // The lookup is still stuck: the caller did not wait for it. (Under load
  // the helper thread may not have entered it by the deadline yet.)
  ASSERT_TRUE(vigil::testing::WaitFor([&] { return lookup.started() == 1; },
                                      absl::Seconds(10)));

  // A second caller for the same name joins the lookup in flight instead of
  // queueing another; other names queue up to the limit, then fail fast.
  IoDeadline now_expired(Clock::Real(), Clock::Real()->Now());
  a = r.Resolve("slow.example", 1, AF_UNSPEC, now_expired);
  EXPECT_EQ(KindOf(a.status()), FailureKind::kTimedOut);
  for (int i = 0; i < Resolver::kMaxQueued - 1; ++i) {
    a = r.Resolve(absl::StrCat("n", i, ".example"), 1, AF_UNSPEC, now_expired);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kDeadlineExceeded) << i;
  }
  a = r.Resolve("one-too-many.example", 1, AF_UNSPEC, now_expired);
  EXPECT_THAT(a.status().message(), HasSubstr("resolver busy"));

  lookup.Release();
  // Once the lookup completes, a new call for that name succeeds.
  IoDeadline later(Clock::Real(), Clock::Real()->Now() + absl::Seconds(10));
  a = r.Resolve("slow.example", 7, AF_UNSPEC, later);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)[0].ToString(), "127.0.0.1:7");
}

// getaddrinfo cannot be cancelled: destroying the resolver while a lookup
// hangs returns within kShutdownTimeout, and the lookup, released later,
// finishes on the detached helper without touching the destroyed resolver.
TEST(ResolverTest, DestructionWhileALookupHangsIsBounded) {
  static BlockingLookup* const lookup = new BlockingLookup();  // Outlives r.
  auto r = std::make_unique<Resolver>(lookup->Function());
  IoDeadline d(Clock::Real(), Clock::Real()->Now() + absl::Milliseconds(50));
  EXPECT_FALSE(r->Resolve("slow.example", 1, AF_UNSPEC, d).ok());
  ASSERT_EQ(lookup->started(), 1);
  const absl::Time start = absl::Now();
  r.reset();
  const absl::Duration took = absl::Now() - start;
  std::cerr << "MEASURED resolver destruction with a hung lookup: "
            << absl::FormatDuration(took) << "\n";
  EXPECT_GE(took, Resolver::kShutdownTimeout);
  EXPECT_LT(took, Resolver::kShutdownTimeout + absl::Seconds(1));
  lookup->Release();  // Finishes on the detached helper (ASan: no UAF).
}

// An idle resolver is destroyed at once.
TEST(ResolverTest, DestructionOfAnIdleResolverIsImmediate) {
  auto r = std::make_unique<Resolver>(
      [](const std::string&, int, std::vector<Address>*) { return 0; });
  IoDeadline d(Clock::Real(), Clock::Real()->Now() + absl::Seconds(10));
  EXPECT_FALSE(r->Resolve("empty.example", 1, AF_UNSPEC, d).ok());
  const absl::Time start = absl::Now();
  r.reset();  // Joins the idle helper.
  EXPECT_LT(absl::Now() - start, Resolver::kShutdownTimeout / 2);
}

TEST(ResolverTest, DeadlineFollowsTheInjectedClock) {
  vigil::testing::FakeClock clock;
  BlockingLookup lookup;
  Resolver r(lookup.Function());
  IoDeadline d(&clock, clock.Now() + absl::Seconds(5));
  absl::Status result;
  std::atomic<bool> finished{false};
  std::thread caller([&] {
    result = r.Resolve("slow.example", 1, AF_UNSPEC, d).status();
    finished = true;
  });
  ASSERT_TRUE(vigil::testing::WaitFor([&] { return lookup.started() == 1; },
                                      absl::Seconds(10)));
  // Real time passes but the fake clock does not: the caller keeps waiting.
  EXPECT_FALSE(vigil::testing::WaitFor([&] { return finished.load(); },
                                       absl::Milliseconds(100)));
  clock.Advance(absl::Seconds(4));
  EXPECT_FALSE(vigil::testing::WaitFor([&] { return finished.load(); },
                                       absl::Milliseconds(50)));
  clock.Advance(absl::Seconds(1));
  caller.join();
  EXPECT_EQ(KindOf(result), FailureKind::kTimedOut);
  lookup.Release();
}

TEST(RedactorTest, ScrubsSecretsFromMessagesAndDetails) {
  Redactor r;
  r.Add("s3cret-password");
  r.Add("abc");  // Too short to scrub safely.
  CheckResult res =
      CheckResult::Unhealthy("auth as bob with s3cret-password failed");
  res.details["conn"] = "password=s3cret-password host=x";
  r.ScrubResult(&res);
  EXPECT_EQ(res.message, "auth as bob with **** failed");
  EXPECT_EQ(res.details["conn"], "password=**** host=x");
  EXPECT_EQ(r.Scrub("abc"), "abc");
}

TEST(SanitizeCheckNameTest, ProducesValidNames) {
  EXPECT_EQ(SanitizeCheckName("tcp:[::1]:80"), "tcp:::1:80");
  EXPECT_EQ(SanitizeCheckName("file:/var/backups/*.tar"),
            "file:/var/backups/_.tar");
  EXPECT_EQ(SanitizeCheckName(std::string(300, 'a')).size(), 128u);
  Check c;
  c.name = SanitizeCheckName("weird name?&=");
  c.function = [](const CheckContext&) { return CheckResult::Healthy(); };
  EXPECT_TRUE(ValidateCheck(c).ok());
}

}  // namespace
}  // namespace internal
}  // namespace checks
}  // namespace vigil
