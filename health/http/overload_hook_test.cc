#include "health/http/overload_hook.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "health/http/endpoints.h"
#include "health/http/mount.h"
#include "health/http/testing/http_test_util.h"
#include "health/registry.h"
#include "health/testing/fake_clock.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil {
namespace http {
namespace {

// An application server on loopback (port 0) with the hook installed and the
// health endpoints mounted under /health; a "memory" check the test sets.
class OverloadHookTest : public ::testing::Test {
 protected:
  OverloadHookTest() : registry_(Options()) {}
  RegistryOptions Options() {
    RegistryOptions o;
    o.clock = &clock_;
    return o;
  }

  void SetUp() override {
    Check c;
    c.name = "memory";
    c.options.failure_threshold = 1;
    c.function = [this](const CheckContext&) {
      CheckResult r;
      r.status = static_cast<Status>(memory_.load());
      r.message = "test";
      return r;
    };
    ASSERT_TRUE(registry_.Register(c).ok());
    Set(Status::kHealthy);
    auto m = pressure::OverloadManager::Create(&registry_, {});
    ASSERT_TRUE(m.ok()) << m.status();
    overload_ = *std::move(m);
    auto e = HealthEndpoints::Create(&registry_);
    ASSERT_TRUE(e.ok()) << e.status();
    endpoints_ = *std::move(e);
    AddOverloadMetrics(endpoints_.get(), overload_.get());
    app_.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      ++handled_;
      res.set_content("hello\n", "text/plain");
    });
    MountOptions mount;
    mount.path_prefix = "/health";
    ASSERT_TRUE(MountHealthEndpoints(endpoints_.get(), &app_, mount).ok());
    OverloadHookOptions hook;
    hook.exempt_prefixes = {"/health"};
    ASSERT_TRUE(InstallOverloadHook(&app_, overload_.get(), hook).ok());
    app_.set_tcp_nodelay(true);
    port_ = app_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { app_.listen_after_bind(); });
    ASSERT_TRUE(testing::WaitFor([this] { return app_.is_running(); }));
  }
  void TearDown() override {
    app_.stop();
    if (thread_.joinable()) thread_.join();
  }
  void Set(Status s) {
    memory_.store(static_cast<int>(s));
    ASSERT_TRUE(registry_.RunNow("memory").ok());
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  }
  httplib::Result Get(const std::string& path) {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(2, 0);
    c.set_read_timeout(2, 0);
    c.set_keep_alive(true);  // So that "Connection: close" is the server's.
    return c.Get(path.c_str());
  }

  vigil::testing::FakeClock clock_;
  HealthRegistry registry_;
  std::atomic<int> memory_{static_cast<int>(Status::kHealthy)};
  std::unique_ptr<pressure::OverloadManager> overload_;
  std::unique_ptr<HealthEndpoints> endpoints_;
  httplib::Server app_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> handled_{0};
};

TEST_F(OverloadHookTest, ShedsNewRequestsWithRetryAfterButNotProbes) {
  auto ok = Get("/");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_FALSE(ok->has_header("Retry-After"));
  EXPECT_NE(ok->get_header_value("Connection"), "close");

  Set(Status::kDegraded);  // Keep-alive off, still served.
  auto degraded = Get("/");
  ASSERT_TRUE(degraded);
  EXPECT_EQ(degraded->status, 200);
  EXPECT_EQ(degraded->get_header_value("Connection"), "close");

  Set(Status::kUnhealthy);
  auto shed = Get("/");
  ASSERT_TRUE(shed);
  EXPECT_EQ(shed->status, 503);
  EXPECT_EQ(shed->get_header_value("Retry-After"), "5");
  EXPECT_EQ(shed->get_header_value("Connection"), "close");
  EXPECT_EQ(handled_.load(), 2);  // The handler never ran for it.
  // The mounted probe is exempt: it answers, and says why.
  auto ready = Get("/health/readyz?verbose");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_TRUE(absl::StrContains(ready->body, "memory")) << ready->body;
  EXPECT_FALSE(ready->has_header("Retry-After"));
  auto metrics = Get("/health/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_TRUE(absl::StrContains(
      metrics->body, "vigil_overload_action_active{action=\"shed\"} 1"))
      << metrics->body;
  EXPECT_TRUE(absl::StrContains(
      metrics->body,
      "vigil_overload_action_activations_total{action=\"shed\"} 1"));
  EXPECT_TRUE(absl::StrContains(metrics->body, "vigil_overload_level 2"));

  // Healthy again, past the 2 s hold: served.
  clock_.Advance(absl::Seconds(2));
  Set(Status::kHealthy);
  auto back = Get("/");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, 200);
  EXPECT_EQ(handled_.load(), 3);
}

TEST(OverloadHookArgsTest, NullArgumentsAreInvalid) {
  httplib::Server s;
  EXPECT_EQ(InstallOverloadHook(&s, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace http
}  // namespace vigil
