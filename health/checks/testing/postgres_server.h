// PostgresServer: a real PostgreSQL server on loopback, for tests and
// benchmarks.
//
// `initdb` (Debian's, from /usr/lib/postgresql/<version>/bin) creates a
// cluster in a fresh directory under /tmp; `postgres` then runs on
// 127.0.0.1:<port> with its unix socket in that directory. When the test
// runs as root, both run as the unprivileged `postgres` system user (or
// `nobody`), which owns the directory; otherwise as the current user.
// TCP connections use scram-sha-256 password authentication; the unix
// socket trusts local connections (the helper uses it for setup SQL).
// The server is stopped (fast shutdown, then SIGKILL of its process group)
// and the directory removed when the object is destroyed, pass or fail.
//
//   VIGIL_REQUIRE_OR_SKIP(!PostgresServer::BinDir().empty(), "no PostgreSQL");
//   auto pg = PostgresServer::Start({.max_connections = 5});
//   ASSERT_TRUE(pg.ok()) << pg.status();
//   ASSERT_TRUE((*pg)->Execute("CREATE ROLE app LOGIN PASSWORD 'pw'").ok());
//   std::string conninfo = (*pg)->ConnInfo("app", "pw");
//
// Not thread-safe.

#ifndef VIGIL_HEALTH_CHECKS_TESTING_POSTGRES_SERVER_H_
#define VIGIL_HEALTH_CHECKS_TESTING_POSTGRES_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace checks {
namespace testing {

struct PostgresServerOptions {
  // 0 = pick a free port.
  int port = 0;
  // `max_connections` and `superuser_reserved_connections`.
  int max_connections = 20;
  int superuser_reserved_connections = 0;
  // Password of the `postgres` superuser (TCP connections need it).
  std::string superuser_password = "vigil-superuser-pw";
  // Extra "-c name=value" settings, e.g. "log_connections=on".
  std::vector<std::string> settings;
  // Bounds initdb and start-up each.
  absl::Duration start_timeout = absl::Seconds(60);
};

class PostgresServer {
 public:
  // The newest /usr/lib/postgresql/<N>/bin holding initdb and postgres, or
  // "" when PostgreSQL is not installed.
  static std::string BinDir();

  // initdb + start, waiting until it accepts connections. Unavailable (with
  // the end of the log) when it cannot.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(
      PostgresServerOptions options = {});
  ~PostgresServer();

  // Stops the server (fast shutdown; SIGKILL after 15 s). Idempotent. The
  // cluster stays; Restart() brings it back on the same port.
  void Stop();
  absl::Status Restart();
  bool running();

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  const std::string& socket_dir() const { return dir_->path(); }
  const std::string& log_path() const { return log_path_; }
  std::string superuser() const { return "postgres"; }
  const std::string& superuser_password() const {
    return options_.superuser_password;
  }

  // A key=value connection string over TCP. (It contains the password:
  // test use only.)
  std::string ConnInfo(const std::string& user, const std::string& password,
                       const std::string& dbname = "postgres") const;

  // Runs `sql` as the superuser over the unix socket.
  absl::Status Execute(const std::string& sql);

 private:
  PostgresServer() = default;
  absl::Status Launch();

  PostgresServerOptions options_;
  std::string bin_dir_;
  int port_ = 0;
  std::unique_ptr<vigil::testing::ScopedTempDir> dir_;
  std::string data_dir_;
  std::string log_path_;
  std::optional<uid_t> uid_;
  std::optional<gid_t> gid_;
  std::unique_ptr<vigil::testing::Subprocess> process_;
};

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_POSTGRES_SERVER_H_
