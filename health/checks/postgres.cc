#include "health/checks/postgres.h"

#include <poll.h>
#include <postgresql/libpq-fe.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/result_util.h"

namespace vigil {
namespace checks {
namespace {

// Replaces the value of `key=value` pairs named password in a key=value
// connection string.
std::string RedactKeyValue(absl::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    // Copy whitespace.
    if (absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
      out.push_back(s[i++]);
      continue;
    }
    // Keyword.
    size_t k = i;
    while (k < s.size() && s[k] != '=' &&
           !absl::ascii_isspace(static_cast<unsigned char>(s[k]))) {
      ++k;
    }
    const absl::string_view keyword = s.substr(i, k - i);
    out.append(s.data() + i, k - i);
    i = k;
    while (i < s.size() &&
           absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
      out.push_back(s[i++]);
    }
    if (i >= s.size() || s[i] != '=') continue;
    out.push_back(s[i++]);
    while (i < s.size() &&
           absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
      out.push_back(s[i++]);
    }
    // Value: quoted with backslash escapes, or up to whitespace.
    size_t v = i;
    if (v < s.size() && s[v] == '\'') {
      ++v;
      while (v < s.size() && s[v] != '\'') {
        if (s[v] == '\\' && v + 1 < s.size()) ++v;
        ++v;
      }
      if (v < s.size()) ++v;
    } else {
      while (v < s.size() &&
             !absl::ascii_isspace(static_cast<unsigned char>(s[v]))) {
        ++v;
      }
    }
    if (absl::EqualsIgnoreCase(keyword, "password")) {
      out += "****";
    } else {
      out.append(s.data() + i, v - i);
    }
    i = v;
  }
  return out;
}

std::string RedactUri(absl::string_view s) {
  const size_t scheme_end = s.find("://");
  std::string out(s.substr(0, scheme_end + 3));
  absl::string_view rest = s.substr(scheme_end + 3);
  const size_t auth_end = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, auth_end);
  absl::string_view tail =
      auth_end == absl::string_view::npos ? "" : rest.substr(auth_end);
  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) {
    absl::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon != absl::string_view::npos) {
      absl::StrAppend(&out, userinfo.substr(0, colon), ":****",
                      authority.substr(at));
    } else {
      absl::StrAppend(&out, authority);
    }
  } else {
    absl::StrAppend(&out, authority);
  }
  const size_t q = tail.find('?');
  absl::StrAppend(&out, tail.substr(0, q));
  if (q != absl::string_view::npos) {
    out.push_back('?');
    std::vector<std::string> params;
    for (absl::string_view p : absl::StrSplit(tail.substr(q + 1), '&')) {
      const size_t eq = p.find('=');
      if (eq != absl::string_view::npos &&
          absl::EqualsIgnoreCase(p.substr(0, eq), "password")) {
        params.push_back(absl::StrCat(p.substr(0, eq), "=****"));
      } else {
        params.emplace_back(p);
      }
    }
    absl::StrAppend(&out, absl::StrJoin(params, "&"));
  }
  return out;
}

struct PgFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, PgFinish>;

struct PgState {
  PostgresCheckOptions options;
  // Every connection keyword and value, password included.
  std::map<std::string, std::string> params;
  std::string host;  // As given ("" = libpq's default).
  bool resolve_host = false;
  uint16_t port = 5432;
  internal::Redactor redactor;
  Clock* clock = nullptr;
  internal::Resolver resolver;
};

struct ServerError {
  std::string sqlstate;
  std::string message;  // The primary message, one line.
};

// Parses libpq's verbose error text: "...failed: FATAL:  53300: sorry, too
// many clients already\nLOCATION: ..." .
std::optional<ServerError> ParseServerError(absl::string_view text) {
  for (absl::string_view severity : {"FATAL:  ", "ERROR:  ", "PANIC:  "}) {
    const size_t at = text.find(severity);
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = text.substr(at + severity.size());
    if (rest.size() < 7 || rest[5] != ':') continue;
    ServerError e;
    e.sqlstate = std::string(rest.substr(0, 5));
    rest = absl::StripLeadingAsciiWhitespace(rest.substr(6));
    e.message = std::string(rest.substr(0, rest.find('\n')));
    return e;
  }
  return std::nullopt;
}

