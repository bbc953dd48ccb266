// Internal: the one errno-to-text helper of vigil.

#ifndef VIGIL_HEALTH_INTERNAL_ERRNO_TEXT_H_
#define VIGIL_HEALTH_INTERNAL_ERRNO_TEXT_H_

#include <string>

namespace vigil {
namespace internal {

// The strerror(3) text of `err` ("Connection refused"); "Unknown error N"
// for a number the C library does not know. Thread-safe (strerror_r), and
// does not change errno.
std::string ErrnoText(int err);

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_ERRNO_TEXT_H_
