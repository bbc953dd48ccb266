// PostgresCheck against a real PostgreSQL server started by the test (S5:
// max_connections reached, then released).

#include "health/checks/postgres.h"

#include <postgresql/libpq-fe.h>

#include <atomic>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/gauge.h"
#include "health/checks/testing/ports.h"
#include "health/checks/testing/postgres_server.h"
#include "health/checks/testing/run_check.h"
#include "health/testing/require.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vigil::checks::testing::PostgresServer;
using ::vigil::checks::testing::PostgresServerOptions;
using ::vigil::checks::testing::RunCheckOnce;

constexpr char kAppPassword[] = "app-pg-secret-9f3e";
constexpr int kMaxConnections = 5;
constexpr char kTerminateAppBackends[] =
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE usename = 'app' AND pid <> pg_backend_pid()";

void ExpectNoSecret(const CheckResult& r, const std::string& secret) {
  EXPECT_THAT(r.message, Not(HasSubstr(secret)));
  for (const auto& [k, v] : r.details) {
    EXPECT_THAT(v, Not(HasSubstr(secret))) << k;
  }
}

TEST(RedactConninfoTest, MasksPasswordsInEveryForm) {
  EXPECT_EQ(RedactConninfo("host=db password=s3cret user=app"),
            "host=db password=**** user=app");
  EXPECT_EQ(RedactConninfo("host=db password = 'it\\' s secret' dbname=x"),
            "host=db password = **** dbname=x");
  EXPECT_EQ(RedactConninfo("password='a b c' host=db"),
            "password=**** host=db");
  EXPECT_EQ(
      RedactConninfo("postgresql://app:s3cret@db:5432/app?sslmode=require"),
      "postgresql://app:****@db:5432/app?sslmode=require");
  EXPECT_EQ(RedactConninfo("postgres://db/app?user=app&password=s3cret"),
            "postgres://db/app?user=app&password=****");
  EXPECT_EQ(RedactConninfo("postgresql://app@db/app"),
            "postgresql://app@db/app");
  EXPECT_EQ(RedactConninfo("host=db"), "host=db");
  EXPECT_THAT(RedactConninfo("PASSWORD=abc host=x"), Not(HasSubstr("abc")));
}

TEST(PostgresCheckConfigTest, RejectsBadInputWithoutEchoingSecrets) {
  PostgresCheckOptions o;
  o.conninfo = "host=db password='unterminated-secret";
  absl::StatusOr<Check> c = PostgresCheck(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("conninfo"));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("unterminated-secret")));

  o.conninfo = "host=bad_host! dbname=x";
  EXPECT_THAT(PostgresCheck(o).status().message(), HasSubstr("host"));
  o.conninfo = "host=db port=99999";
  EXPECT_THAT(PostgresCheck(o).status().message(), HasSubstr("port"));
  o.conninfo = "";
  o.port = -1;
  EXPECT_THAT(PostgresCheck(o).status().message(), HasSubstr("port"));
  o.port = 0;
  o.query = "";
  EXPECT_THAT(PostgresCheck(o).status().message(), HasSubstr("query"));

  o = PostgresCheckOptions();
  o.conninfo = "postgresql://app:pw-in-uri-123@db.internal:6432/orders";
  c = PostgresCheck(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "postgres:db.internal:6432/orders");
  EXPECT_EQ(c->options.kind, CheckKind::kDependency);
}

class PostgresCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (PostgresServer::BinDir().empty()) return;
    PostgresServerOptions o;
    o.max_connections = kMaxConnections;
    o.superuser_reserved_connections = 0;
    auto server = PostgresServer::Start(o);
    if (!server.ok()) {
      start_error_ = new std::string(server.status().ToString());
      return;
    }
    server_ = server->release();
    absl::Status s = server_->Execute(
        absl::StrCat("CREATE ROLE app LOGIN PASSWORD '", kAppPassword, "'"));
    if (!s.ok()) start_error_ = new std::string(s.ToString());
  }
  static void TearDownTestSuite() {
    delete server_;  // Stops the server, pass or fail.
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(
        !PostgresServer::BinDir().empty(),
        "PostgreSQL is not installed (scripts/setup.sh installs it)");
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    ASSERT_NE(server_, nullptr);
  }

  static PostgresCheckOptions AppOptions() {
    PostgresCheckOptions o;
    o.host = "127.0.0.1";
    o.port = server_->port();
    o.user = "app";
    o.password = kAppPassword;
    o.dbname = "postgres";
    return o;
  }
  static CheckResult Probe(const PostgresCheckOptions& o) {
    absl::StatusOr<Check> c = PostgresCheck(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return RunCheckOnce(*c);
  }

  static PostgresServer* server_;
  static std::string* start_error_;
};

