// The example service's drain as a keep-alive client of its application
// port sees it: SIGTERM -> every response says `Connection: close` and its
// connection closes; idle keep-alive connections stay open until the drain
// delay has passed; then the process exits.

#include <signal.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/service/testing/raw_http.h"
#include "examples/service/testing/service_process.h"
#include "gtest/gtest.h"
#include "health/http/testing/http_test_util.h"
#include "health/testing/wait_for.h"

namespace vigil_example {
namespace {

using testing::RawHttpConnection;
using testing::ServiceProcess;
using vigil::testing::WaitFor;

constexpr absl::Duration kDrainDelay = absl::Seconds(2);

TEST(ServiceDrainTest, ConnectionCloseDuringDrainIdleClosedAfterIt) {
  auto s = ServiceProcess::Start({"--warmup=0s", "--drain_delay=2s",
                                  "--pressure=false",
                                  // Readiness plays no part here.
                                  "--upstream=127.0.0.1:1"});
  ASSERT_TRUE(s.ok()) << s.status();
  std::unique_ptr<ServiceProcess> service = *std::move(s);
  auto active = std::make_unique<RawHttpConnection>(service->app_port());
  auto idle = std::make_unique<RawHttpConnection>(service->app_port());
  RawHttpConnection::Response r = active->Get("/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.closes()) << r.head;
  ASSERT_TRUE(idle->Get("/").ok);

  const absl::Time term = absl::Now();
  service->Signal(SIGTERM);
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(service->Output(), "draining:"); },
              absl::Seconds(10)))
      << service->Output();

  // The keep-alive connection in use: answered, told, closed.
  r = active->Get("/");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.closes()) << r.head;
  EXPECT_TRUE(active->ClosedByPeer(absl::Seconds(5)));
  active.reset();
  // New connections are still served during the drain, and told.
  {
    RawHttpConnection fresh(service->app_port());
    r = fresh.Get("/");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.closes()) << r.head;
  }
  // The idle one is closed at the end of the drain delay, not before.
  ASSERT_TRUE(idle->ClosedByPeer(kDrainDelay + absl::Seconds(10)));
  const absl::Time idle_closed = absl::Now();
  idle.reset();
  EXPECT_GE(idle_closed - term, kDrainDelay);

  const std::optional<int> code = service->WaitForExit(absl::Seconds(10));
  const absl::Duration exited = absl::Now() - term;
  EXPECT_EQ(code, std::optional<int>(0)) << service->Output();
  std::printf(
      "MEASURED drain: idle keep-alive connection closed %s after SIGTERM, "
      "process exited %s after it (drain delay %s)\n",
      absl::FormatDuration(idle_closed - term).c_str(),
      absl::FormatDuration(exited).c_str(),
      absl::FormatDuration(kDrainDelay).c_str());
  EXPECT_LT(exited, kDrainDelay + absl::Seconds(1));
}

}  // namespace
}  // namespace vigil_example
