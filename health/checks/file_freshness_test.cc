// S7: files with chosen modification times and sizes; the age is measured
// against a FakeClock.

#include "health/checks/file_freshness.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/checks/testing/run_check.h"
#include "health/testing/fake_clock.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace checks {
namespace {

using ::testing::HasSubstr;
using ::vigil::checks::testing::RunCheckOnce;
using ::vigil::testing::ScopedTempDir;

class FileFreshnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = ScopedTempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_ = *std::move(dir);
  }

  // Creates `name` with `size` bytes, modified `age` before the fake now.
  void Make(const std::string& name, size_t size, absl::Duration age) {
    const std::string path = dir_->path() + "/" + name;
    ASSERT_TRUE(vigil::testing::WriteFile(path, std::string(size, 'x')).ok());
    const timespec t = absl::ToTimespec(clock_.Now() - age);
    const timespec times[2] = {t, t};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  FileFreshnessCheckOptions Options() {
    FileFreshnessCheckOptions o;
    o.directory = dir_->path();
    o.pattern = "backup-*.tar.gz";
    o.max_age = absl::Hours(24);
    o.min_size = 1000;
    o.clock = &clock_;
    return o;
  }

  CheckResult Run(const FileFreshnessCheckOptions& o) {
    absl::StatusOr<Check> c = FileFreshnessCheck(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return RunCheckOnce(*c, &clock_);
  }

  vigil::testing::FakeClock clock_;
  std::unique_ptr<ScopedTempDir> dir_;
};

TEST_F(FileFreshnessTest, NewestMatchingFileIsFreshAndBigEnough) {
  Make("backup-1.tar.gz", 5000, absl::Hours(50));
  Make("backup-2.tar.gz", 4000, absl::Hours(2));
  Make("notes.txt", 10, absl::Minutes(1));         // Newer, not matching.
  Make(".backup-3.tar.gz", 10, absl::Minutes(1));  // Hidden partial upload.
  ASSERT_EQ(mkdir((dir_->path() + "/backup-9.tar.gz").c_str(), 0755), 0);
  CheckResult r = Run(Options());
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.message, "newest file backup-2.tar.gz is 2h old, 4000 bytes");
  EXPECT_EQ(r.details["file"], "backup-2.tar.gz");
  EXPECT_EQ(r.details["size_bytes"], "4000");
  EXPECT_EQ(r.details["age_seconds"], "7200");
  EXPECT_EQ(r.details["matches"], "2");
  EXPECT_EQ(r.observed_value, 7200.0);
  EXPECT_EQ(r.observed_unit, "seconds");
  EXPECT_EQ(r.critical_threshold, 86400.0);
}

TEST_F(FileFreshnessTest, BackupsThatStopGoStaleExactlyAtMaxAge) {
  Make("backup-1.tar.gz", 5000, absl::Hours(1));
  absl::StatusOr<Check> c = FileFreshnessCheck(Options());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(RunCheckOnce(*c, &clock_).status, Status::kHealthy);
  // No new backup arrives. 23 h later the newest file is exactly 24 h old.
  clock_.Advance(absl::Hours(23));
  EXPECT_EQ(RunCheckOnce(*c, &clock_).status, Status::kHealthy);
  clock_.Advance(absl::Seconds(1));
  CheckResult r = RunCheckOnce(*c, &clock_);
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message,
            "newest file backup-1.tar.gz is 24h old, older than 24h");
  EXPECT_EQ(r.details["reason"], "stale");
  // The next night's backup lands: healthy again.
  Make("backup-2.tar.gz", 6000, absl::Minutes(5));
  r = RunCheckOnce(*c, &clock_);
  EXPECT_EQ(r.status, Status::kHealthy) << r.message;
  EXPECT_EQ(r.details["file"], "backup-2.tar.gz");
}

TEST_F(FileFreshnessTest, NewestFileTooSmallIsUnhealthy) {
  Make("backup-1.tar.gz", 5000, absl::Hours(20));
  Make("backup-2.tar.gz", 12, absl::Hours(1));  // A truncated backup.
  CheckResult r = Run(Options());
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(
      r.message,
      "newest file backup-2.tar.gz is 12 bytes, below the minimum of 1000");
  EXPECT_EQ(r.details["reason"], "too_small");
}

TEST_F(FileFreshnessTest, WarnAgeDegrades) {
  Make("backup-1.tar.gz", 5000, absl::Hours(20));
  FileFreshnessCheckOptions o = Options();
  o.warn_age = absl::Hours(18);
  CheckResult r = Run(o);
  EXPECT_EQ(r.status, Status::kDegraded) << r.message;
  EXPECT_EQ(r.message,
            "newest file backup-1.tar.gz is 20h old, older than 18h");
  EXPECT_EQ(r.warn_threshold, 18 * 3600.0);
}

