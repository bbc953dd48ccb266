// The pieces S8's load-balancer tests share (behind HAProxy and behind
// nginx): two kinds of backend instance, a stand-in for an instance's
// critical dependency, steady keep-alive load that records who answered each
// request, and the deploy gate.
//
//   vigil::testing::Upstream dep;                   // the dependency
//   auto app = ExampleInstance::Start(dep.address(), probe_port, app_port);
//   Load load(front_port, 3);                       // through the balancer
//   ...
//   ASSERT_TRUE(app->Terminate());                  // SIGTERM, drain, exit
//   ASSERT_EQ(RunGate(readyz_url, log), 0);         // vigil-sidecar wait
//   load.Stop();
//   EXPECT_EQ(load.failures(), 0) << load.FailureSamples();
//
// S8Fixture sets up what both balancer tests need around their balancer.
//
// Test-only. Instances are used from the test's main thread; Load's
// accessors are thread-safe.

#ifndef VIGIL_EXAMPLES_SIDECAR_TESTING_S8_HARNESS_H_
#define VIGIL_EXAMPLES_SIDECAR_TESTING_S8_HARNESS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "examples/service/testing/service_process.h"
#include "gtest/gtest.h"
#include "health/sync.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/upstream.h"

namespace vigil_example {
namespace testing {

// The drain delay every instance runs with.
inline constexpr absl::Duration kDrainDelay = absl::Seconds(2);

// One backend instance: an application port and a probe port (/readyz).
class Instance {
 public:
  virtual ~Instance() = default;
  virtual int app_port() const = 0;
  virtual int probe_port() const = 0;
  // SIGTERM (drain), then waits for a clean exit. Returns false if it did
  // not exit with 0 in time.
  virtual bool Terminate() = 0;
  virtual std::string Output() const = 0;
};

// The example service, which links vigil. nullptr if it does not start.
std::unique_ptr<Instance> StartExampleInstance(const std::string& upstream,
                                               int probe_port, int app_port);

// A plain HTTP server that knows nothing of vigil (python3's http.server,
// HTTP/1.0: one request per connection; listen backlog 1024), with
// vigil-sidecar in front: the sidecar probes the server and the upstream and
// serves /readyz. Logs go to `dir`. nullptr if either does not start.
std::unique_ptr<Instance> StartSidecarInstance(const std::string& upstream,
                                               int probe_port, int app_port,
                                               const std::string& dir);

// Steady keep-alive load on 127.0.0.1:port from `threads` client threads
// (one HTTP/1.1 connection each, reopened after `Connection: close`), every
// response recorded with its start time and its X-Served-By header.
// Bounded: at most `max_per_thread` requests per thread, or until Stop().
//
// A client's one retry: when a reused keep-alive connection is closed by the
// server with not one byte of response read (the server closed it idle just
// as the request went out), the GET is sent once more on a new connection,
// as browsers, curl and Go's client do (RFC 9112 9.3.1: the request was not
// processed). Such retries are counted in retried_on_idle_close() and are
// not failures; a test asserts how many it allows. Anything else --
// a refused or failed new connection, a cut or incomplete response, a
// non-200 -- is a failure.
class Load {
 public:
  Load(int port, int threads, int max_per_thread = 2000000);
  ~Load() { Stop(); }

  void Stop();

  int64_t total() const { return total_.load(); }
  int64_t failures() const { return failures_.load(); }
  int64_t retried_on_idle_close() const { return retried_.load(); }
  // Up to 10 failures and 10 retries, one a line, with their start times.
  std::string FailureSamples() const;
  // The latest start time of a request `server` answered, or InfinitePast.
  absl::Time LastServedBy(const std::string& server) const;
  // Requests `server` answered that started at or after `since`.
  int64_t CountSince(const std::string& server, absl::Time since) const;

 private:
  struct Record {
    absl::Time start;
    std::string served_by;  // "" for a failure
  };
  void Run(int port, int max_requests);

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> total_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> retried_{0};
  mutable vigil::Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failure_samples_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> retry_samples_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// Exit code of `vigil-sidecar wait --url URL --successes 3` (the deploy
// gate), or -1 if it could not run. Its output goes to `log`.
int RunGate(const std::string& url, const std::string& log);

// HTTP status of GET 127.0.0.1:port/readyz with 1 s timeouts; 0 if none.
int ReadyzStatus(int probe_port);

// The kinds of backend instance S8 runs behind a balancer.
enum class Kind { kExample, kSidecar };

// "example service" or "sidecar".
const char* KindName(Kind kind);

// The fixture S8's balancer tests share, parameterised by Kind: a temporary
// directory, two backend instances of that kind, each with its own Upstream
// dependency and free probe and application ports, and steady load through
// the balancer that the test starts in front of them.
class S8Fixture : public ::testing::TestWithParam<Kind> {
 protected:
  // Skips the sidecar kind without python3, makes "/tmp/<dir_prefix>XXXXXX",
  // picks front_port_ for the balancer and starts both instances; with
  // `gate_each`, the deploy gate passes for each one before the next starts.
  // Call with ASSERT_NO_FATAL_FAILURE, then return if IsSkipped().
  void StartInstances(const std::string& dir_prefix, bool gate_each);
  // Stops the load (before the test stops its balancer).
  void TearDown() override;
  // Instance `i` on its ports (again, after a Terminate()); nullptr if it
  // does not start.
  std::unique_ptr<Instance> StartInstance(int i);
  // Starts `clients` load threads on front_port_ and waits until each
  // instance has served (a fatal failure with Diagnostics() if one never
  // does).
  void StartLoad(int clients);
  std::string ReadyzUrl(int i) const;
  std::string GateLog() const { return dir_->path() + "/gate.log"; }

  // The balancer's X-Served-By for instance `i`.
  virtual std::string Name(int i) const = 0;
  // Printed when an instance never serves: the balancer's logs.
  virtual std::string Diagnostics() const = 0;

  std::unique_ptr<vigil::testing::ScopedTempDir> dir_;
  std::unique_ptr<vigil::testing::Upstream> upstreams_[2];
  int probe_ports_[2] = {0, 0};
  int app_ports_[2] = {0, 0};
  std::unique_ptr<Instance> instances_[2];
  int front_port_ = 0;
  std::unique_ptr<Load> load_;
};

}  // namespace testing
}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SIDECAR_TESTING_S8_HARNESS_H_
