// Subprocess: a child process owned by a test, killed when the object dies.
//
// For real servers (redis-server, postgres, nginx, haproxy), the example
// binaries and workloads. The child runs in its own process group, which
// Stop() and the destructor signal as a whole, with PR_SET_PDEATHSIG
// (SIGKILL), so a crashed test leaves nothing behind. Its stdout and stderr
// go to a log file (Output(), WaitForOutput()); optionally its stdin and
// stdout are pipes instead (Write(), ReadLine()); it may join a cgroup or
// run as another user before exec.
//
//   vigil::testing::SubprocessOptions o;
//   o.argv = {"/usr/bin/redis-server", "--port", "6390"};
//   auto p = vigil::testing::Subprocess::Start(o);
//   ASSERT_TRUE(p.ok()) << p.status();
//   ASSERT_TRUE((*p)->WaitForOutput("Ready to accept", absl::Seconds(20)));
//   (*p)->Stop();  // SIGTERM to the group, then SIGKILL after the grace
//
// Not thread-safe; use from one thread. Start it from a thread that outlives
// it (the test's main thread): the kernel's parent-death signal fires when
// the forking *thread* exits. Part of //health:toolkit.

#ifndef VIGIL_HEALTH_TESTING_SUBPROCESS_H_
#define VIGIL_HEALTH_TESTING_SUBPROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vigil {
namespace testing {

struct SubprocessOptions {
  // argv[0] must be an absolute path.
  std::vector<std::string> argv;
  // Changes to the inherited environment: "NAME=value" sets NAME, "NAME="
  // with nothing after removes it.
  std::vector<std::string> env;
  // stdout and stderr are appended here; empty = a fresh file under
  // $TEST_TMPDIR (log_path() tells which).
  std::string log_path;
  // If true, the child's stdin and stdout are pipes to the test (Write(),
  // ReadLine()); stderr still goes to the log.
  bool pipe_stdio = false;
  // If not empty, the child writes its pid here before exec (joins that
  // cgroup: a cgroup.procs or tasks file).
  std::string cgroup_procs;
  // Working directory; empty = inherit.
  std::string cwd;
  // Run as this user and group (requires root).
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  // What the destructor does: Stop(stop_signal, stop_grace).
  int stop_signal = SIGTERM;
  absl::Duration stop_grace = absl::Seconds(5);
};

class Subprocess {
 public:
  // Forks and execs. Returns an error if the setup before exec or exec
  // itself fails (reported through a close-on-exec pipe, so a missing binary
  // is an error here, not a silent exit later).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      SubprocessOptions options);
  // Stop(options.stop_signal, options.stop_grace).
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // True while the child has not exited (reaps it if it has).
  bool Running();
  // The wait status (as from waitpid) once it exited.
  std::optional<int> exit_status() const { return exit_status_; }

  // Waits up to `timeout` for the child to exit by itself; returns its wait
  // status, or nullopt if it is still running.
  std::optional<int> WaitForExit(absl::Duration timeout);

  // Sends `sig` to the child's process group.
  void Signal(int sig);
  // Sends `sig` to the child alone (not its group).
  void SignalProcess(int sig);

  // Sends `sig` to the group, waits up to `grace` for the child to exit,
  // then SIGKILLs the whole group and reaps it. Returns the wait status.
  // Idempotent.
  int Stop(int sig = SIGTERM, absl::Duration grace = absl::Seconds(10));

  // The log file (stdout and stderr, or stderr with pipe_stdio).
  const std::string& log_path() const { return options_.log_path; }
  // Everything written to the log so far.
  std::string Output() const;
  // The lines of Output() that contain `needle`.
  std::vector<std::string> Lines(absl::string_view needle) const;
  // Waits up to `timeout` until `needle` occurs in at least `count` lines.
  bool WaitForOutput(absl::string_view needle, absl::Duration timeout,
                     int count = 1) const;

  // With pipe_stdio: writes `text` to the child's stdin. False on error.
  bool Write(absl::string_view text);
  // With pipe_stdio: one line (without '\n') from the child's stdout,
  // waiting at most `timeout`. nullopt on EOF or timeout (*eof tells which).
  std::optional<std::string> ReadLine(absl::Duration timeout,
                                      bool* eof = nullptr);

 private:
  Subprocess(pid_t pid, SubprocessOptions options, int in, int out);

  const pid_t pid_;
  const SubprocessOptions options_;
  int in_ = -1;
  int out_ = -1;
  std::string buffer_;
  std::optional<int> exit_status_;
  bool group_killed_ = false;
};

// The first of `candidates` that is an executable file, or "".
std::string FindExecutable(const std::vector<std::string>& candidates);

// The tail (up to `max_bytes`) of a log file, for failure messages.
std::string LogTail(const std::string& path, size_t max_bytes = 4000);

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_HEALTH_TESTING_SUBPROCESS_H_
