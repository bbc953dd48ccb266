#include "health/checks/testing/temp_dir.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace checks {
namespace testing {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScopedTempDir>> ScopedTempDir::Create(
    absl::string_view prefix, absl::string_view parent) {
  std::string base(parent);
  if (base.empty()) {
    const char* t = getenv("TEST_TMPDIR");
    base = (t != nullptr && *t != '\0') ? t : "/tmp";
  }
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
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  out.write(contents.data(), contents.size());
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
