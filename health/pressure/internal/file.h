// Kept-open pseudo-files re-read with pread into a pre-sized buffer.
//
// Every /proc and /sys file a detector samples is opened once and re-read
// from offset 0 on each sample: no open/close per sample, no allocation once
// the buffer has grown to fit the file. Pseudo-files (seq_file, kernfs,
// sysfs attributes) regenerate their content on a read at offset 0 and
// return all of it in one read when the buffer is large enough; regular
// files (fixture trees) behave the same way.
//
// Not thread-safe: one owner samples it.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_FILE_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_FILE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vigil {
namespace pressure {
namespace internal {

// `root` joined with an absolute path: JoinRoot("/", "/proc/x") is
// "/proc/x"; JoinRoot("/tmp/fx", "/proc/x") is "/tmp/fx/proc/x".
std::string JoinRoot(absl::string_view root, absl::string_view path);

// True if `path` names an existing file or directory.
bool PathExists(const std::string& path);

// Reads a whole (small) file at once: for files read only at creation
// (mountinfo, /proc/<pid>/cgroup). Returns false and sets *error (an errno)
// on failure.
bool ReadWholeFile(const std::string& path, std::string* out, int* error);

// "No such file or directory"-style text for an errno, or "unparseable
// content" for kParseError.
std::string ErrorText(int error);

// Pseudo-errno for a file that was read but could not be parsed.
inline constexpr int kParseError = -1;

class KeptOpenFile {
 public:
  KeptOpenFile() = default;
  ~KeptOpenFile();
  KeptOpenFile(KeptOpenFile&& other) noexcept;
  KeptOpenFile& operator=(KeptOpenFile&& other) noexcept;
  KeptOpenFile(const KeptOpenFile&) = delete;
  KeptOpenFile& operator=(const KeptOpenFile&) = delete;

  // Opens `path` read-only (closing any previous file) and sizes the buffer
  // to `capacity` bytes. Returns false and records errno on failure.
  bool Open(std::string path, size_t capacity = 4096);

  // Re-reads the whole file from offset 0. On success content() holds it
  // until the next Read(). Grows the buffer (allocating) only when the file
  // does not fit; steady state is one pread and no allocation. Returns false
  // and records errno on failure (also when never opened).
  bool Read();

  absl::string_view content() const { return {buffer_.data(), size_}; }
  bool is_open() const { return fd_ >= 0; }
  // errno of the last failed Open()/Read() (or kParseError set by a caller
  // via set_parse_error()); 0 after a successful Read().
  int error() const { return error_; }
  void set_parse_error() { error_ = kParseError; }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  void Close();

  int fd_ = -1;
  int error_ = 0;
  size_t size_ = 0;
  std::string path_;
  std::vector<char> buffer_;
};

}  // namespace internal
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_FILE_H_