// The first line of libpq's message after "connection to server ...
// failed: ".
std::string ClientMessage(absl::string_view text) {
  const size_t failed = text.find("failed: ");
  if (failed != absl::string_view::npos) text = text.substr(failed + 8);
  text = absl::StripAsciiWhitespace(text.substr(0, text.find('\n')));
  return std::string(text);
}

CheckResult ServerFailure(const ServerError& e) {
  CheckResult r;
  const std::string& code = e.sqlstate;
  std::string what;
  std::string reason;
  if (code == "53300") {
    what = "too many connections";
    reason = "too_many_connections";
  } else if (code == "28P01" || code == "28000") {
    what = "authentication failed";
    reason = "auth";
  } else if (code == "3D000") {
    what = "database does not exist";
    reason = "no_database";
  } else if (code == "57P03") {
    what = "server not accepting connections";
    reason = "starting";
  } else {
    what = "server error";
    reason = "error";
  }
  r = CheckResult::Unhealthy(
      absl::StrCat(what, " (SQLSTATE ", code, "): ", e.message));
  r.details["reason"] = reason;
  r.details["sqlstate"] = code;
  r.details["server_message"] = e.message;
  return r;
}

CheckResult ClientFailure(absl::string_view text) {
  const std::string msg = ClientMessage(text);
  const std::string lower = absl::AsciiStrToLower(msg);
  std::string reason = "error";
  if (absl::StrContains(lower, "connection refused")) {
    reason = "refused";
  } else if (absl::StrContains(lower, "no password supplied") ||
             absl::StrContains(lower, "authentication")) {
    reason = "auth";
  } else if (absl::StrContains(lower, "timeout") ||
             absl::StrContains(lower, "timed out")) {
    reason = "timed_out";
  } else if (absl::StrContains(lower, "unreachable") ||
             absl::StrContains(lower, "no route")) {
    reason = "unreachable";
  } else if (absl::StrContains(lower, "translate host name")) {
    reason = "resolve";
  } else if (absl::StrContains(lower, "closed the connection") ||
             absl::StrContains(lower, "reset")) {
    reason = "reset";
  } else if (absl::StrContains(lower, "no such file") &&
             absl::StrContains(lower, "socket")) {
    reason = "refused";  // No server on that unix socket.
  }
  CheckResult r = CheckResult::Unhealthy(
      msg.empty() ? std::string("connection failed") : msg);
  r.details["reason"] = reason;
  return r;
}

// Waits for libpq's socket.
absl::Status WaitPg(PGconn* conn, short events,
                    const internal::IoDeadline& deadline,
                    absl::string_view what) {
  const int fd = PQsocket(conn);
  if (fd < 0) return absl::UnavailableError("no socket");
  return internal::WaitFd(fd, events, deadline, what);
}

// Adds the connection's details (host, port, dbname, user) to `r` and
// scrubs secrets from it: every result RunPostgres returns passes here.
CheckResult Finish(PgState& s, CheckResult r) {
  r.details["host"] = s.host.empty() ? "(default)" : s.host;
  r.details["port"] = absl::StrCat(s.port);
  auto db = s.params.find("dbname");
  if (db != s.params.end()) r.details["dbname"] = db->second;
  auto user = s.params.find("user");
  if (user != s.params.end()) r.details["user"] = user->second;
  s.redactor.ScrubResult(&r);
  return r;
}

// The failure libpq reports on `conn`: the server's error when it sent one,
// else the client's.
CheckResult ConnectionFailure(PGconn* conn) {
  const std::string text = PQerrorMessage(conn);
  if (std::optional<ServerError> e = ParseServerError(text)) {
    return ServerFailure(*e);
  }
  return ClientFailure(text);
}

