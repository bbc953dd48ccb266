/* The C++-side baseline of python_check_benchmark: a check body in native
 * code, called by vigil exactly as a C or C++ check is (the C ABI's
 * callback path, without Python). */

#include <stddef.h>
#include <string.h>

#include "bindings/c/vigil.h"

vigil_status vigil_bench_native_check(void* user, char* message, size_t len) {
  (void)user;
  if (len > 2) memcpy(message, "ok", 3);
  return VIGIL_HEALTHY;
}
