// Scenario S1 on the example service, for real (issue 20): the service and
// a second process that allocates share a fresh cgroup v1 memory cgroup
// limited to 256 MiB.
//   - Spike, 40 MiB/s (4 MiB every 100 ms): the memory check turns
//     UNHEALTHY and /readyz answers 503 because of memory at least 2 s before
//     the kernel's OOM kill (oom_kill still 0 then), the overload hook sheds
//     the application's new requests (503 + Retry-After), and the service
//     survives the kill (the allocator is what the kernel kills).
//   - The spike again with --overload_stop_accepting: while memory is
//     UNHEALTHY the application server accepts no new connection (a new
//     client connects into the listen backlog and gets no answer), and
//     serves again once memory recovers.
//   - Slow growth, 2 MiB/s, into a 1 GiB limit: a time-to-exhaustion warning
//     (DEGRADED) minutes ahead; the test stops the allocator once the
//     warning is checked against the real remaining time, which keeps it
//     within about a minute. (The long trend speaks once its samples span
//     30 s; 256 MiB at 2 MiB/s is about 2 min from empty, so that limit
//     could only ever give ~1.5 min of warning, whatever the trend.)
// The test process joins the cgroup before starting both children (so that
// the service resolves it as its own) and leaves it at the end.
//
// Needs root, the v1 memory hierarchy and a writable /sys/fs/cgroup
// (tags = ["no-sandbox"]).

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "examples/service/testing/service_process.h"
#include "gtest/gtest.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/require.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/upstream.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil_example {
namespace {

using testing::ServiceProcess;
using vigil::pressure::testing::StartWorkload;
using vigil::testing::ReadFile;
using vigil::testing::Subprocess;
using vigil::testing::Upstream;
using vigil::testing::WaitFor;
using vigil::testing::WriteFile;

constexpr int64_t kLimit = 256 << 20;
const char kMemoryRoot[] = "/sys/fs/cgroup/memory";

std::optional<uint64_t> Field(const std::string& path, absl::string_view key) {
  absl::StatusOr<std::string> c = ReadFile(path);
  if (!c.ok()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*c, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, ' ');
    uint64_t v = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &v)) return v;
  }
  return std::nullopt;
}

struct Answer {
  int status = 0;  // 0: no answer.
  std::string body;
  std::string retry_after;
};

Answer Get(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(1, 0);
  httplib::Result r = c.Get(path.c_str());
  if (!r) return {};
  return {r->status, r->body, r->get_header_value("Retry-After")};
}

// The memory check's JSON details value for `key` ("" when absent).
std::string MemoryDetail(int probe_port, const std::string& key) {
  const Answer a = Get(probe_port, "/readyz/memory?format=json");
  const std::string needle = absl::StrCat("\"", key, "\":\"");
  const size_t at = a.body.find(needle);
  if (at == std::string::npos) return "";
  const size_t begin = at + needle.size();
  return a.body.substr(begin, a.body.find('"', begin) - begin);
}

// A fresh v1 memory cgroup with `limit` bytes and no swap, which this
// process joins; left and removed on destruction.
class SharedCgroup {
 public:
  bool Create(int64_t limit, std::string* error) {
    dir_ = absl::StrCat(kMemoryRoot, "/vigil-s1-service-", getpid(), "-",
                        absl::ToUnixNanos(absl::Now()) % 1000000);
    absl::StatusOr<std::string> self = ReadFile("/proc/self/cgroup");
    for (absl::string_view line : absl::StrSplit(self.value_or(""), '\n')) {
      std::vector<std::string> f = absl::StrSplit(line, ':');
      if (f.size() == 3 && absl::StrContains(f[1], "memory")) {
        home_ = absl::StrCat(kMemoryRoot, f[2] == "/" ? "" : f[2]);
      }
    }
    if (mkdir(dir_.c_str(), 0755) != 0) {
      *error = absl::StrCat("cannot create ", dir_, ": ", std::strerror(errno),
                            " (tags = [\"no-sandbox\"])");
      dir_.clear();
      return false;
    }
    absl::Status s =
        WriteFile(dir_ + "/memory.limit_in_bytes", absl::StrCat(limit));
    if (s.ok()) {
      WriteFile(dir_ + "/memory.memsw.limit_in_bytes", absl::StrCat(limit))
          .IgnoreError();
      WriteFile(dir_ + "/memory.swappiness", "0").IgnoreError();
      s = WriteFile(dir_ + "/cgroup.procs", absl::StrCat(getpid()));
    }
    if (!s.ok()) *error = std::string(s.message());
    return s.ok();
  }
  ~SharedCgroup() {
    if (dir_.empty()) return;
    WriteFile(home_ + "/cgroup.procs", absl::StrCat(getpid())).IgnoreError();
    // EBUSY until every killed task has fully exited.
    WaitFor([&] { return rmdir(dir_.c_str()) == 0 || errno == ENOENT; },
            absl::Seconds(10));
  }
  const std::string& dir() const { return dir_; }
  uint64_t OomKills() const {
    return Field(dir_ + "/memory.oom_control", "oom_kill").value_or(0);
  }
  double UsageMiB() const {
    absl::StatusOr<std::string> u = ReadFile(dir_ + "/memory.usage_in_bytes");
    double v = 0;
    return u.ok() && absl::SimpleAtod(absl::StripAsciiWhitespace(*u), &v)
               ? v / (1 << 20)
               : 0;
  }

