// The application server on loopback: its listen backlog as the kernel
// reports it (ss), and its drain as a raw keep-alive peer sees it.

#include "examples/service/app_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "examples/service/testing/raw_http.h"
#include "gtest/gtest.h"
#include "health/testing/require.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"

namespace vigil_example {
namespace {

using vigil::testing::ScopedTempDir;
using vigil::testing::Subprocess;
using vigil::testing::SubprocessOptions;
using vigil::testing::WaitFor;
using vigil_example::testing::RawHttpConnection;

bool SaysClose(const RawHttpConnection::Response& r) {
  return absl::EqualsIgnoreCase(r.Header("Connection"), "close");
}

// `ss -ltnH sport = :PORT` -> the Send-Q column, which for a listening
// socket is its backlog. nullopt if ss is missing or the line is not there.
std::optional<int> ListenBacklog(int port) {
  auto dir = ScopedTempDir::Create("vigil-ss-");
  if (!dir.ok()) return std::nullopt;
  SubprocessOptions o;
  o.argv = {"/usr/bin/ss", "-ltnH", "sport", "=", absl::StrCat(":", port)};
  o.log_path = (*dir)->path() + "/ss.out";
  auto p = Subprocess::Start(o);
  if (!p.ok() || (*p)->WaitForExit(absl::Seconds(10)) != 0) {
    return std::nullopt;
  }
  auto out = vigil::testing::ReadFile(o.log_path);
  if (!out.ok()) return std::nullopt;
  std::printf("ss -ltnH sport = :%d -> %s", port, out->c_str());
  // State Recv-Q Send-Q Local-Address:Port Peer-Address:Port
  std::vector<absl::string_view> f =
      absl::StrSplit(*out, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  int backlog = 0;
  if (f.size() < 4 || f[0] != "LISTEN" || !absl::SimpleAtoi(f[2], &backlog)) {
    return std::nullopt;
  }
  return backlog;
}

TEST(AppServerTest, ListenBacklogIsRaisedPastHttplibsFive) {
  VIGIL_REQUIRE_OR_SKIP(access("/usr/bin/ss", X_OK) == 0,
                        "ss not installed (iproute2)");
  AppServer app(AppServerOptions{.threads = 2});
  ASSERT_TRUE(app.Start("127.0.0.1", 0).ok());
  const std::optional<int> backlog = ListenBacklog(app.port());
  ASSERT_TRUE(backlog.has_value());
  std::printf("MEASURED app listen backlog: %d (asked %d)\n", *backlog,
              app.listen_backlog());
  // somaxconn is 4096 by default since Linux 5.4, so nothing caps 1024.
  EXPECT_EQ(*backlog, AppServerOptions::kDefaultListenBacklog);
}

TEST(AppServerTest, ListenBacklogIsAnOption) {
  VIGIL_REQUIRE_OR_SKIP(access("/usr/bin/ss", X_OK) == 0,
                        "ss not installed (iproute2)");
  AppServer app(AppServerOptions{.threads = 1, .listen_backlog = 2048});
  ASSERT_TRUE(app.Start("127.0.0.1", 0).ok());
  EXPECT_EQ(ListenBacklog(app.port()), std::optional<int>(2048));
}

TEST(AppServerTest, KeepAliveUntilDrainThenEveryResponseCloses) {
  AppServer app(AppServerOptions{.threads = 4});
  ASSERT_TRUE(app.Start("127.0.0.1", 0).ok());
  RawHttpConnection active(app.port());
  RawHttpConnection idle(app.port());
  ASSERT_TRUE(active.connected() && idle.connected());

  RawHttpConnection::Response r = active.Get("/");
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(SaysClose(r)) << r.head;
  ASSERT_TRUE(idle.Get("/").ok);
  EXPECT_FALSE(active.ClosedByPeer(absl::ZeroDuration()));

  app.BeginDrain();
  EXPECT_TRUE(app.draining());
  r = active.Get("/");
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(SaysClose(r)) << r.head;
  EXPECT_EQ(r.body, "hello from vigil-example\n");
  EXPECT_TRUE(active.ClosedByPeer(absl::Seconds(5)))
      << "Connection: close but the connection stayed open";

  // The connection idle since before the drain was not closed by it: a
  // request on it is answered, with Connection: close, and then it closes.
  r = idle.Get("/");
  ASSERT_TRUE(r.ok) << "idle keep-alive connection closed during the drain";
  EXPECT_TRUE(SaysClose(r)) << r.head;
  EXPECT_TRUE(idle.ClosedByPeer(absl::Seconds(5)));

  // New connections are still accepted and served during the drain.
  RawHttpConnection late(app.port());
  r = late.Get("/");
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(SaysClose(r));
}

TEST(AppServerTest, StopClosesIdleConnectionsAndFinishesRequestsInFlight) {
  AppServer app(AppServerOptions{.threads = 4});
  ASSERT_TRUE(app.Start("127.0.0.1", 0).ok());
  RawHttpConnection idle(app.port());
  RawHttpConnection busy(app.port());
  ASSERT_TRUE(idle.Get("/").ok);
  app.BeginDrain();
  busy.Send("/work?ms=300");
  ASSERT_TRUE(WaitFor([&] { return app.busy() == 1; }, absl::Seconds(10)));

  std::thread stopper([&] { app.Stop(); });
  // The idle connection closes at once, long before the request finishes.
  EXPECT_TRUE(idle.ClosedByPeer(absl::Seconds(5)));
  EXPECT_EQ(app.busy(), 1);
  const RawHttpConnection::Response r = busy.Read();
  stopper.join();
  ASSERT_TRUE(r.ok) << "request in flight at Stop() was cut";
  EXPECT_TRUE(absl::StartsWith(r.head, "HTTP/1.1 200")) << r.head;
  EXPECT_TRUE(SaysClose(r)) << r.head;
  EXPECT_TRUE(busy.ClosedByPeer(absl::Seconds(5)));
  // No longer accepting.
  RawHttpConnection after(app.port());
  EXPECT_FALSE(after.connected());
}

TEST(AppServerTest, StopWithoutDrainStillAnswersWithClose) {
  AppServer app(AppServerOptions{.threads = 2});
  ASSERT_TRUE(app.Start("127.0.0.1", 0).ok());
  RawHttpConnection busy(app.port());
  busy.Send("/work?ms=200");
  ASSERT_TRUE(WaitFor([&] { return app.busy() == 1; }, absl::Seconds(10)));
  std::thread stopper([&] { app.Stop(); });
  const RawHttpConnection::Response r = busy.Read();
  stopper.join();
  ASSERT_TRUE(r.ok);
  // The response was decided before Stop(): it may still say keep-alive,
  // but the connection is closed right after it.
  EXPECT_TRUE(busy.ClosedByPeer(absl::Seconds(5)));
}

}  // namespace
}  // namespace vigil_example
