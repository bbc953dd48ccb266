// PostgresCheck: can we connect to PostgreSQL and run a query, in time?
//
// In its own Bazel target, //health/checks:postgres, so that nothing else in
// vigil links libpq. Connects with libpq's non-blocking API (every step
// bounded by the run's deadline; host names are resolved by vigil's
// deadline-bounded resolver and handed to libpq as `hostaddr`), runs
// `query` (default "SELECT 1"), and disconnects. It tells apart
// (details["reason"], and details["sqlstate"] when the server sent one):
//   "too_many_connections"  SQLSTATE 53300: "sorry, too many clients
//                           already" or the reserved-slots variant (S5)
//   "refused"               connection refused (no server there)
//   "auth"                  authentication failed (28P01, 28000: bad
//                           password, no pg_hba.conf entry, unknown role;
//                           or no password supplied)
//   "timed_out"             connecting or the query took too long
//   "no_database"           3D000, "starting" 57P03 (starting up, shutting
//                           down, recovery), "query" (the query failed),
//                           "unreachable", "resolve", "reset", "error"
// HEALTHY: "SELECT 1 in 2.3ms (server 15.4)", latency as the observed value.
// details: "host", "port", "dbname", "user", "latency_ms",
// "server_version".
//
// Connection strings and passwords never appear in names, messages or
// details; use RedactConninfo() before logging a connection string
// yourself.
//
//   absl::StatusOr<vigil::Check> c = vigil::checks::PostgresCheck(
//       {.conninfo = "host=db.internal dbname=app user=app",
//        .password = ReadSecret()});

#ifndef VIGIL_HEALTH_CHECKS_POSTGRES_H_
#define VIGIL_HEALTH_CHECKS_POSTGRES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

struct PostgresCheckOptions {
  // A libpq connection string ("host=... dbname=..." or
  // "postgresql://user@host:5432/db"); may be empty. The fields below
  // override its values when set.
  std::string conninfo = {};
  // A host name, an IP address, or a unix-socket directory ("/run/pg").
  // Several comma-separated hosts are passed to libpq as they are (libpq
  // then resolves them itself, which is not bounded by the deadline).
  std::string host = {};
  int port = 0;  // 0 = from conninfo, or libpq's default (5432).
  std::string dbname = {};
  std::string user = {};
  // Secret.
  std::string password = {};
  // libpq sslmode: "disable", "prefer" (libpq's default), "require", ...
  std::string sslmode = {};
  // The query to run; its result must not be an error.
  std::string query = "SELECT 1";
  // The check's name; default "postgres:<host>:<port>/<dbname>".
  std::string name = {};
  CheckOptions check = DependencyCheckOptions();
  // Time source for deadlines and latency. Not owned; nullptr = real.
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming "conninfo" (malformed; the
// message does not echo it), "host", "port", "query" (empty), or a
// CheckOptions field.
absl::StatusOr<Check> PostgresCheck(PostgresCheckOptions options);

// `conninfo` with every password replaced by "****": the value of a
// password=... keyword (quoted or not), the password of a
// postgresql://user:password@host URI, and a password query parameter.
// Works on malformed strings too (best effort, never echoes more).
std::string RedactConninfo(absl::string_view conninfo);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_POSTGRES_H_