 private:
  std::string dir_;
  std::string home_ = kMemoryRoot;
};

class MemorySpikeTest : public ::testing::Test {
 protected:
  MemorySpikeTest() = default;
  MemorySpikeTest(int64_t limit, std::vector<std::string> flags)
      : limit_(limit), flags_(std::move(flags)) {}

  void SetUp() override {
    VIGIL_REQUIRE_OR_SKIP(geteuid() == 0, "needs root for a memory cgroup");
    VIGIL_REQUIRE_OR_SKIP(
        access((std::string(kMemoryRoot) + "/cgroup.event_control").c_str(),
               F_OK) == 0,
        "no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory");
    std::string error;
    ASSERT_TRUE(cgroup_.Create(limit_, &error)) << error;
    // Default flags, as a new user runs it (plus `flags_`); the upstream is
    // up so that memory is the only reason readiness can fail.
    std::vector<std::string> args = {
        "--warmup=0s", absl::StrCat("--upstream=", upstream_.address())};
    args.insert(args.end(), flags_.begin(), flags_.end());
    auto s = ServiceProcess::Start(args);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = *std::move(s);
    const int port = service_->probe_port();
    ASSERT_TRUE(WaitFor([&] { return Get(port, "/readyz").status == 200; },
                        absl::Seconds(30)))
        << Get(port, "/readyz?verbose").body;
    events_ = MemoryDetail(port, "events");
    ASSERT_TRUE(absl::StrContains(events_, "v1_thresholds")) << events_;
    ASSERT_EQ(cgroup_.OomKills(), 0u);
  }

  // Starts the allocator: `step_kib` every `interval_ms`.
  void Grow(int step_kib, int interval_ms) {
    absl::StatusOr<std::unique_ptr<Subprocess>> started = StartWorkload(
        {"memory", absl::StrCat(step_kib), absl::StrCat(interval_ms), "1024"});
    ASSERT_TRUE(started.ok()) << started.status();
    allocator_ = *std::move(started);
  }

  // Drains what the allocator printed; true once the cgroup counted an OOM
  // kill or the allocator's output ended (it died).
  bool AllocatorKilled() {
    bool eof = false;
    while (allocator_->ReadLine(absl::ZeroDuration(), &eof)) {
    }
    return cgroup_.OomKills() > 0 || eof;
  }

  const int64_t limit_ = kLimit;
  const std::vector<std::string> flags_;
  SharedCgroup cgroup_;
  Upstream upstream_;
  std::unique_ptr<ServiceProcess> service_;
  std::unique_ptr<Subprocess> allocator_;
  std::string events_;
};

