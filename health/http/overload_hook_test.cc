#include "health/http/overload_hook.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
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
  explicit OverloadHookTest(pressure::OverloadOptions overload)
      : registry_(Options()), overload_options_(std::move(overload)) {}
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
    auto m = pressure::OverloadManager::Create(&registry_, overload_options_);
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
  pressure::OverloadOptions overload_options_;
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

// Length of the listen backlog of the loopback socket on `port`, from the
// kernel: /proc/net/tcp shows a LISTEN socket's accept queue as rx_queue.
std::optional<int> ListenBacklog(int port) {
  std::ifstream in("/proc/net/tcp");
  const std::string local = absl::StrFormat("0100007F:%04X", port);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (f.size() < 5 || f[1] != local || f[3] != "0A") continue;
    std::vector<std::string> q = absl::StrSplit(f[4], ':');
    int n = 0;
    if (q.size() == 2 && absl::SimpleHexAtoi(q[1], &n)) return n;
  }
  return std::nullopt;
}

// Only the accept gate: shed and keep-alive off are not configured.
class AcceptGateTest : public OverloadHookTest {
 protected:
  AcceptGateTest() : OverloadHookTest(GateOnly()) {}
  static pressure::OverloadOptions GateOnly() {
    pressure::OverloadOptions o;
    o.shed_at = Status::kUnknown;
    o.close_connections_at = Status::kUnknown;
    o.stop_accepting_at = Status::kUnhealthy;
    return o;
  }
};

TEST_F(AcceptGateTest, NewConnectionsWaitWhileOpenOnesAreServed) {
  httplib::Client open("127.0.0.1", port_);
  open.set_keep_alive(true);
  open.set_read_timeout(5, 0);
  auto first = open.Get("/");  // Accepted before the action.
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);

  Set(Status::kUnhealthy);
  ASSERT_TRUE(overload_->stopping_accept());
  // Two new clients: the listener holds the first it accepts, the other
  // waits in the kernel's backlog.
  std::atomic<int> answered{0};
  std::atomic<int> ok{0};
  auto client = [&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(10, 0);
    c.set_read_timeout(20, 0);
    auto r = c.Get("/");
    if (r && r->status == 200) ++ok;
    ++answered;
  };
  std::thread a(client);
  std::thread b(client);
  EXPECT_TRUE(testing::WaitFor([&] {
    return ListenBacklog(port_).value_or(-1) == 1;
  })) << "backlog "
      << ListenBacklog(port_).value_or(-1);
  // The open connection is still served, the new ones are not.
  auto again = open.Get("/");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(handled_.load(), 2);
  EXPECT_EQ(answered.load(), 0);
  EXPECT_EQ(ListenBacklog(port_).value_or(-1), 1);
  auto metrics = open.Get("/health/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_TRUE(absl::StrContains(
      metrics->body,
      "vigil_overload_action_active{action=\"stop_accepting\"} 1"))
      << metrics->body;

  // Released past the hold: both waiting clients are served.
  clock_.Advance(absl::Seconds(2));
  Set(Status::kHealthy);
  a.join();
  b.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(handled_.load(), 4);
  EXPECT_FALSE(overload_->stopping_accept());
}

TEST_F(AcceptGateTest, StopReturnsWhileAConnectionIsHeld) {
  Set(Status::kUnhealthy);
  std::atomic<bool> done{false};
  std::thread a([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    (void)c.Get("/");
    done = true;
  });
  std::thread b([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    (void)c.Get("/");
  });
  ASSERT_TRUE(
      testing::WaitFor([&] { return ListenBacklog(port_).value_or(-1) == 1; }));
  EXPECT_FALSE(done.load());
  app_.stop();  // The held listener sees it within 100 ms.
  thread_.join();
  a.join();
  b.join();
}

TEST(OverloadHookArgsTest, NullArgumentsAreInvalid) {
  httplib::Server s;
  EXPECT_EQ(InstallOverloadHook(&s, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace http
}  // namespace vigil
