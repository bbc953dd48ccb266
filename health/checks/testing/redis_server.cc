#include "health/checks/testing/redis_server.h"

#include "absl/strings/str_cat.h"
#include "health/checks/testing/ports.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace checks {
namespace testing {

using ::vigil::testing::FindExecutable;
using ::vigil::testing::LogTail;
using ::vigil::testing::ScopedTempDir;
using ::vigil::testing::Subprocess;
using ::vigil::testing::SubprocessOptions;
using ::vigil::testing::WaitFor;

std::string RedisServer::BinaryPath() {
  return FindExecutable(
      {"/usr/bin/redis-server", "/usr/local/bin/redis-server"});
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    RedisServerOptions options) {
  const std::string binary = BinaryPath();
  if (binary.empty()) {
    return absl::UnavailableError("redis-server is not installed");
  }
  std::unique_ptr<RedisServer> server(new RedisServer());
  absl::StatusOr<std::unique_ptr<ScopedTempDir>> dir =
      ScopedTempDir::Create("vigil-redis-");
  if (!dir.ok()) return dir.status();
  server->dir_ = *std::move(dir);
  server->log_path_ = server->dir_->path() + "/redis.log";

  absl::Status last = absl::UnavailableError("not started");
  // A picked port can be taken by someone else before redis binds it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    int port = options.port;
    if (port == 0) {
      absl::StatusOr<int> p = PickFreePort();
      if (!p.ok()) return p.status();
      port = *p;
    }
    SubprocessOptions so;
    so.argv = {binary,
               "--port",
               absl::StrCat(port),
               "--bind",
               "127.0.0.1",
               "--save",
               "",
               "--appendonly",
               "no",
               "--daemonize",
               "no",
               "--dir",
               server->dir_->path(),
               "--logfile",
               "",
               "--protected-mode",
               "yes"};
    if (options.maxclients > 0) {
      so.argv.push_back("--maxclients");
      so.argv.push_back(absl::StrCat(options.maxclients));
    }
    if (!options.password.empty()) {
      so.argv.push_back("--requirepass");
      so.argv.push_back(options.password);
    }
    for (const std::string& a : options.extra_args) so.argv.push_back(a);
    so.log_path = server->log_path_;
    absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(so);
    if (!p.ok()) return p.status();
    Subprocess* proc = p->get();
    const bool up = WaitFor(
        [&] { return !proc->Running() || CanConnect("127.0.0.1", port, 200); },
        options.start_timeout);
    if (up && proc->Running()) {
      server->port_ = port;
      server->process_ = *std::move(p);
      return server;
    }
    (*p)->Stop(SIGKILL);
    last = absl::UnavailableError(
        absl::StrCat("redis-server did not start on port ", port, ": ",
                     LogTail(server->log_path_)));
    if (options.port != 0) break;  // The caller insists on this port.
  }
  return last;
}

RedisServer::~RedisServer() { Stop(); }

std::string RedisServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void RedisServer::Stop() {
  if (process_ != nullptr) process_->Stop(SIGTERM, absl::Seconds(10));
}

bool RedisServer::running() {
  return process_ != nullptr && process_->Running();
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