TEST_F(MemorySpikeTest, SpikeFailsReadinessAndShedsBeforeTheOomKill) {
  const int probe = service_->probe_port();
  const int app = service_->app_port();
  const double base_mib = cgroup_.UsageMiB();
  const absl::Time start = absl::Now();
  Grow(4096, 100);  // 40 MiB/s.
  std::optional<absl::Time> ready_503, shed;
  std::optional<uint64_t> kills_at_503;
  std::optional<double> usage_at_503;
  std::string readyz_body, shed_retry_after;
  absl::Time killed_at = absl::InfiniteFuture();
  // One observation per poll until the kill: /readyz failing because of
  // memory, then the application shed. Bounded: 256 MiB at 40 MiB/s is under
  // 7 s; 30 s at most (the kill is seen within one poll, ~10 ms, of the
  // oom_kill counter).
  WaitFor(
      [&] {
        if (AllocatorKilled()) {
          killed_at = absl::Now();
          return true;
        }
        if (!ready_503) {
          const Answer r = Get(probe, "/readyz?verbose");
          if (r.status == 503 &&
              absl::StrContains(r.body, "[-]memory failed")) {
            ready_503 = absl::Now();
            kills_at_503 = cgroup_.OomKills();
            usage_at_503 = cgroup_.UsageMiB();
            readyz_body = r.body;
          }
        } else if (!shed) {
          const Answer a = Get(app, "/");
          if (a.status == 503) {
            shed = absl::Now();
            shed_retry_after = a.retry_after;
          }
        }
        return false;
      },
      absl::Seconds(30), absl::Milliseconds(10));
  ASSERT_NE(killed_at, absl::InfiniteFuture())
      << "no OOM kill within 30 s; usage " << cgroup_.UsageMiB() << " MiB";
  std::optional<int> status = allocator_->WaitForExit(absl::Seconds(10));
  const bool allocator_killed =
      status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;

  ASSERT_TRUE(ready_503.has_value())
      << "/readyz never failed because of memory before the kill";
  EXPECT_EQ(kills_at_503, 0u);
  const absl::Duration lead = killed_at - *ready_503;
  EXPECT_GE(lead, absl::Seconds(2)) << readyz_body;
  ASSERT_TRUE(shed.has_value()) << "the application was never shed";
  EXPECT_LT(*shed, killed_at);
  EXPECT_EQ(shed_retry_after, "5");
  EXPECT_TRUE(allocator_killed)
      << "allocator wait status " << status.value_or(-1);
  // The service survived and recovers: readiness passes again (DEGRADED for
  // the recent OOM kill is passing) and the application serves.
  EXPECT_EQ(kill(service_->pid(), 0), 0) << "the service died";
  EXPECT_EQ(Get(probe, "/livez").status, 200);
  EXPECT_TRUE(WaitFor([&] { return Get(probe, "/readyz").status == 200; },
                      absl::Seconds(20)))
      << Get(probe, "/readyz?verbose").body;
  EXPECT_TRUE(
      WaitFor([&] { return Get(app, "/").status == 200; }, absl::Seconds(10)));
  std::cout << "S1 spike (v1 cgroup, limit 256 MiB, 4 MiB / 100 ms; events "
            << events_ << "):\n"
            << "  service + test at start: " << base_mib << " MiB\n"
            << "  /readyz 503 because of memory at "
            << absl::FormatDuration(*ready_503 - start) << " (cgroup usage "
            << usage_at_503.value_or(0) << " MiB, oom_kill "
            << kills_at_503.value_or(0) << ")\n"
            << "  application shed (503, Retry-After " << shed_retry_after
            << ") at " << absl::FormatDuration(*shed - start) << "\n"
            << "  OOM kill seen at " << absl::FormatDuration(killed_at - start)
            << ": killed "
            << (allocator_killed ? "the allocator" : "not the allocator")
            << "; the service "
            << (kill(service_->pid(), 0) == 0 ? "survived" : "died") << "\n"
            << "  lead time /readyz 503 -> OOM kill: "
            << absl::FormatDuration(lead) << "\n"
            << "  readyz: " << readyz_body;
}

// A GET on a new connection to `port` with a 300 ms read timeout.
httplib::Error NewConnectionGet(int port, int* status) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(0, 300 * 1000);
  httplib::Result r = c.Get("/");
  *status = r ? r->status : 0;
  return r.error();
}

class StopAcceptingSpikeTest : public MemorySpikeTest {
 protected:
  StopAcceptingSpikeTest()
      : MemorySpikeTest(kLimit, {"--overload_stop_accepting"}) {}
};

