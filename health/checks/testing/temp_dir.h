// ScopedTempDir: a fresh directory removed (recursively) on destruction.
//
//   auto dir = vigil::checks::testing::ScopedTempDir::Create();
//   ASSERT_TRUE(dir.ok());
//   WriteFileOrDie((*dir)->path() + "/x", "data");

#ifndef VIGIL_HEALTH_CHECKS_TESTING_TEMP_DIR_H_
#define VIGIL_HEALTH_CHECKS_TESTING_TEMP_DIR_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {
namespace checks {
namespace testing {

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

// Writes `contents` to `path` (truncating). Errors name the path.
absl::Status WriteFile(const std::string& path, absl::string_view contents);

// Reads a whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Removes `path` and everything below it. Best effort.
void RemoveTree(const std::string& path);

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_TEMP_DIR_H_