// Connects without blocking past `deadline`. When the host is a name to
// resolve, resolves it with the check's Resolver (bounded by `deadline`)
// and passes the address as hostaddr. Fills `conn`, or returns the failure.
std::optional<CheckResult> Connect(PgState& s,
                                   const internal::IoDeadline& deadline,
                                   PgConn* conn) {
  std::map<std::string, std::string> params = s.params;
  if (s.resolve_host) {
    absl::StatusOr<std::vector<internal::Address>> addresses =
        s.resolver.Resolve(s.host, s.port, AF_UNSPEC, deadline);
    if (!addresses.ok()) return internal::FailureResult(addresses.status());
    params["hostaddr"] = (*addresses)[0].IpString();
  }
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  *conn = PgConn(PQconnectStartParams(keys.data(), values.data(), 0));
  if (*conn == nullptr) return CheckResult::Unhealthy("libpq: out of memory");
  PQsetErrorVerbosity(conn->get(), PQERRORS_VERBOSE);
  if (PQstatus(conn->get()) == CONNECTION_BAD) {
    return ConnectionFailure(conn->get());
  }
  PostgresPollingStatusType poll_status = PGRES_POLLING_WRITING;
  while (poll_status != PGRES_POLLING_OK) {
    if (poll_status == PGRES_POLLING_FAILED) {
      return ConnectionFailure(conn->get());
    }
    const short events =
        poll_status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (absl::Status w = WaitPg(conn->get(), events, deadline, "connecting");
        !w.ok()) {
      return internal::FailureResult(w);
    }
    poll_status = PQconnectPoll(conn->get());
  }
  return std::nullopt;
}

// Sends `query` on the connected `conn` without blocking.
std::optional<CheckResult> SendQuery(PGconn* conn, const std::string& query,
                                     const internal::IoDeadline& deadline) {
  PQsetnonblocking(conn, 1);
  if (PQsendQuery(conn, query.c_str()) != 1) return ConnectionFailure(conn);
  int flush;
  while ((flush = PQflush(conn)) == 1) {
    if (absl::Status w =
            WaitPg(conn, POLLOUT | POLLIN, deadline, "sending the query");
        !w.ok()) {
      return internal::FailureResult(w);
    }
    PQconsumeInput(conn);
  }
  if (flush < 0) return ConnectionFailure(conn);
  return std::nullopt;
}

// What the query's first result said.
struct QueryOutcome {
  bool got_result = false;
  std::optional<ServerError> error;
};

// Reads every result of the query sent on `conn`, keeping the first one's
// verdict in `outcome`. Returns a transport failure, if any.
std::optional<CheckResult> ReadResults(PGconn* conn,
                                       const internal::IoDeadline& deadline,
                                       QueryOutcome* outcome) {
  while (true) {
    while (PQisBusy(conn)) {
      if (absl::Status w =
              WaitPg(conn, POLLIN, deadline, "waiting for the query result");
          !w.ok()) {
        return internal::FailureResult(w);
      }
      if (PQconsumeInput(conn) != 1) return ConnectionFailure(conn);
    }
    PGresult* res = PQgetResult(conn);
    if (res == nullptr) return std::nullopt;
    if (!outcome->got_result) {
      outcome->got_result = true;
      const ExecStatusType result_status = PQresultStatus(res);
      if (result_status != PGRES_TUPLES_OK &&
          result_status != PGRES_COMMAND_OK) {
        ServerError e;
        const char* code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char* msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        e.sqlstate = code != nullptr ? code : "";
        e.message = msg != nullptr ? msg : PQresStatus(result_status);
        outcome->error = e;
      }
    }
    PQclear(res);
  }
}

// UNHEALTHY for a query that failed or returned no result.
CheckResult QueryFailure(const QueryOutcome& outcome) {
  const std::optional<ServerError>& error = outcome.error;
  CheckResult r = CheckResult::Unhealthy(
      error.has_value() ? absl::StrCat("query failed",
                                       error->sqlstate.empty()
                                           ? ""
                                           : absl::StrCat(" (SQLSTATE ",
                                                          error->sqlstate, ")"),
                                       ": ", error->message)
                        : std::string("query returned no result"));
  r.details["reason"] = "query";
  if (error.has_value() && !error->sqlstate.empty()) {
    r.details["sqlstate"] = error->sqlstate;
  }
  return r;
}

// PQserverVersion() as text: "15.4" (10 and later), "9.6.24" (before).
std::string ServerVersionText(int version) {
  return version >= 100000
             ? absl::StrCat(version / 10000, ".", version % 10000)
             : absl::StrCat(version / 10000, ".", (version / 100) % 100, ".",
                            version % 100);
}