TEST_F(StopAcceptingSpikeTest, NewConnectionsWaitWhileMemoryIsUnhealthy) {
  const int probe = service_->probe_port();
  const int app = service_->app_port();
  int status = 0;
  ASSERT_EQ(NewConnectionGet(app, &status), httplib::Error::Success);
  ASSERT_EQ(status, 200);
  const absl::Time start = absl::Now();
  Grow(4096, 100);  // 40 MiB/s.
  std::optional<absl::Time> ready_503, held;
  std::string metrics;
  absl::Time killed_at = absl::InfiniteFuture();
  // One observation per poll until the kill, bounded as the spike above
  // (30 s at most): /readyz failing because of memory, then a new
  // connection to the application held unanswered.
  WaitFor(
      [&] {
        if (AllocatorKilled()) {
          killed_at = absl::Now();
          return true;
        }
        if (!ready_503) {
          const Answer r = Get(probe, "/readyz?verbose");
          if (r.status == 503 &&
              absl::StrContains(r.body, "[-]memory failed")) {
            ready_503 = absl::Now();
          }
        } else if (!held) {
          // Connected (the kernel's backlog), never answered: a read
          // timeout.
          if (NewConnectionGet(app, &status) == httplib::Error::Read) {
            held = absl::Now();
            metrics = Get(probe, "/metrics").body;
          }
        }
        return false;
      },
      absl::Seconds(30), absl::Milliseconds(10));
  ASSERT_NE(killed_at, absl::InfiniteFuture())
      << "no OOM kill within 30 s; usage " << cgroup_.UsageMiB() << " MiB";
  allocator_->WaitForExit(absl::Seconds(10));
  ASSERT_TRUE(ready_503.has_value());
  ASSERT_TRUE(held.has_value()) << "a new connection was never held";
  EXPECT_TRUE(absl::StrContains(
      metrics, "vigil_overload_action_active{action=\"stop_accepting\"} 1"))
      << metrics;
  // Memory recovers (DEGRADED for the OOM kill): new connections served.
  EXPECT_EQ(kill(service_->pid(), 0), 0) << "the service died";
  EXPECT_TRUE(WaitFor(
      [&] {
        return NewConnectionGet(app, &status) == httplib::Error::Success &&
               status == 200;
      },
      absl::Seconds(20)))
      << Get(probe, "/readyz?verbose").body;
  std::cout << "S1 spike with --overload_stop_accepting:\n"
            << "  /readyz 503 because of memory at "
            << absl::FormatDuration(*ready_503 - start) << "\n"
            << "  new connection held (connected, no answer) at "
            << absl::FormatDuration(*held - start) << "\n"
            << "  OOM kill seen at " << absl::FormatDuration(killed_at - start)
            << "; new connections served again after recovery\n";
}

constexpr int64_t kSlowLimit = int64_t{1} << 30;

// 2 MiB/s needs minutes of runway to be warned minutes ahead: 1 GiB is
// 8.5 min from empty (the test stops the allocator after ~35 s, ~70 MiB).
class SlowGrowthTest : public MemorySpikeTest {
 protected:
  SlowGrowthTest() : MemorySpikeTest(kSlowLimit, {}) {}
};

TEST_F(SlowGrowthTest, SlowGrowthWarnsMinutesAhead) {
  const int probe = service_->probe_port();
  const absl::Time start = absl::Now();
  Grow(2048, 1000);  // 2 MiB/s.
  std::optional<double> tte, usage_mib;
  std::optional<absl::Time> warned;
  std::string body;
  bool eof = false;
  // The long trend speaks after 30 s of samples: bounded at 75 s, polled
  // every 200 ms; stops early if the allocator dies.
  WaitFor(
      [&] {
        while (allocator_->ReadLine(absl::ZeroDuration(), &eof)) {
        }
        if (eof) return true;
        const Answer r = Get(probe, "/readyz?verbose");
        const std::string t = MemoryDetail(probe, "time_to_exhaustion_seconds");
        double v = 0;
        if (absl::StrContains(r.body, "[+]memory degraded") && !t.empty() &&
            absl::SimpleAtod(t, &v)) {
          warned = absl::Now();
          tte = v;
          usage_mib = cgroup_.UsageMiB();
          body = r.body;
          return true;
        }
        return false;
      },
      absl::Seconds(75), absl::Milliseconds(200));
  ASSERT_FALSE(eof) << "allocator died early";
  ASSERT_TRUE(warned.has_value()) << Get(probe, "/readyz?verbose").body;
  EXPECT_EQ(cgroup_.OomKills(), 0u);
  // The real time left at 2 MiB/s from the cgroup's usage then.
  const double real_left = (kSlowLimit / double(1 << 20) - *usage_mib) / 2.0;
  EXPECT_GE(*tte, 5 * 60) << body;  // Minutes ahead.
  EXPECT_NEAR(*tte, real_left, 0.25 * real_left) << body;
  allocator_->Stop(SIGKILL, absl::ZeroDuration());
  std::cout << "S1 slow (v1 cgroup, limit 1 GiB, 2 MiB / s):\n"
            << "  DEGRADED with a time to exhaustion at "
            << absl::FormatDuration(*warned - start) << ": predicted " << *tte
            << " s, real " << real_left << " s (usage " << *usage_mib
            << " MiB)\n"
            << "  readyz: " << body;
}

}  // namespace
}  // namespace vigil_example
