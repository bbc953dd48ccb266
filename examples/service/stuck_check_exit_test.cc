// The example service with a check that never returns (--demo_stuck_check)
// still exits after SIGTERM within the drain delay plus the registry's
// shutdown bound: the stuck run is abandoned on its worker, nothing waits
// for it. The real binary (under its supervisor, as deployed), a real
// signal, measured from outside.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/service/testing/service_process.h"
#include "gtest/gtest.h"
#include "health/http/testing/http_test_util.h"
#include "health/testing/wait_for.h"

namespace vigil_example {
namespace {

using testing::ServiceProcess;
using vigil::testing::WaitFor;

constexpr absl::Duration kDrainDelay = absl::Seconds(1);
// RegistryOptions::shutdown_timeout's default.
constexpr absl::Duration kShutdownBound = absl::Seconds(1);
// Process teardown besides the registry (servers, threads) and a loaded
// machine's scheduling: a sanity margin, not a speed target.
constexpr absl::Duration kSlack = absl::Seconds(4);

TEST(StuckCheckExitTest, SigtermExitsWithinDrainDelayPlusBound) {
  auto s = ServiceProcess::Start({"--warmup=0s", "--drain_delay=1s",
                                  "--pressure=false", "--demo_stuck_check",
                                  // Readiness plays no part here.
                                  "--upstream=127.0.0.1:1"});
  ASSERT_TRUE(s.ok()) << s.status();
  std::unique_ptr<ServiceProcess> service = *std::move(s);
  // The check is stuck: its deadline passed while it still runs.
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(service->Output(),
                                 "[transition] check stuck: unknown -> "
                                 "unhealthy");
      },
      absl::Seconds(30)))
      << service->Output();

  const absl::Time term = absl::Now();
  service->Signal(SIGTERM);
  std::optional<int> code =
      service->WaitForExit(kDrainDelay + kShutdownBound + absl::Seconds(30));
  const absl::Duration took = absl::Now() - term;
  ASSERT_TRUE(code.has_value())
      << "still running after " << absl::FormatDuration(took) << "\n"
      << service->Output();
  EXPECT_EQ(*code, 0) << service->Output();
  EXPECT_TRUE(absl::StrContains(service->Output(), "draining:"));
  std::printf(
      "SIGTERM -> exit with a never-returning check: %s (drain delay %s + "
      "registry shutdown bound %s = %s)\n",
      absl::FormatDuration(took).c_str(),
      absl::FormatDuration(kDrainDelay).c_str(),
      absl::FormatDuration(kShutdownBound).c_str(),
      absl::FormatDuration(kDrainDelay + kShutdownBound).c_str());
  EXPECT_GE(took, kDrainDelay);
  EXPECT_LT(took, kDrainDelay + kShutdownBound + kSlack);
}

}  // namespace
}  // namespace vigil_example
