// /statusz in a real browser while a pressure detector's value rises.
//
// S1 where the machine has a writable v1 memory hierarchy: the example
// service runs in a memory cgroup of its own with a 256 MiB limit; a filler
// process in the same cgroup allocates (and touches) memory, quickly to 60%
// of it and then step by step up to 95%, so the memory detector goes
// DEGRADED at 80% and UNHEALTHY at 90%, with a time to exhaustion.
// Elsewhere (pure cgroup v2, or a v1 hierarchy that is read-only), the same
// story on a real filesystem (S2): the service's --scratch_dir is a 16 MiB
// tmpfs mounted by the test, and a filler writes files into it the same
// way, so the detector "disk:<dir>" rises instead. (VIGIL_STATUSZ_SCENARIO=
// disk picks the second where both work.) Meanwhile the upstream dependency
// goes away, flipping "upstream" to UNHEALTHY.
//
// Debian's headless Chromium then loads /statusz: the DOM must have a row
// per check with the right statuses, the detector's sparkline its samples,
// the timeline both flips, and no console or script errors. At phone width
// (an iframe 390 CSS px wide, since Chromium's headless window is never
// narrower than 500 px) the page's own layout check must report no
// horizontal overflow, no row outside the viewport and no cut-off cell. The
// screenshots are kept as test outputs (statusz.png, statusz-phone.png in
// TEST_UNDECLARED_OUTPUTS_DIR, with scenario.txt naming the scenario;
// docs/statusz_screenshot.sh copies statusz.png to docs/ from an S1 run).
//
// Needs root (a memory cgroup or a tmpfs mount; tags = ["no-sandbox"] for
// the cgroup) and chromium (scripts/setup.sh): skips without them, fails
// under CI.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

// A forked process that grows a use until `usage()` reaches `target`:
// quickly (one step at a time, no pause) to `fast_until`, then one step
// every 600 ms, then holds it; killed on destruction. The memory filler
// allocates and touches 2 MiB per step (about 1.3% of 256 MiB per second,
// so the 5 s memory samples pass through the 80-90% band); the disk filler
// writes a 40 KiB file per step (0.4% of 16 MiB per second, so the 10 s
// disk samples do too).
class Filler {
 public:
  Filler(std::function<int64_t()> usage, std::function<void()> step,
         int64_t fast_until, int64_t target)
      : pid_(fork()) {
    if (pid_ != 0) return;
    while (true) {
      const int64_t used = usage();
      if (used < target) step();
      if (used >= fast_until) usleep(600 * 1000);
    }
  }
  ~Filler() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  const pid_t pid_;
};

// A tmpfs of `kDiskSize` bytes mounted at `path` (created), unmounted on
// destruction.
constexpr int64_t kDiskSize = 16 << 20;
class Tmpfs {
 public:
  explicit Tmpfs(std::string path) : path_(std::move(path)) {}
  bool Mount() {
    mkdir(path_.c_str(), 0755);
    mounted_ = mount("tmpfs", path_.c_str(), "tmpfs", 0,
                     absl::StrCat("size=", kDiskSize).c_str()) == 0;
    return mounted_;
  }
  int64_t Used() const {
    struct statvfs v;
    if (statvfs(path_.c_str(), &v) != 0) return 0;
    return static_cast<int64_t>(v.f_blocks - v.f_bfree) * v.f_frsize;
  }
  ~Tmpfs() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  bool mounted_ = false;
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
      "--disable-gpu --no-first-run --disable-background-networking ",
      "--disable-component-update --disable-sync --user-data-dir=", tmp,
      "/chrome ", "--enable-logging=stderr --v=0 ", args, " '", url, "' >", tmp,
      "/chrome.out 2>", tmp, "/chrome.err");
  const int rc = std::system(command.c_str());
  *out = ReadFile(tmp + "/chrome.out");
  *err = ReadFile(tmp + "/chrome.err");
  return rc;
}

// The attribute value of the first `<svg class="spark" ...>` after
// `data-check="<check>"`.
int SparklineSamples(const std::string& dom, const std::string& check) {
  const size_t row = dom.find(absl::StrCat("data-check=\"", check, "\""));
  if (row == std::string::npos) return -1;
  const size_t svg = dom.find("data-samples=\"", row);
  const size_t end = dom.find("</tr>", row);
  if (svg == std::string::npos || svg > end) return 0;
  int n = 0;
  (void)absl::SimpleAtoi(
      dom.substr(svg + 14, dom.find('"', svg + 14) - svg - 14), &n);
  return n;
}

// Samples of `check` in /statusz/history (JSON).
int HistorySamples(int port, const std::string& check) {
  const std::string h = Get(port, "/statusz/history?check=" + check);
  int n = 0;
  for (size_t at = h.find("\"value\":"); at != std::string::npos;
       at = h.find("\"value\":", at + 1)) {
    ++n;
  }
  return n;
}

// "viewport=375 document=375 ..." (the page's data-layout) as a map.
std::map<std::string, double> ParseLayout(absl::string_view text) {
  std::map<std::string, double> out;
  for (absl::string_view kv : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
    double v = 0;
    if (absl::SimpleAtod(p.second, &v)) out[p.first] = v;
  }
  return out;
}

