#include "health/testing/temp_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace vigil {
namespace testing {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}

std::string TempRoot() {
  const char* t = getenv("TEST_TMPDIR");
  return (t != nullptr && *t != '\0') ? t : "/tmp";
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScopedTempDir>> ScopedTempDir::Create(
    absl::string_view prefix, absl::string_view parent) {
  const std::string base = parent.empty() ? TempRoot() : std::string(parent);
  std::string templ = absl::StrCat(base, "/", prefix, "XXXXXX");
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp ", templ, ": ", strerror(errno)));
  }
  return std::unique_ptr<ScopedTempDir>(new ScopedTempDir(buf.data()));
}

ScopedTempDir::~ScopedTempDir() { RemoveTree(path_); }

void RemoveTree(const std::string& path) {
  nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", strerror(errno)));
  }
  while (!contents.empty()) {
    const ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      close(fd);
      return absl::InternalError(
          absl::StrCat("cannot write ", path, ": ", strerror(err)));
    }
    contents.remove_prefix(static_cast<size_t>(n));
  }
  if (close(fd) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RunfilePath(absl::string_view relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return std::string(relative);
  return absl::StrCat(srcdir, "/", workspace ? workspace : "vigil", "/",
                      relative);
}

std::string CopyTree(const std::string& source) {
  static std::atomic<int> counter{0};
  const std::string name = std::filesystem::path(source).filename().string();
  const std::string dest = absl::StrCat(TempRoot(), "/fixture-", name, "-",
                                        getpid(), "-", ++counter);
  std::filesystem::remove_all(dest);
  std::filesystem::copy(source, dest, std::filesystem::copy_options::recursive);
  return dest;
}

void SetFile(const std::string& root, absl::string_view path,
             absl::string_view content) {
  const std::string full = absl::StrCat(root, path);
  const int fd = open(full.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  ASSERT_GE(fd, 0) << full << ": " << strerror(errno);
  EXPECT_EQ(write(fd, content.data(), content.size()),
            static_cast<ssize_t>(content.size()));
  close(fd);
}

}  // namespace testing
}  // namespace vigil
