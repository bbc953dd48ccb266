// Shared by the C ABI's translation units: the registry handle and the
// conversions between C arguments and the C++ API. Not installed.

#ifndef VIGIL_BINDINGS_C_INTERNAL_ABI_H_
#define VIGIL_BINDINGS_C_INTERNAL_ABI_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "bindings/c/vigil.h"
#include "health/check.h"
#include "health/registry.h"

struct vigil_registry {
  std::unique_ptr<vigil::HealthRegistry> registry;
};

namespace vigil {
namespace internal {

// Copies `s` into `out` (NUL-terminated, truncated to `len`); no-op for a
// NULL buffer.
void CopyOut(absl::string_view s, char* out, size_t len);

// The C error code of `s`.
int ToCode(const absl::Status& s);

// Reports `s` into `err` and returns its code.
int Report(const absl::Status& s, char* err, size_t err_len);

// Splits a comma-separated list, trimming blanks and dropping empties.
std::vector<std::string> SplitList(const char* list);

// `o` (or `defaults` when `o` is NULL) as CheckOptions; InvalidArgument for
// a bad kind.
absl::Status ToCheckOptions(const vigil_check_options* o,
                            const vigil_check_options& defaults,
                            CheckOptions* out);

// Calls `release(user)` when the last copy is destroyed (NULL: nothing).
std::shared_ptr<void> Releaser(void* user, vigil_release_fn release);

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_BINDINGS_C_INTERNAL_ABI_H_