// The value of attribute `name` of the first element that has it.
std::string Attribute(const std::string& dom, const std::string& name) {
  const std::string key = name + "=\"";
  const size_t at = dom.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return dom.substr(from, dom.find('"', from) - from);
}

// A page of the test's own on loopback that shows the service's /statusz in
// an iframe 390 CSS px wide (a phone's), and copies the layout the page
// measured of itself into its own DOM (data-phone-layout), where
// --dump-dom shows it. /statusz is proxied, so the iframe is same-origin.
class PhoneFrame {
 public:
  explicit PhoneFrame(int service_port) {
    server_.Get("/phone", [](const httplib::Request&, httplib::Response& r) {
      r.set_content(
          "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>"
          "<body style=\"margin:0\"><iframe id=\"f\" src=\"/statusz\" "
          "width=\"390\" height=\"844\" style=\"border:0\"></iframe><script>"
          "var f=document.getElementById('f');f.onload=function(){"
          "var l=f.contentDocument.documentElement.getAttribute("
          "'data-layout');document.body.setAttribute('data-phone-layout',"
          "l===null?'missing':l);};</script></body></html>",
          "text/html");
    });
    server_.Get("/statusz",
                [service_port](const httplib::Request&, httplib::Response& r) {
                  r.set_content(Get(service_port, "/statusz"), "text/html");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~PhoneFrame() {
    server_.stop();
    thread_.join();
  }
  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/phone");
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(StatuszBrowserTest, PressureRisingAndADependencyLostInChromium) {
  VIGIL_REQUIRE_OR_SKIP(std::system("command -v chromium >/dev/null") == 0,
                        "chromium not installed (scripts/setup.sh)");
  VIGIL_REQUIRE_OR_SKIP(geteuid() == 0,
                        "needs root for a memory cgroup or a tmpfs mount");
  const char* forced = std::getenv("VIGIL_STATUSZ_SCENARIO");
  const bool want_disk = forced != nullptr && std::string(forced) == "disk";
  MemoryCgroup cgroup;
  const bool memory = !want_disk && cgroup.Create();
  // A short path: the check's name is "disk:<path>" (long ones are cut).
  Tmpfs disk(absl::StrCat("/tmp/vigil-statusz-", getpid()));
  if (!memory) {
    // No v1 memory cgroup here (or the disk scenario was asked for).
    ASSERT_TRUE(disk.Mount()) << "mount tmpfs: " << strerror(errno);
  }
  const std::string check = memory ? "memory" : "disk:" + disk.path();

  std::vector<std::string> args = {"--warmup=0s", "--supervise=false",
                                   "--demo_endpoints=false"};
  std::unique_ptr<Filler> filler;
  if (memory) {
    // The service and the filler are born in the cgroup; the test (and the
    // browser) leave it.
    ASSERT_TRUE(cgroup.Enter(getpid()));
    filler = std::make_unique<Filler>([&cgroup] { return cgroup.Usage(); },
                                      [] {
                                        char* p =
                                            static_cast<char*>(malloc(2 << 20));
                                        if (p != nullptr)
                                          memset(p, 0x5a, 2 << 20);
                                      },
                                      kLimit * 60 / 100, kLimit * 95 / 100);
  } else {
    args.push_back("--scratch_dir=" + disk.path());
    filler = std::make_unique<Filler>(
        [&disk] { return disk.Used(); },
        [&disk] {
          static int n = 0;
          const std::string f = absl::StrCat(disk.path(), "/fill-", n++);
          const int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
          if (fd < 0) return;
          const std::string block(40 << 10, 'x');
          (void)!write(fd, block.data(), block.size());
          close(fd);
        },
        kDiskSize * 72 / 100, kDiskSize * 95 / 100);
  }
  // The quick part of the growth is over before the service starts: its
  // detector sees only the steady rise (a jump under its eyes would read as
  // an imminent exhaustion, UNHEALTHY at 60%).
  ASSERT_TRUE(WaitFor(
      [&] {
        return memory ? cgroup.Usage() >= kLimit * 60 / 100
                      : disk.Used() >= kDiskSize * 72 / 100;
      },
      absl::Seconds(30)));
  // Made after the fork, so the filler does not hold the socket open.
  Upstream upstream;
  args.push_back("--upstream=" + upstream.address());
  auto service = ServiceProcess::Start(args);
  if (memory) ASSERT_TRUE(MemoryCgroup::Leave(getpid()));
  ASSERT_TRUE(service.ok()) << service.status();
  const int port = (*service)->probe_port();
  std::ofstream(
      absl::StrCat(std::getenv("TEST_UNDECLARED_OUTPUTS_DIR"), "/scenario.txt"))
      << (memory ? "S1 memory" : "S2 disk") << " " << check << "\n";

  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(Get(port, "/healthz/upstream?verbose"),
                                 "[+]upstream");
      },
      absl::Seconds(30)));
  // The dependency goes once the detector has a trend to show (its
  // samples come every 5 s for memory, 10 s for disk: real time, real
  // process).
  ASSERT_TRUE(WaitFor([&] { return HistorySamples(port, check) >= 2; },
                      absl::Seconds(60)))
      << Get(port, "/statusz/history?check=" + check);
  upstream.Close();
  // Both UNHEALTHY now, the detector after a DEGRADED.
  const bool unhealthy = WaitFor(
      [&] {
        const std::string page = Get(port, "/statusz");
        return absl::StrContains(
                   page, absl::StrCat("data-check=\"", check,
                                      "\" data-status=\"unhealthy\"")) &&
               absl::StrContains(page,
                                 "data-check=\"upstream\" "
                                 "data-status=\"unhealthy\"") &&
               absl::StrContains(Get(port, "/statusz/history?check=" + check),
                                 "\"to\":\"STATUS_DEGRADED\"");
      },
      absl::Seconds(150));
  ASSERT_TRUE(unhealthy) << "usage " << (memory ? cgroup.Usage() : disk.Used())
                         << "\n"
                         << Get(port, "/statusz/history?check=" + check) << "\n"
                         << Get(port, "/statusz/history?check=upstream");

  // The screenshots first, while the detector's value still rises.
  std::string dom, err;
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/statusz");
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  ASSERT_NE(outputs, nullptr);
  for (const auto& [name, size] :
       {std::pair<std::string, std::string>("statusz.png", "1400,1500"),
        std::pair<std::string, std::string>("statusz-phone.png", "390,844")}) {
    const std::string png = absl::StrCat(outputs, "/", name);
    std::string ignored;
    ASSERT_EQ(RunChromium(absl::StrCat("--screenshot=", png, " --window-size=",
                                       size, " --hide-scrollbars"),
                          url, &ignored, &err),
              0)
        << err;
    struct stat st;
    ASSERT_EQ(stat(png.c_str(), &st), 0);
    EXPECT_GT(st.st_size, 20000) << name;
  }
  ASSERT_EQ(RunChromium("--dump-dom", url, &dom, &err), 0) << err;
  // A row per check with the statuses the service reports.
  for (const std::string& c : {check, std::string("upstream")}) {
    EXPECT_THAT(dom, HasSubstr(absl::StrCat("data-check=\"", c,
                                            "\" data-status=\"unhealthy\"")));
  }
  for (const char* c :
       {"app-port", "disk:/", "fds", "tasks", "warmup", "watchdog"}) {
    EXPECT_THAT(dom, HasSubstr(absl::StrCat("data-check=\"", c, "\"")));
  }
  // The sparkline has the samples; the timeline both flips, in order.
  EXPECT_GE(SparklineSamples(dom, check), 3) << dom;
  EXPECT_THAT(dom, HasSubstr("class=\"critical\""));
  const size_t degraded = dom.find(
      absl::StrCat("data-subject=\"", check, "\" data-to=\"degraded\""));
  const size_t flipped = dom.find(
      absl::StrCat("data-subject=\"", check, "\" data-to=\"unhealthy\""));
  ASSERT_NE(flipped, std::string::npos) << dom;
  // Newest first: the first UNHEALTHY is listed above the first DEGRADED.
  const size_t first_degraded = dom.rfind(
      absl::StrCat("data-subject=\"", check, "\" data-to=\"degraded\""));
  const size_t first_unhealthy = dom.rfind(
      absl::StrCat("data-subject=\"", check, "\" data-to=\"unhealthy\""));
  ASSERT_NE(degraded, std::string::npos) << dom;
  EXPECT_LT(first_unhealthy, first_degraded) << dom;
  EXPECT_THAT(dom,
              HasSubstr("data-subject=\"upstream\" data-to=\"unhealthy\""));
  // The page's script ran without errors, and the console is silent.
  EXPECT_THAT(dom, HasSubstr("data-js-errors=\"0\""));
  EXPECT_THAT(dom, HasSubstr("live: every 5 s"));
  EXPECT_THAT(err, Not(HasSubstr("CONSOLE"))) << err;

  // Phone width: no horizontal overflow, every row inside the viewport,
  // no cell cut off, text no smaller than 12 px.
  {
    PhoneFrame frame(port);
    std::string phone;
    ASSERT_EQ(RunChromium("--dump-dom", frame.url(), &phone, &err), 0) << err;
    const std::string text = Attribute(phone, "data-phone-layout");
    std::map<std::string, double> layout = ParseLayout(text);
    ASSERT_EQ(layout.count("viewport"), 1u) << phone;
    EXPECT_LE(layout["viewport"], 390) << text;
    EXPECT_GE(layout["viewport"], 300) << text;
    EXPECT_LE(layout["document"], layout["viewport"]) << text;
    EXPECT_EQ(layout["rows-outside"], 0) << text;
    EXPECT_EQ(layout["cells-clipped"], 0) << text;
    EXPECT_GE(layout["min-font"], 12) << text;
  }

  WriteFile(absl::StrCat(outputs, "/statusz.html"), dom);

  (*service)->Signal(SIGKILL);
  (*service)->WaitForExit(absl::Seconds(10));
}

}  // namespace
}  // namespace vigil_example