CheckResult RunPostgres(PgState& s, const CheckContext& ctx) {
  const PostgresCheckOptions& o = s.options;
  const internal::IoDeadline deadline = internal::IoDeadline::ForRun(
      s.clock, ctx.start, ctx.deadline, o.check.timeout);
  const absl::Time begin = s.clock->Now();
  PgConn conn(nullptr);
  if (std::optional<CheckResult> f = Connect(s, deadline, &conn)) {
    return Finish(s, *std::move(f));
  }
  if (std::optional<CheckResult> f = SendQuery(conn.get(), o.query, deadline)) {
    return Finish(s, *std::move(f));
  }
  QueryOutcome outcome;
  if (std::optional<CheckResult> f =
          ReadResults(conn.get(), deadline, &outcome)) {
    return Finish(s, *std::move(f));
  }
  const absl::Duration latency = s.clock->Now() - begin;
  if (outcome.error.has_value() || !outcome.got_result) {
    return Finish(s, QueryFailure(outcome));
  }
  const std::string version_text =
      ServerVersionText(PQserverVersion(conn.get()));
  CheckResult r = CheckResult::Healthy(absl::StrCat(
      o.query.size() <= 40 ? o.query : "query", " in ",
      internal::FormatLatency(latency), " (server ", version_text, ")"));
  internal::SetLatency(&r, latency);
  r.details["server_version"] = version_text;
  return Finish(s, std::move(r));
}

}  // namespace

std::string RedactConninfo(absl::string_view conninfo) {
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(conninfo);
  if (absl::StartsWith(trimmed, "postgresql://") ||
      absl::StartsWith(trimmed, "postgres://")) {
    return RedactUri(trimmed);
  }
  return RedactKeyValue(conninfo);
}

absl::StatusOr<Check> PostgresCheck(PostgresCheckOptions options) {
  auto state = std::make_shared<PgState>();
  if (!options.conninfo.empty()) {
    char* err = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(options.conninfo.c_str(), &err);
    if (parsed == nullptr) {
      // libpq's message may quote part of the string (a password):
      // report only that it is malformed.
      if (err != nullptr) PQfreemem(err);
      return absl::InvalidArgumentError(
          "conninfo: malformed connection string (not shown: it may contain "
          "a password)");
    }
    for (PQconninfoOption* opt = parsed; opt->keyword != nullptr; ++opt) {
      if (opt->val != nullptr && opt->val[0] != '\0') {
        state->params[opt->keyword] = opt->val;
      }
    }
    PQconninfoFree(parsed);
  }
  if (!options.host.empty()) state->params["host"] = options.host;
  if (options.port != 0) {
    if (options.port < 1 || options.port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("port: must be 1..65535, got ", options.port));
    }
    state->params["port"] = absl::StrCat(options.port);
  }
  if (!options.dbname.empty()) state->params["dbname"] = options.dbname;
  if (!options.user.empty()) state->params["user"] = options.user;
  if (!options.password.empty()) state->params["password"] = options.password;
  if (!options.sslmode.empty()) state->params["sslmode"] = options.sslmode;
  if (options.query.empty()) {
    return absl::InvalidArgumentError("query: must not be empty");
  }
  state->params.emplace("application_name", "vigil-health-check");
  state->params.emplace("gssencmode", "disable");
  auto pw = state->params.find("password");
  if (pw != state->params.end()) state->redactor.Add(pw->second);

  auto host = state->params.find("host");
  state->host = host != state->params.end() ? host->second : "";
  const bool multi_host = state->host.find(',') != std::string::npos;
  if (!state->host.empty() && state->host[0] != '/' && !multi_host) {
    if (absl::Status s = internal::ValidateHost(state->host, "host"); !s.ok()) {
      return s;
    }
    state->resolve_host = !internal::IsIpLiteral(state->host) &&
                          state->params.count("hostaddr") == 0;
  }
  auto port = state->params.find("port");
  if (port != state->params.end() &&
      port->second.find(',') == std::string::npos) {
    absl::StatusOr<uint16_t> p = internal::ParsePort(port->second, "port");
    if (!p.ok()) return p.status();
    state->port = *p;
  }
  state->clock = options.clock != nullptr ? options.clock : Clock::Real();

  Check check;
  if (!options.name.empty()) {
    check.name = options.name;
  } else {
    auto db = state->params.find("dbname");
    check.name = internal::SanitizeCheckName(absl::StrCat(
        "postgres:", state->host.empty() ? "default" : state->host, ":",
        state->port, "/", db != state->params.end() ? db->second : ""));
  }
  check.options = options.check;
  state->options = std::move(options);
  check.function = [state](const CheckContext& ctx) {
    return RunPostgres(*state, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace checks
}  // namespace vigil
