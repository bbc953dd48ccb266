// The test toolkit itself: WaitFor returns as soon as it may, processes are
// started and, above all, stopped (their whole group), and files round-trip.

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/testing/subprocess.h"
#include "health/testing/temp_dir.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(WaitForTest, ReturnsAsSoonAsThePredicateHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, absl::Seconds(10),
                      absl::Milliseconds(1)));
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(WaitFor([] { return false; }, absl::Milliseconds(20)));
}

TEST(SubprocessTest, MissingBinaryIsAnError) {
  SubprocessOptions o;
  o.argv = {"/nonexistent/binary"};
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(o);
  EXPECT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("No such file"));
  o.argv = {"relative/path"};
  EXPECT_EQ(Subprocess::Start(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, StopKillsTheWholeProcessGroup) {
  auto dir = ScopedTempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string pid_file = (*dir)->path() + "/grandchild.pid";
  SubprocessOptions o;
  // The shell ignores SIGTERM; its background child is the grandchild.
  o.argv = {"/bin/sh", "-c",
            absl::StrCat("trap '' TERM; sleep 1000 & echo $! > ", pid_file,
                         "; wait")};
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<std::string> s = ReadFile(pid_file);
        return s.ok() && absl::EndsWith(*s, "\n");
      },
      absl::Seconds(10)));
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*ReadFile(pid_file)),
                               &grandchild));
  EXPECT_TRUE((*p)->Running());
  const int status = (*p)->Stop(SIGTERM, absl::Milliseconds(200));
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);  // TERM was ignored: escalated.
  EXPECT_FALSE((*p)->Running());
  // The grandchild went with the group (once its zombie is reaped, it is
  // gone altogether).
  EXPECT_TRUE(
      WaitFor([&] { return kill(grandchild, 0) != 0; }, absl::Seconds(10)));
}

TEST(SubprocessTest, DestructorStopsTheChild) {
  pid_t pid = 0;
  {
    SubprocessOptions o;
    o.argv = {"/bin/sleep", "1000"};
    auto p = Subprocess::Start(o);
    ASSERT_TRUE(p.ok());
    pid = (*p)->pid();
    EXPECT_EQ(kill(pid, 0), 0);
  }
  EXPECT_NE(kill(pid, 0), 0);  // Reaped by the destructor.
}

TEST(SubprocessTest, EnvironmentOutputAndPipes) {
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c",
            "echo \"to-log $VIGIL_TOOLKIT_X\" >&2; read line; "
            "echo \"got $line\""};
  o.env = {"VIGIL_TOOLKIT_X=set"};
  o.pipe_stdio = true;
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->Write("hello\n"));
  EXPECT_EQ((*p)->ReadLine(absl::Seconds(20)), "got hello");
  bool eof = false;
  EXPECT_EQ((*p)->ReadLine(absl::Seconds(20), &eof), std::nullopt);
  EXPECT_TRUE(eof);
  std::optional<int> status = (*p)->WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_THAT((*p)->Lines("to-log"), ElementsAre("to-log set"));
}

TEST(TempDirTest, FilesRoundTripAndTheDirectoryGoes) {
  std::string path;
  {
    auto dir = ScopedTempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    path = (*dir)->path();
    ASSERT_TRUE(WriteFile(path + "/a", "one").ok());
    EXPECT_EQ(*ReadFile(path + "/a"), "one");
    const std::string copy = CopyTree(path);
    SetFile(copy, "/a", "two");
    EXPECT_EQ(*ReadFile(copy + "/a"), "two");
    EXPECT_EQ(*ReadFile(path + "/a"), "one");
    RemoveTree(copy);
  }
  EXPECT_FALSE(ReadFile(path + "/a").ok());
}

}  // namespace
}  // namespace testing
}  // namespace vigil
