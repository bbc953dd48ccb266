// RedisServer: a real redis-server on loopback, for tests and benchmarks.
//
// Started as a child process on 127.0.0.1 with persistence off, its data and
// log in a temporary directory; stopped (SIGTERM, then SIGKILL) when the
// object is destroyed, pass or fail.
//
//   VIGIL_REQUIRE_OR_SKIP(!RedisServer::BinaryPath().empty(),
//                         "no redis-server");  // health/testing/require.h
//   auto redis = RedisServer::Start({.maxclients = 4, .password = "pw"});
//   ASSERT_TRUE(redis.ok()) << redis.status();
//   std::string address = (*redis)->address();  // "127.0.0.1:43127"

#ifndef VIGIL_HEALTH_CHECKS_TESTING_REDIS_SERVER_H_
#define VIGIL_HEALTH_CHECKS_TESTING_REDIS_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace checks {
namespace testing {

struct RedisServerOptions {
  // 0 = pick a free port. Give a port to restart a server where clients
  // expect it.
  int port = 0;
  // `maxclients`; 0 = redis' default (10000).
  int maxclients = 0;
  // `requirepass`; empty = no authentication.
  std::string password;
  // Extra "--name value" arguments.
  std::vector<std::string> extra_args;
  // How long to wait for it to accept connections.
  absl::Duration start_timeout = absl::Seconds(20);
};

class RedisServer {
 public:
  // /usr/bin/redis-server (or /usr/local/bin/...), "" when not installed.
  static std::string BinaryPath();

  // Starts it and waits until it accepts connections. Unavailable when the
  // binary is missing or it does not come up in time (the error carries the
  // end of its log).
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      RedisServerOptions options = {});
  ~RedisServer();

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // "127.0.0.1:<port>".
  std::string address() const;
  const std::string& log_path() const { return log_path_; }

  // Stops the server (SIGTERM, then SIGKILL). Idempotent.
  void Stop();
  bool running();

 private:
  RedisServer() = default;
  int port_ = 0;
  std::unique_ptr<vigil::testing::ScopedTempDir> dir_;
  std::string log_path_;
  std::unique_ptr<vigil::testing::Subprocess> process_;
};

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_REDIS_SERVER_H_