PostgresServer* PostgresCheckTest::server_ = nullptr;
std::string* PostgresCheckTest::start_error_ = nullptr;

TEST_F(PostgresCheckTest, SelectOneSucceeds) {
  absl::StatusOr<Check> c = PostgresCheck(AppOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name,
            absl::StrCat("postgres:127.0.0.1:", server_->port(), "/postgres"));
  CheckResult r = RunCheckOnce(*c);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_THAT(r.message, HasSubstr("SELECT 1 in "));
  EXPECT_THAT(r.message, HasSubstr("(server "));
  EXPECT_EQ(r.details["user"], "app");
  EXPECT_EQ(r.details["dbname"], "postgres");
  EXPECT_EQ(r.details["port"], absl::StrCat(server_->port()));
  EXPECT_EQ(r.observed_unit, "seconds");
  ExpectNoSecret(r, kAppPassword);
}

TEST_F(PostgresCheckTest, ConninfoStringsAndHostNamesAndUnixSockets) {
  PostgresCheckOptions o;
  o.conninfo = server_->ConnInfo("app", kAppPassword);
  CheckResult r = Probe(o);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;

  o = AppOptions();
  o.host = "localhost";  // Resolved by vigil's resolver, passed as hostaddr.
  r = Probe(o);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;

  o = PostgresCheckOptions();
  o.host = server_->socket_dir();
  o.port = server_->port();
  o.user = "postgres";  // Local connections are trusted.
  o.query = "SELECT count(*) FROM pg_stat_activity";
  r = Probe(o);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
}

TEST_F(PostgresCheckTest, AuthenticationFailuresAreTold) {
  PostgresCheckOptions o = AppOptions();
  o.password = "wrong-pg-password-77";
  CheckResult r = Probe(o);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "auth");
  EXPECT_EQ(r.details["sqlstate"], "28P01");
  EXPECT_EQ(r.message,
            "authentication failed (SQLSTATE 28P01): password authentication "
            "failed for user \"app\"");
  ExpectNoSecret(r, "wrong-pg-password-77");

  o.password = "";
  r = Probe(o);
  EXPECT_EQ(r.details["reason"], "auth") << r.message;
  EXPECT_THAT(r.message, HasSubstr("no password supplied"));

  o = AppOptions();
  o.dbname = "nope";
  r = Probe(o);
  EXPECT_EQ(r.details["reason"], "no_database") << r.message;
  EXPECT_EQ(r.details["sqlstate"], "3D000");
}

TEST_F(PostgresCheckTest, QueryErrorsAndQueryTimeouts) {
  PostgresCheckOptions o = AppOptions();
  o.query = "SELECT * FROM no_such_table";
  CheckResult r = Probe(o);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "query");
  EXPECT_EQ(r.details["sqlstate"], "42P01");

  // A query that waits on a lock another session holds.
  ASSERT_TRUE(server_
                  ->Execute("CREATE TABLE IF NOT EXISTS locked_t (x int); "
                            "GRANT SELECT ON locked_t TO app")
                  .ok());
  PGconn* holder = PQconnectdb(absl::StrCat("host=", server_->socket_dir(),
                                            " port=", server_->port(),
                                            " user=postgres dbname=postgres")
                                   .c_str());
  ASSERT_EQ(PQstatus(holder), CONNECTION_OK) << PQerrorMessage(holder);
  PQclear(
      PQexec(holder, "BEGIN; LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE"));
  o.query = "SELECT * FROM locked_t";
  o.check.timeout = absl::Seconds(1);
  r = Probe(o);
  PQclear(PQexec(holder, "ROLLBACK"));
  PQfinish(holder);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "timed_out");
  EXPECT_THAT(r.message, HasSubstr("waiting for the query result"));
  // Leave no backend behind for the next test.
  EXPECT_TRUE(server_->Execute(kTerminateAppBackends).ok());
}

