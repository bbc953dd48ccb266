#include "health/checks/testing/postgres_server.h"

#include <dirent.h>
#include <postgresql/libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "health/checks/testing/ports.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace checks {
namespace testing {

using ::vigil::testing::LogTail;
using ::vigil::testing::ScopedTempDir;
using ::vigil::testing::Subprocess;
using ::vigil::testing::SubprocessOptions;
using ::vigil::testing::WaitFor;
using ::vigil::testing::WriteFile;

namespace {

constexpr char kPgRoot[] = "/usr/lib/postgresql";

bool Executable(const std::string& path) {
  return access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string PostgresServer::BinDir() {
  DIR* d = opendir(kPgRoot);
  if (d == nullptr) return "";
  int best = -1;
  std::string best_dir;
  while (dirent* e = readdir(d)) {
    int version = 0;
    if (!absl::SimpleAtoi(e->d_name, &version)) continue;
    const std::string bin = absl::StrCat(kPgRoot, "/", e->d_name, "/bin");
    if (version > best && Executable(bin + "/initdb") &&
        Executable(bin + "/postgres")) {
      best = version;
      best_dir = bin;
    }
  }
  closedir(d);
  return best_dir;
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(
    PostgresServerOptions options) {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->options_ = std::move(options);
  s->bin_dir_ = BinDir();
  if (s->bin_dir_.empty()) {
    return absl::UnavailableError(
        "PostgreSQL is not installed (no /usr/lib/postgresql/<N>/bin)");
  }
  // Under /tmp: the server's user must reach it (TEST_TMPDIR lies under
  // root's 0700 home).
  absl::StatusOr<std::unique_ptr<ScopedTempDir>> dir =
      ScopedTempDir::Create("vigil-pg-", "/tmp");
  if (!dir.ok()) return dir.status();
  s->dir_ = *std::move(dir);
  s->data_dir_ = s->dir_->path() + "/data";
  s->log_path_ = s->dir_->path() + "/postgres.log";
  const std::string pwfile = s->dir_->path() + "/pwfile";
  if (absl::Status st =
          WriteFile(pwfile, s->options_.superuser_password + "\n");
      !st.ok()) {
    return st;
  }
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) pw = getpwnam("nobody");
    if (pw == nullptr) {
      return absl::UnavailableError("no unprivileged user to run postgres as");
    }
    s->uid_ = pw->pw_uid;
    s->gid_ = pw->pw_gid;
    for (const std::string& p : {s->dir_->path(), pwfile}) {
      if (chown(p.c_str(), *s->uid_, *s->gid_) != 0) {
        return absl::InternalError(absl::StrCat("chown ", p));
      }
    }
  }
  chmod(s->dir_->path().c_str(), 0700);

  SubprocessOptions init;
  init.argv = {s->bin_dir_ + "/initdb",
               "-D",
               s->data_dir_,
               "-U",
               "postgres",
               "--auth-local=trust",
               "--auth-host=scram-sha-256",
               "--pwfile=" + pwfile,
               "--no-sync",
               "--no-locale",
               "-E",
               "UTF8",
               "--no-instructions"};
  init.log_path = s->dir_->path() + "/initdb.log";
  init.uid = s->uid_;
  init.gid = s->gid_;
  init.cwd = s->dir_->path();
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(init);
  if (!p.ok()) return p.status();
  std::optional<int> rc = (*p)->WaitForExit(s->options_.start_timeout);
  if (!rc.has_value() || !WIFEXITED(*rc) || WEXITSTATUS(*rc) != 0) {
    (*p)->Stop(SIGKILL);
    return absl::UnavailableError(
        absl::StrCat("initdb failed: ", LogTail(init.log_path)));
  }

  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (s->options_.port == 0) {
      absl::StatusOr<int> port = PickFreePort();
      if (!port.ok()) return port.status();
      s->port_ = *port;
    } else {
      s->port_ = s->options_.port;
    }
    last = s->Launch();
    if (last.ok()) return s;
    if (s->options_.port != 0) break;
  }
  return last;
}

absl::Status PostgresServer::Launch() {
  SubprocessOptions o;
  o.argv = {bin_dir_ + "/postgres",
            "-D",
            data_dir_,
            "-p",
            absl::StrCat(port_),
            "-k",
            dir_->path(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            absl::StrCat("max_connections=", options_.max_connections),
            "-c",
            absl::StrCat("superuser_reserved_connections=",
                         options_.superuser_reserved_connections),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "shared_buffers=16MB"};
  for (const std::string& setting : options_.settings) {
    o.argv.push_back("-c");
    o.argv.push_back(setting);
  }
  o.log_path = log_path_;
  o.uid = uid_;
  o.gid = gid_;
  o.cwd = dir_->path();
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(o);
  if (!p.ok()) return p.status();
  Subprocess* proc = p->get();
  const std::string ping = absl::StrCat(
      "host=127.0.0.1 port=", port_,
      " dbname=postgres user=postgres connect_timeout=2 sslmode=disable "
      "gssencmode=disable");
  const bool up = WaitFor(
      [&] { return !proc->Running() || PQping(ping.c_str()) == PQPING_OK; },
      options_.start_timeout, absl::Milliseconds(50));
  if (up && proc->Running()) {
    process_ = *std::move(p);
    return absl::OkStatus();
  }
  proc->Stop(SIGKILL);
  return absl::UnavailableError(absl::StrCat("postgres did not start on port ",
                                             port_, ": ", LogTail(log_path_)));
}

PostgresServer::~PostgresServer() { Stop(); }

void PostgresServer::Stop() {
  if (process_ != nullptr) {
    // SIGINT: fast shutdown (disconnects clients, no waiting for them).
    process_->Stop(SIGINT, absl::Seconds(15));
    process_.reset();
  }
}

absl::Status PostgresServer::Restart() {
  Stop();
  return Launch();
}

bool PostgresServer::running() {
  return process_ != nullptr && process_->Running();
}

std::string PostgresServer::ConnInfo(const std::string& user,
                                     const std::string& password,
                                     const std::string& dbname) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " user=", user,
                      " password=", password, " dbname=", dbname);
}

absl::Status PostgresServer::Execute(const std::string& sql) {
  const std::string conninfo =
      absl::StrCat("host=", dir_->path(), " port=", port_,
                   " user=postgres dbname=postgres connect_timeout=10");
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("connect: ", err));
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(res);
  absl::Status out = absl::OkStatus();
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    out = absl::InternalError(
        absl::StrCat("\"", sql, "\": ", PQresultErrorMessage(res)));
  }
  PQclear(res);
  PQfinish(conn);
  return out;
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
