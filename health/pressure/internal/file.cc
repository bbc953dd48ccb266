#include "health/pressure/internal/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "health/internal/errno_text.h"

namespace vigil {
namespace pressure {
namespace internal {

std::string JoinRoot(absl::string_view root, absl::string_view path) {
  while (!root.empty() && root.back() == '/') root.remove_suffix(1);
  if (path.empty() || path.front() != '/') return absl::StrCat(root, "/", path);
  return absl::StrCat(root, path);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool ReadWholeFile(const std::string& path, std::string* out, int* error) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = errno;
    return false;
  }
  char buf[8192];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = errno;
      close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  *error = 0;
  return true;
}

std::string ErrorText(int error) {
  if (error == kParseError) return "unparseable content";
  if (error == 0) return "ok";
  return ::vigil::internal::ErrnoText(error);
}

KeptOpenFile::~KeptOpenFile() { Close(); }

KeptOpenFile::KeptOpenFile(KeptOpenFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      error_(other.error_),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)) {}

KeptOpenFile& KeptOpenFile::operator=(KeptOpenFile&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    error_ = other.error_;
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

void KeptOpenFile::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool KeptOpenFile::Open(std::string path, size_t capacity) {
  Close();
  path_ = std::move(path);
  size_ = 0;
  buffer_.assign(capacity < 64 ? 64 : capacity, '\0');
  fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  error_ = fd_ < 0 ? errno : 0;
  return fd_ >= 0;
}

bool KeptOpenFile::Read() {
  size_ = 0;
  if (fd_ < 0) {
    if (error_ == 0) error_ = EBADF;
    return false;
  }
  while (true) {
    ssize_t n = pread(fd_, buffer_.data(), buffer_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      return false;
    }
    if (static_cast<size_t>(n) < buffer_.size()) {
      size_ = static_cast<size_t>(n);
      error_ = 0;
      return true;
    }
    // Filled the buffer: the file may be longer. Grow and read again from 0
    // so the content is one consistent generation of the pseudo-file.
    buffer_.assign(buffer_.size() * 2, '\0');
  }
}

}  // namespace internal
}  // namespace pressure
}  // namespace vigil
