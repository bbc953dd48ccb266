// The C ABI's ready-made checks and pressure detectors (bindings/c/vigil.h).

#include <cmath>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "bindings/c/internal/abi.h"
#include "bindings/c/vigil.h"
#include "health/checks/file_freshness.h"
#include "health/checks/gauge.h"
#include "health/checks/http.h"
#include "health/checks/tcp.h"
#include "health/checks/tls_cert.h"
#include "health/pressure/defaults.h"

namespace {

using vigil::internal::CopyOut;
using vigil::internal::Report;

// Fills `check` from `options` (NULL: the dependency defaults).
absl::Status DependencyOptions(const vigil_check_options* options,
                               vigil::CheckOptions* check) {
  vigil_check_options defaults;
  vigil_dependency_check_options_init(&defaults);
  return vigil::internal::ToCheckOptions(options, defaults, check);
}

// Registers `check` (or reports why it could not be built).
int RegisterBuilt(vigil_registry* r, absl::StatusOr<vigil::Check> check,
                  char* err, size_t err_len) {
  if (!check.ok()) return Report(check.status(), err, err_len);
  return Report(r->registry->Register(*std::move(check)), err, err_len);
}

// The common prologue: NULL checks and the exception guard around `build`,
// which returns the check to register.
template <typename Build>
int RegisterGuarded(vigil_registry* r, const char* required,
                    const char* required_name, char* err, size_t err_len,
                    Build build) {
  if (r == nullptr || required == nullptr) {
    CopyOut(std::string(required_name) + ": must not be NULL", err, err_len);
    return VIGIL_ERR_INVALID_ARGUMENT;
  }
  try {
    return RegisterBuilt(r, build(), err, err_len);
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return VIGIL_ERR_INTERNAL;
  }
}

std::string OrEmpty(const char* s) { return s == nullptr ? "" : s; }

}  // namespace

extern "C" {

int vigil_register_tcp_check(vigil_registry* r, const char* name,
                             const char* address,
                             const vigil_check_options* options, char* err,
                             size_t err_len) {
  return RegisterGuarded(
      r, address, "address", err, err_len,
      [&]() -> absl::StatusOr<vigil::Check> {
        vigil::checks::TcpCheckOptions o;
        o.address = address;
        o.name = OrEmpty(name);
        if (absl::Status s = DependencyOptions(options, &o.check); !s.ok()) {
          return s;
        }
        return vigil::checks::TcpCheck(std::move(o));
      });
}

int vigil_register_http_check(vigil_registry* r, const char* name,
                              const char* url,
                              const vigil_check_options* options, char* err,
                              size_t err_len) {
  return RegisterGuarded(
      r, url, "url", err, err_len, [&]() -> absl::StatusOr<vigil::Check> {
        vigil::checks::HttpCheckOptions o;
        o.url = url;
        o.name = OrEmpty(name);
        if (absl::Status s = DependencyOptions(options, &o.check); !s.ok()) {
          return s;
        }
        return vigil::checks::HttpCheck(std::move(o));
      });
}

int vigil_register_file_freshness_check(
    vigil_registry* r, const char* name, const char* directory,
    const char* pattern, double max_age_seconds, double warn_age_seconds,
    const vigil_check_options* options, char* err, size_t err_len) {
  return RegisterGuarded(
      r, directory, "directory", err, err_len,
      [&]() -> absl::StatusOr<vigil::Check> {
        vigil::checks::FileFreshnessCheckOptions o;
        o.directory = directory;
        if (pattern != nullptr) o.pattern = pattern;
        o.max_age = absl::Seconds(max_age_seconds);
        o.warn_age = absl::Seconds(warn_age_seconds);
        o.name = OrEmpty(name);
        if (absl::Status s = DependencyOptions(options, &o.check); !s.ok()) {
          return s;
        }
        return vigil::checks::FileFreshnessCheck(std::move(o));
      });
}

int vigil_register_tls_cert_check(vigil_registry* r, const char* name,
                                  const char* pem_file, const char* address,
                                  double warn_before_seconds,
                                  const vigil_check_options* options, char* err,
                                  size_t err_len) {
  const char* source = pem_file != nullptr ? pem_file : address;
  return RegisterGuarded(
      r, source, "pem_file/address", err, err_len,
      [&]() -> absl::StatusOr<vigil::Check> {
        vigil::checks::TlsCertCheckOptions o;
        o.pem_file = OrEmpty(pem_file);
        o.address = OrEmpty(address);
        if (warn_before_seconds > 0) {
          o.warn_before = absl::Seconds(warn_before_seconds);
        }
        o.name = OrEmpty(name);
        if (absl::Status s = DependencyOptions(options, &o.check); !s.ok()) {
          return s;
        }
        return vigil::checks::TlsCertCheck(std::move(o));
      });
}

int vigil_register_gauge_check(vigil_registry* r, const char* name,
                               vigil_gauge_fn fn, void* user,
                               vigil_release_fn release, double limit,
                               double warn_ratio, double critical_ratio,
                               const char* unit,
                               const vigil_check_options* options, char* err,
                               size_t err_len) {
  std::shared_ptr<void> keep = vigil::internal::Releaser(user, release);
  if (fn == nullptr) {
    CopyOut("fn: must not be NULL", err, err_len);
    return VIGIL_ERR_INVALID_ARGUMENT;
  }
  return RegisterGuarded(
      r, name, "name", err, err_len, [&]() -> absl::StatusOr<vigil::Check> {
        vigil::checks::GaugeCheckOptions o;
        o.name = name;
        o.value = [fn, user, keep]() -> absl::StatusOr<double> {
          double value = NAN;
          if (fn(user, &value) != 0) {
            return absl::UnavailableError("the gauge callback failed");
          }
          return value;
        };
        o.limit = limit;
        if (warn_ratio > 0) o.warn_ratio = warn_ratio;
        if (critical_ratio > 0) o.critical_ratio = critical_ratio;
        if (unit != nullptr) o.unit = unit;
        vigil_check_options defaults;
        vigil_check_options_init(&defaults);
        if (absl::Status s =
                vigil::internal::ToCheckOptions(options, defaults, &o.check);
            !s.ok()) {
          return s;
        }
        return vigil::checks::GaugeCheck(std::move(o));
      });
}

int vigil_register_default_pressure(vigil_registry* r, const char* disk_paths,
                                    const char* groups, char* registered,
                                    size_t registered_len, char* err,
                                    size_t err_len) {
  if (r == nullptr) {
    CopyOut("registry: must not be NULL", err, err_len);
    return VIGIL_ERR_INVALID_ARGUMENT;
  }
  try {
    vigil::pressure::DefaultDetectorOptions o;
    if (disk_paths != nullptr) {
      o.disk_paths = vigil::internal::SplitList(disk_paths);
    }
    if (groups != nullptr) o.groups = vigil::internal::SplitList(groups);
    vigil::pressure::DefaultDetectors detectors;
    absl::Status s =
        vigil::pressure::RegisterDefaultDetectors(*r->registry, o, &detectors);
    if (s.ok()) {
      CopyOut(absl::StrJoin(detectors.registered, ","), registered,
              registered_len);
    }
    return Report(s, err, err_len);
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return VIGIL_ERR_INTERNAL;
  }
}

}  // extern "C"
