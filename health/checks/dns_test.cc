#include "health/checks/dns.h"

#include <netdb.h>
#include <netinet/in.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/internal/dns_lookup.h"
#include "health/checks/testing/run_check.h"
#include "health/registry.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::vigil::checks::testing::RunCheckOnce;

TEST(DnsCheckTest, ResolvesLocalhost) {
  DnsCheckOptions o;
  o.hostname = "localhost";
  absl::StatusOr<Check> c = DnsCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "dns:localhost");
  EXPECT_EQ(c->options.kind, CheckKind::kDependency);
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("localhost resolved to "));
  EXPECT_EQ(r.observed_unit, "addresses");
  ASSERT_TRUE(r.observed_value.has_value());
  EXPECT_GE(*r.observed_value, 1);
  EXPECT_THAT(r.details["addresses"], HasSubstr("127.0.0.1"));
  EXPECT_EQ(r.critical_threshold, 1);
}

TEST(DnsCheckTest, TooFewAddresses) {
  DnsCheckOptions o;
  o.hostname = "127.0.0.1";  // Resolves to exactly itself.
  o.min_addresses = 2;
  CheckResult r = RunCheckOnce(*DnsCheck(o));
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "127.0.0.1 resolved to 1 address, expected at least 2");
  EXPECT_EQ(r.details["reason"], "too_few");
  EXPECT_EQ(r.observed_value, 1);
}

TEST(DnsCheckTest, RejectsBadInput) {
  for (const char* bad : {"", "bad name", "-x.example", "a..b"}) {
    DnsCheckOptions o;
    o.hostname = bad;
    absl::StatusOr<Check> c = DnsCheck(o);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(c.status().message(), HasSubstr("hostname")) << bad;
  }
  DnsCheckOptions o;
  o.hostname = "localhost";
  o.min_addresses = 0;
  EXPECT_THAT(DnsCheck(o).status().message(), HasSubstr("min_addresses"));
}

TEST(DnsCheckTest, NameNotFoundAndTemporaryFailureAreTold) {
  int code = EAI_NONAME;
  DnsCheckOptions o;
  o.hostname = "db.example";
  absl::StatusOr<Check> c = internal::DnsCheckWithLookup(
      o, [&](const std::string&, int, std::vector<internal::Address>*) {
        return code;
      });
  ASSERT_TRUE(c.ok());
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, "name not found: db.example");
  EXPECT_EQ(r.details["reason"], "resolve");
  code = EAI_AGAIN;
  r = RunCheckOnce(*c);
  EXPECT_THAT(r.message, HasSubstr("temporary failure resolving db.example"));
  EXPECT_EQ(r.details["reason"], "resolve_again");
}

// A lookup that hangs like getaddrinfo(3) on a DNS server that never
// answers, until the test releases it.
class HungLookup {
 public:
  internal::LookupFunction Function() {
    return [this](const std::string&, int, std::vector<internal::Address>*) {
      MutexLock lock(&mu_);
      ++started_;
      mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return released_; });
      return EAI_AGAIN;
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

// On the way out, pass or fail: lets every waiter go so that the registry's
// destructor (which joins its workers) cannot hang.
struct Unblock {
  ~Unblock() {
    clock->Advance(absl::Hours(1));
    lookup->Release();
  }
  vigil::testing::FakeClock* clock;
  HungLookup* lookup;
};

TEST(DnsCheckTest, HungResolverTimesOutWithoutBlockingTheWorker) {
  HungLookup lookup;
  vigil::testing::FakeClock clock;
  {
    RegistryOptions ro;
    ro.clock = &clock;
    ro.worker_threads = 1;  // The hung lookup must not keep it.
    HealthRegistry registry(ro);
    DnsCheckOptions o;
    o.hostname = "hung.example";
    o.clock = &clock;
    o.check.timeout = absl::Seconds(2);
    absl::StatusOr<Check> dns =
        internal::DnsCheckWithLookup(o, lookup.Function());
    ASSERT_TRUE(dns.ok());
    ASSERT_TRUE(registry.Register(*std::move(dns)).ok());
    Check other;
    other.name = "other";
    other.function = [](const CheckContext&) {
      return CheckResult::Healthy("ran");
    };
    ASSERT_TRUE(registry.Register(other).ok());
    Unblock unblock{&clock, &lookup};

    registry.RunOnceForTest();  // Queues both; the DNS check takes the worker.
    ASSERT_TRUE(vigil::testing::WaitFor([&] { return lookup.started() == 1; },
                                        absl::Seconds(20)));
    clock.Advance(absl::Seconds(2));
    ASSERT_TRUE(registry.WaitUntilIdleForTest(absl::Seconds(20)));
    auto snap = registry.snapshot();
    const CheckSnapshot* d = snap->FindCheck("dns:hung.example");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->result.status, Status::kUnhealthy);
    // The check's own message (not the registry's "timed out ... running
    // for"), and the run completed: the worker is free again.
    EXPECT_EQ(d->result.message, "timed out after 1.9s resolving hung.example");
    EXPECT_EQ(d->result.details.at("reason"), "timed_out");
    EXPECT_FALSE(d->timed_out);
    const CheckSnapshot* x = snap->FindCheck("other");
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(x->result.message, "ran");
  }
  lookup.Release();
}

}  // namespace
}  // namespace checks
}  // namespace vigil
