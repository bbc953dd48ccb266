// Linked only into //tests/consumers:sdk_rebuilt: makes that library a
// different build of the same API (new exported code and data before
// everything else moves every address), so sdk_consumer_test can run
// programs built against //:sdk with it and show they depend on symbols,
// not on layout.

#include <cstddef>

namespace vigil {

// Padding that shifts the data and code of the rebuilt library.
extern const unsigned char kAbiRebuildPadding[];
const unsigned char kAbiRebuildPadding[64 * 1024] = {1};

// What the test looks for to tell the rebuilt library from the original.
const char* AbiRebuildMarker() {
  return kAbiRebuildPadding[0] == 1 ? "rebuilt" : "";
}

}  // namespace vigil
