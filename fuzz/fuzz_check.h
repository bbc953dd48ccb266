// FUZZ_CHECK: a property a fuzz target asserts about the code it drives.
//
// A broken property prints the condition and aborts, so libFuzzer saves the
// input as a crash and the replay test (replay_main.cc) fails on it. Unlike
// assert() it stays on in optimised builds.
//
//   FUZZ_CHECK(result.consumed <= data.size());
#ifndef VIGIL_FUZZ_FUZZ_CHECK_H_
#define VIGIL_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                          \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #condition);                              \
      std::abort();                                                    \
    }                                                                  \
  } while (false)

#endif  // VIGIL_FUZZ_FUZZ_CHECK_H_
