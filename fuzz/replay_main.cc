// A main for fuzz targets outside libFuzzer: runs every file named on the
// command line through LLVMFuzzerTestOneInput once, so the plain and
// sanitizer suites replay each seed and regression input. A crash or a
// broken FUZZ_CHECK aborts the process; no file at all is a failure too
// (a test that ran nothing must not pass).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int ran = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 1;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                           bytes.size());
    ++ran;
  }
  std::printf("replay: %d inputs, no crash\n", ran);
  return ran > 0 ? 0 : 1;
}