TEST_F(PostgresCheckTest, RefusedAndConnectTimeout) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok());
  PostgresCheckOptions o = AppOptions();
  o.port = *port;
  CheckResult r = Probe(o);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "refused") << r.message;
  EXPECT_THAT(r.message, HasSubstr("Connection refused"));

  auto silent = testing::SilentListener::Start();
  ASSERT_TRUE(silent.ok());
  o.port = (*silent)->port();
  o.check.timeout = absl::Milliseconds(500);
  r = Probe(o);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "timed_out") << r.message;
  EXPECT_THAT(r.message, HasSubstr("connecting"));
}

// S5: hold connections until PostgreSQL refuses more; a gauge on the pool
// warns before the limit, the database check reports exactly "too many
// connections" (SQLSTATE 53300) at it, and both recover on release.
TEST_F(PostgresCheckTest, TooManyConnectionsThenRecovered) {
  std::atomic<int64_t> in_use{0};
  GaugeCheckOptions go;
  go.name = "pg-pool";
  go.atomic = &in_use;
  go.limit = kMaxConnections;
  go.unit = "connections";
  absl::StatusOr<Check> gauge = GaugeCheck(go);
  ASSERT_TRUE(gauge.ok());
  absl::StatusOr<Check> db = PostgresCheck(AppOptions());
  ASSERT_TRUE(db.ok());

  // Start from no other client connections.
  ASSERT_TRUE(server_->Execute(kTerminateAppBackends).ok());
  ASSERT_TRUE(vigil::testing::WaitFor(
      [] {
        return server_
            ->Execute(
                "DO $$ BEGIN IF (SELECT count(*) FROM pg_stat_activity WHERE "
                "usename = 'app') > 0 THEN RAISE 'busy'; END IF; END $$")
            .ok();
      },
      absl::Seconds(20)));

  const std::string conninfo = server_->ConnInfo("app", kAppPassword);
  std::vector<PGconn*> pool;
  std::vector<Status> gauge_seen;
  std::string refusal;
  for (int i = 0; i < 3 * kMaxConnections; ++i) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      refusal = PQerrorMessage(c);
      PQfinish(c);
      break;
    }
    pool.push_back(c);
    in_use = static_cast<int64_t>(pool.size());
    gauge_seen.push_back(RunCheckOnce(*gauge).status);
  }
  EXPECT_THAT(refusal, HasSubstr("too many clients"));
  ASSERT_EQ(pool.size(), static_cast<size_t>(kMaxConnections));
  // 1/5..3/5 healthy, 4/5 (80%) warns, 5/5 critical.
  EXPECT_THAT(gauge_seen,
              ::testing::ElementsAre(Status::kHealthy, Status::kHealthy,
                                     Status::kHealthy, Status::kDegraded,
                                     Status::kUnhealthy));

  CheckResult r = RunCheckOnce(*db);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.details["reason"], "too_many_connections");
  EXPECT_EQ(r.details["sqlstate"], "53300");
  EXPECT_EQ(r.message,
            "too many connections (SQLSTATE 53300): sorry, too many clients "
            "already");
  ExpectNoSecret(r, kAppPassword);

  PQfinish(pool.back());
  pool.pop_back();
  in_use = static_cast<int64_t>(pool.size());
  EXPECT_EQ(RunCheckOnce(*gauge).status, Status::kDegraded);
  // The server frees the slot once the backend has exited; each probe is a
  // bounded wait, and the loop is bounded too.
  bool recovered = false;
  for (int i = 0; i < 200 && !recovered; ++i) {
    r = RunCheckOnce(*db);
    recovered = r.status == Status::kHealthy;
  }
  EXPECT_TRUE(recovered) << r.message;
  for (PGconn* c : pool) PQfinish(c);
  in_use = 0;
  EXPECT_EQ(RunCheckOnce(*gauge).status, Status::kHealthy);
}

}  // namespace
}  // namespace checks
}  // namespace vigil
