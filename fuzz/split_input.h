// SplitInput: one fuzz input as several files or fields.
//
// Targets that read more than one file (a fixture tree) cut their input at
// each "\n%%\n" separator; missing parts are empty. Seeds stay readable:
//
//   Name:\tapp\nThreads:\t4\n
//   %%
//   0::/app\n
#ifndef VIGIL_FUZZ_SPLIT_INPUT_H_
#define VIGIL_FUZZ_SPLIT_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vigil {
namespace fuzz {

inline constexpr absl::string_view kPartSeparator = "\n%%\n";

// The first `n` parts of `data` (the last one takes the rest).
inline std::vector<std::string> SplitInput(const uint8_t* data, size_t size,
                                           size_t n) {
  absl::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  while (parts.size() + 1 < n) {
    const size_t at = rest.find(kPartSeparator);
    if (at == absl::string_view::npos) break;
    parts.emplace_back(rest.substr(0, at));
    rest.remove_prefix(at + kPartSeparator.size());
  }
  parts.emplace_back(rest);
  parts.resize(n);
  return parts;
}

}  // namespace fuzz
}  // namespace vigil

#endif  // VIGIL_FUZZ_SPLIT_INPUT_H_