TEST_F(FileFreshnessTest, NoMatchMissingAndNotADirectoryAreTold) {
  Make("other.txt", 5000, absl::Hours(1));
  CheckResult r = Run(Options());
  EXPECT_EQ(r.status, Status::kUnhealthy);
  EXPECT_EQ(r.message, absl::StrCat("no file matches \"backup-*.tar.gz\" in ",
                                    dir_->path()));
  EXPECT_EQ(r.details["reason"], "no_match");

  FileFreshnessCheckOptions o = Options();
  o.directory = dir_->path() + "/nope";
  r = Run(o);
  EXPECT_EQ(r.message,
            absl::StrCat("directory ", o.directory, " does not exist"));
  EXPECT_EQ(r.details["reason"], "missing");

  o.directory = dir_->path() + "/other.txt";
  r = Run(o);
  EXPECT_EQ(r.message, absl::StrCat(o.directory, " is not a directory"));
}

TEST_F(FileFreshnessTest, UnreadableDirectoryIsTold) {
  Make("backup-1.tar.gz", 5000, absl::Hours(1));
  const std::string locked = dir_->path();
  ASSERT_EQ(chmod(locked.c_str(), 0), 0);
  FileFreshnessCheckOptions o = Options();
  std::string message;
  std::string reason;
  if (geteuid() != 0) {
    CheckResult r = Run(o);
    message = r.message;
    reason = r.details["reason"];
  } else {
    // Root reads anything (CAP_DAC_OVERRIDE): run the check in a child that
    // drops every capability, so the directory's mode applies to it. (Not
    // setuid: inside Bazel's sandbox only root is mapped.)
    absl::StatusOr<Check> c = FileFreshnessCheck(o);
    ASSERT_TRUE(c.ok());
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
      __user_cap_data_struct data[2] = {};
      if (syscall(SYS_capset, &header, data) != 0) _exit(2);
      CheckResult r = RunCheckOnce(*c, &clock_);
      const std::string out = r.details["reason"] + "\n" + r.message;
      ssize_t n = write(fds[1], out.data(), out.size());
      _exit(n == static_cast<ssize_t>(out.size()) ? 0 : 3);
    }
    close(fds[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    reason = out.substr(0, out.find('\n'));
    message = out.substr(out.find('\n') + 1);
  }
  chmod(locked.c_str(), 0700);
  EXPECT_EQ(reason, "unreadable");
  EXPECT_EQ(message, absl::StrCat("cannot read directory ", locked,
                                  ": Permission denied"));
}

TEST_F(FileFreshnessTest, ModificationTimesInTheFutureCountAsFresh) {
  Make("backup-1.tar.gz", 5000, -absl::Hours(1));
  CheckResult r = Run(Options());
  EXPECT_EQ(r.status, Status::kHealthy);
  EXPECT_EQ(r.details["age_seconds"], "0");
  EXPECT_EQ(r.details["note"], "modification time is in the future");
}

TEST_F(FileFreshnessTest, RejectsBadInputNamingTheField) {
  auto expect = [](FileFreshnessCheckOptions o, const char* field) {
    absl::StatusOr<Check> c = FileFreshnessCheck(o);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(c.status().message(), HasSubstr(field));
  };
  FileFreshnessCheckOptions o = Options();
  o.directory = "";
  expect(o, "directory");
  for (const char* p : {"", "a/b*", "backup-[0-9.tar", "x\\", "[!"}) {
    o = Options();
    o.pattern = p;
    expect(o, "pattern");
  }
  o = Options();
  o.max_age = absl::ZeroDuration();
  expect(o, "max_age");
  o = Options();
  o.warn_age = absl::Hours(25);
  expect(o, "warn_age");
  o = Options();
  o.min_size = -1;
  expect(o, "min_size");
  // Valid globs with brackets and escapes.
  for (const char* p : {"backup-[0-9]*.tar.gz", "[]x]", "a\\*b", "[!.]*"}) {
    o = Options();
    o.pattern = p;
    EXPECT_TRUE(FileFreshnessCheck(o).ok()) << p;
  }
}

TEST_F(FileFreshnessTest, DefaultNameAndKind) {
  absl::StatusOr<Check> c = FileFreshnessCheck(Options());
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(c->name, HasSubstr("/backup-_.tar.gz"));
  EXPECT_EQ(c->name.rfind("file:", 0), 0u);
  EXPECT_EQ(c->options.kind, CheckKind::kDependency);
}

}  // namespace
}  // namespace checks
}  // namespace vigil
