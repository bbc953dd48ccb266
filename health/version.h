// vigil's version: the one place it is written.
//
// Everything that reports vigil's version reads it from here: /metrics'
// vigil_build_info{vigil_version}, the C ABI's vigil_version(), the SDK's
// pkg-config and CMake package files (scripts/sdk/ reads VIGIL_VERSION_*
// from this header) and the shared library's file name (libvigil.so.0.1.0,
// SONAME libvigil.so.<major>). Semantic versioning: the major number
// changes when the C ABI or the public C++ API breaks.
//
//   std::cout << "vigil " << vigil::kVersion << "\n";   // "vigil 0.1.0"
//   #if VIGIL_VERSION_NUMBER >= 100  /* 0.1.0 or later */ ... #endif

#ifndef VIGIL_HEALTH_VERSION_H_
#define VIGIL_HEALTH_VERSION_H_

#define VIGIL_VERSION_MAJOR 0
#define VIGIL_VERSION_MINOR 1
#define VIGIL_VERSION_PATCH 0
// "MAJOR.MINOR.PATCH" as a string literal (usable from C).
#define VIGIL_VERSION_STRING "0.1.0"
// MAJOR * 10000 + MINOR * 100 + PATCH, for preprocessor comparisons.
#define VIGIL_VERSION_NUMBER                                 \
  (VIGIL_VERSION_MAJOR * 10000 + VIGIL_VERSION_MINOR * 100 + \
   VIGIL_VERSION_PATCH)

#ifdef __cplusplus
namespace vigil {

// VIGIL_VERSION_STRING as a C++ constant.
inline constexpr char kVersion[] = VIGIL_VERSION_STRING;

}  // namespace vigil
#endif  // __cplusplus

#endif  // VIGIL_HEALTH_VERSION_H_
