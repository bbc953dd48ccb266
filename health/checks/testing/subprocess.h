// Subprocess: a child process owned by a test, killed when the object dies.
//
// Used to run real servers (redis-server, postgres) on loopback. The child
// gets its own process group, which Stop() and the destructor signal as a
// whole, and PR_SET_PDEATHSIG(SIGKILL), so a crashed test leaves no server
// behind. Optionally runs as another user (tests run as root; PostgreSQL
// refuses to).
//
//   SubprocessOptions o;
//   o.argv = {"/usr/bin/redis-server", "--port", "6390"};
//   o.log_path = dir + "/redis.log";
//   auto p = Subprocess::Start(o);
//   ...
//   (*p)->Stop();  // SIGTERM, then SIGKILL after the grace period
//
// Not thread-safe; use from one thread. Start it from a thread that outlives
// it (the test's main thread): the kernel's parent-death signal fires when
// the forking *thread* exits.

#ifndef VIGIL_HEALTH_CHECKS_TESTING_SUBPROCESS_H_
#define VIGIL_HEALTH_CHECKS_TESTING_SUBPROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil {
namespace checks {
namespace testing {

struct SubprocessOptions {
  // argv[0] must be an absolute path.
  std::vector<std::string> argv;
  // stdout and stderr go here (appended); empty = /dev/null.
  std::string log_path;
  // Working directory; empty = inherit.
  std::string cwd;
  // Run as this user and group (requires root).
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

class Subprocess {
 public:
  // Forks and execs. Returns an error if exec fails (reported through a
  // close-on-exec pipe, so a missing binary is an error here, not a silent
  // exit later).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const SubprocessOptions& options);
  // Stop(SIGTERM, 5 s): then SIGKILL of the group.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // True while the child has not exited (reaps it if it has).
  bool Running();
  // The exit status (as from waitpid) once it exited.
  std::optional<int> exit_status() const { return exit_status_; }

  // Waits up to `timeout` for the child to exit by itself; returns its wait
  // status, or nullopt if it is still running.
  std::optional<int> WaitForExit(absl::Duration timeout);

  // Sends `sig` to the child's process group.
  void Signal(int sig);

  // Sends `sig`, waits up to `grace` for the child to exit, then SIGKILLs
  // the whole group and reaps it. Returns the wait status. Idempotent.
  int Stop(int sig = SIGTERM, absl::Duration grace = absl::Seconds(10));

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> exit_status_;
  bool group_killed_ = false;
};

// The first of `candidates` that is an executable file, or "".
std::string FindExecutable(const std::vector<std::string>& candidates);

// The tail (up to `max_bytes`) of a log file, for failure messages.
std::string LogTail(const std::string& path, size_t max_bytes = 4000);

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_SUBPROCESS_H_
