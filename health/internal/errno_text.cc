#include "health/internal/errno_text.h"

#include <cerrno>
#include <cstring>

namespace vigil {
namespace internal {

std::string ErrnoText(int err) {
  const int saved = errno;
  char buf[128];
  // GNU strerror_r returns a pointer that may or may not be `buf`.
  const char* text = strerror_r(err, buf, sizeof(buf));
  errno = saved;
  return text;
}

}  // namespace internal
}  // namespace vigil
