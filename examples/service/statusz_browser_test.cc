// /statusz in a real browser, during S1 (memory growing toward its limit).
//
// The example service runs in a v1 memory cgroup of its own with a 256 MiB
// limit; a filler process in the same cgroup allocates (and touches) memory
// step by step up to 93% of it, so the memory detector goes DEGRADED at 80%
// and UNHEALTHY at 90%, with a time to exhaustion; meanwhile the upstream
// dependency goes away, flipping "upstream" to UNHEALTHY. Debian's headless
// Chromium then loads /statusz: the DOM must have a row per check with the
// right statuses, the memory sparkline its samples, the timeline both
// flips, and no console or script errors. The screenshot is kept as a test
// output (statusz.png in TEST_UNDECLARED_OUTPUTS_DIR;
// docs/statusz_screenshot.sh copies it to docs/statusz.png).
//
// Needs root, a writable v1 memory hierarchy (tags = ["no-sandbox"]) and
// chromium (scripts/setup.sh): skips without them, fails under CI.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "examples/service/testing/service_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/testing/http_test_util.h"
#include "health/testing/require.h"
#include "health/testing/upstream.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil_example {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ServiceProcess;
using vigil::testing::Upstream;
using vigil::testing::WaitFor;

constexpr char kMemoryRoot[] = "/sys/fs/cgroup/memory";
constexpr int64_t kLimit = 256 << 20;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// A child memory cgroup, removed (after its processes) on destruction.
class MemoryCgroup {
 public:
  MemoryCgroup()
      : path_(absl::StrCat(kMemoryRoot, "/vigil-statusz-", getpid())) {}
  bool Create() {
    return mkdir(path_.c_str(), 0755) == 0 &&
           WriteFile(path_ + "/memory.limit_in_bytes", absl::StrCat(kLimit));
  }
  bool Enter(pid_t pid) const {
    return WriteFile(path_ + "/cgroup.procs", absl::StrCat(pid));
  }
  static bool Leave(pid_t pid) {
    return WriteFile(absl::StrCat(kMemoryRoot, "/cgroup.procs"),
                     absl::StrCat(pid));
  }
  int64_t Usage() const {
    int64_t v = 0;
    (void)absl::SimpleAtoi(
        absl::StripAsciiWhitespace(ReadFile(path_ + "/memory.usage_in_bytes")),
        &v);
    return v;
  }
  ~MemoryCgroup() {
    WaitFor([&] { return rmdir(path_.c_str()) == 0 || errno == ENOENT; },
            absl::Seconds(10));
  }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
};

// A forked process (in the caller's cgroup) that allocates 2 MiB every
// 600 ms, touching every page, until the cgroup's usage reaches `target`,
// then holds the memory; killed on destruction. About 6% of the limit per
// 5 s memory sample, so the samples pass through the 80-90% band.
class Filler {
 public:
  Filler(const MemoryCgroup& cgroup, int64_t target) : pid_(fork()) {
    if (pid_ != 0) return;
    std::vector<char*> chunks;
    while (true) {
      if (cgroup.Usage() < target) {
        char* p = static_cast<char*>(malloc(2 << 20));
        if (p != nullptr) {
          memset(p, 0x5a, 2 << 20);
          chunks.push_back(p);
        }
      }
      usleep(600 * 1000);
    }
  }
  ~Filler() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  const pid_t pid_;
};

std::string Get(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(5, 0);
  httplib::Result r = c.Get(path.c_str());
  return r ? r->body : "";
}

// Runs chromium headless with `args` and `url`; returns its exit status and
// fills `out` / `err` with what it printed.
int RunChromium(const std::string& args, const std::string& url,
                std::string* out, std::string* err) {
  const std::string tmp = std::getenv("TEST_TMPDIR");
  const std::string command = absl::StrCat(
      "HOME=", tmp, " timeout 90 chromium --headless --no-sandbox ",
      "--disable-gpu --no-first-run --user-data-dir=", tmp, "/chrome ",
      "--enable-logging=stderr --v=0 ", args, " '", url, "' >", tmp,
      "/chrome.out 2>", tmp, "/chrome.err");
  const int rc = std::system(command.c_str());
  *out = ReadFile(tmp + "/chrome.out");
  *err = ReadFile(tmp + "/chrome.err");
  return rc;
}

// The attribute value of the first `<svg class="spark" ...>` after
// `data-check="memory"`.
int MemorySamples(const std::string& dom) {
  const size_t row = dom.find("data-check=\"memory\"");
  if (row == std::string::npos) return -1;
  const size_t svg = dom.find("data-samples=\"", row);
  const size_t end = dom.find("</tr>", row);
  if (svg == std::string::npos || svg > end) return 0;
  int n = 0;
  (void)absl::SimpleAtoi(
      dom.substr(svg + 14, dom.find('"', svg + 14) - svg - 14), &n);
  return n;
}

