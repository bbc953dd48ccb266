// Files for tests: scoped temporary directories, fixture trees copied from
// runfiles, and whole-file reads and writes.
//
//   auto dir = vigil::testing::ScopedTempDir::Create();
//   ASSERT_TRUE(dir.ok()) << dir.status();
//   ASSERT_TRUE(vigil::testing::WriteFile((*dir)->path() + "/x", "data").ok());
//
//   // A fixture tree a test may change between samples:
//   const std::string root = vigil::testing::CopyTree(
//       vigil::testing::RunfilePath("health/pressure/testdata/v2"));
//   vigil::testing::SetFile(root, "/proc/pressure/memory", "some ...");
//
// Part of //health:toolkit.

#ifndef VIGIL_HEALTH_TESTING_TEMP_DIR_H_
#define VIGIL_HEALTH_TESTING_TEMP_DIR_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {
namespace testing {

// A fresh directory, removed (recursively) on destruction.
class ScopedTempDir {
 public:
  // Creates "<parent>/<prefix>XXXXXX". `parent` empty means $TEST_TMPDIR, or
  // /tmp when unset. Pass "/tmp" for directories another (unprivileged) user
  // must reach: $TEST_TMPDIR usually lies under root's 0700 home.
  static absl::StatusOr<std::unique_ptr<ScopedTempDir>> Create(
      absl::string_view prefix = "vigil-", absl::string_view parent = "");
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit ScopedTempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Writes `contents` to `path` in one write (creating or truncating it, as a
// shell's `>` does: also right for cgroup and sysfs knobs). Errors name the
// path and errno.
absl::Status WriteFile(const std::string& path, absl::string_view contents);

// Reads a whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Removes `path` and everything below it. Best effort.
void RemoveTree(const std::string& path);

// The path of a runfile given relative to the workspace root
// ("health/pressure/testdata/v2"); `relative` itself outside a test.
std::string RunfilePath(absl::string_view relative);

// Copies the tree at `source` into a fresh directory under $TEST_TMPDIR (so
// a test can change files) and returns the copy's root.
std::string CopyTree(const std::string& source);

// Replaces the content of `root` + `path` in place (same inode: a reader
// holding it open sees the new content on its next read). A gtest failure
// if it cannot.
void SetFile(const std::string& root, absl::string_view path,
             absl::string_view content);

}  // namespace testing
}  // namespace vigil

#endif  // VIGIL_HEALTH_TESTING_TEMP_DIR_H_