TEST(StatuszBrowserTest, S1MemoryRisingAndADependencyLostInChromium) {
  VIGIL_REQUIRE_OR_SKIP(std::system("command -v chromium >/dev/null") == 0,
                        "chromium not installed (scripts/setup.sh)");
  VIGIL_REQUIRE_OR_SKIP(geteuid() == 0, "needs root for a memory cgroup");
  MemoryCgroup cgroup;
  VIGIL_REQUIRE_OR_SKIP(cgroup.Create(),
                        "cannot create a v1 memory cgroup (read-only "
                        "/sys/fs/cgroup: run with tags = [\"no-sandbox\"])");

  // The service and the filler are born in the cgroup; the test (and the
  // browser) leave it.
  ASSERT_TRUE(cgroup.Enter(getpid()));
  // Forked before the upstream's socket exists, so it does not hold it open.
  Filler filler(cgroup, kLimit * 93 / 100);
  Upstream upstream;
  auto service = ServiceProcess::Start({"--warmup=0s", "--supervise=false",
                                        "--demo_endpoints=false",
                                        "--upstream=" + upstream.address()});
  ASSERT_TRUE(MemoryCgroup::Leave(getpid()));
  ASSERT_TRUE(service.ok()) << service.status();
  const int port = (*service)->probe_port();

  // Memory ramps for about 70 s; the dependency goes after the first 10.
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(Get(port, "/healthz/upstream?verbose"),
                                 "[+]upstream");
      },
      absl::Seconds(30)));
  sleep(10);  // Real process, real time: let the memory samples accumulate.
  upstream.Close();
  const bool memory_unhealthy = WaitFor(
      [&] {
        const std::string h = Get(port, "/statusz/history?check=memory");
        return absl::StrContains(h, "\"to\":\"STATUS_UNHEALTHY\"") &&
               absl::StrContains(Get(port, "/statusz/history?check=upstream"),
                                 "\"to\":\"STATUS_UNHEALTHY\"");
      },
      absl::Seconds(150));
  ASSERT_TRUE(memory_unhealthy)
      << "usage " << cgroup.Usage() << " of " << kLimit << "\n"
      << Get(port, "/statusz/history?check=memory") << "\n"
      << Get(port, "/statusz/history?check=upstream");

  std::string dom, err;
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/statusz");
  ASSERT_EQ(RunChromium("--dump-dom", url, &dom, &err), 0) << err;
  // A row per check with the statuses the service reports.
  const std::string health = Get(port, "/healthz?format=json");
  for (const char* check : {"memory", "upstream"}) {
    EXPECT_THAT(dom, HasSubstr(absl::StrCat("data-check=\"", check,
                                            "\" data-status=\"unhealthy\"")));
  }
  for (const char* check :
       {"app-port", "disk:/", "fds", "tasks", "warmup", "watchdog"}) {
    EXPECT_THAT(dom, HasSubstr(absl::StrCat("data-check=\"", check, "\"")));
  }
  // The sparkline has the samples; the timeline both flips, in order.
  EXPECT_GE(MemorySamples(dom), 6) << dom;
  EXPECT_THAT(dom, HasSubstr("class=\"critical\""));
  const size_t degraded =
      dom.find("data-subject=\"memory\" data-to=\"degraded\"");
  const size_t unhealthy =
      dom.find("data-subject=\"memory\" data-to=\"unhealthy\"");
  ASSERT_NE(unhealthy, std::string::npos) << dom;
  // Newest first: UNHEALTHY is listed above the DEGRADED before it.
  if (degraded != std::string::npos) {
    EXPECT_LT(unhealthy, degraded);
  }
  EXPECT_THAT(dom,
              HasSubstr("data-subject=\"upstream\" data-to=\"unhealthy\""));
  // The page's script ran without errors, and the console is silent.
  EXPECT_THAT(dom, HasSubstr("data-js-errors=\"0\""));
  EXPECT_THAT(dom, HasSubstr("live: every 5 s"));
  EXPECT_THAT(err, Not(HasSubstr("CONSOLE"))) << err;

  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  ASSERT_NE(outputs, nullptr);
  const std::string png = absl::StrCat(outputs, "/statusz.png");
  std::string ignored;
  ASSERT_EQ(RunChromium(absl::StrCat("--screenshot=", png,
                                     " --window-size=1200,1500 "
                                     "--hide-scrollbars"),
                        url, &ignored, &err),
            0)
      << err;
  struct stat st;
  ASSERT_EQ(stat(png.c_str(), &st), 0);
  EXPECT_GT(st.st_size, 20000);
  WriteFile(absl::StrCat(outputs, "/statusz.html"), dom);

  (*service)->Signal(SIGKILL);
  (*service)->WaitForExit(absl::Seconds(10));
}

}  // namespace
}  // namespace vigil_example
