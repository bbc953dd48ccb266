// The C ABI's registry functions (bindings/c/vigil.h) and the helpers the
// other translation units share (internal/abi.h).

#include "bindings/c/vigil.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "bindings/c/internal/abi.h"
#include "health/http/internal/utf8.h"
#include "health/registry.h"
#include "health/report.h"
#include "health/version.h"

namespace vigil {
namespace internal {

void CopyOut(absl::string_view s, char* out, size_t len) {
  if (out == nullptr || len == 0) return;
  const size_t n = std::min(s.size(), len - 1);
  std::memcpy(out, s.data(), n);
  out[n] = '\0';
}

int ToCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return VIGIL_OK;
    case absl::StatusCode::kInvalidArgument:
      return VIGIL_ERR_INVALID_ARGUMENT;
    case absl::StatusCode::kAlreadyExists:
      return VIGIL_ERR_ALREADY_EXISTS;
    case absl::StatusCode::kNotFound:
      return VIGIL_ERR_NOT_FOUND;
    case absl::StatusCode::kUnavailable:
      return VIGIL_ERR_UNAVAILABLE;
    case absl::StatusCode::kFailedPrecondition:
      return VIGIL_ERR_FAILED_PRECONDITION;
    default:
      return VIGIL_ERR_INTERNAL;
  }
}

int Report(const absl::Status& s, char* err, size_t err_len) {
  if (!s.ok()) CopyOut(s.message(), err, err_len);
  return ToCode(s);
}

std::vector<std::string> SplitList(const char* list) {
  std::vector<std::string> out;
  if (list == nullptr) return out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

absl::Status ToCheckOptions(const vigil_check_options* options,
                            const vigil_check_options& defaults,
                            CheckOptions* out) {
  const vigil_check_options& o = options != nullptr ? *options : defaults;
  if (o.kind != VIGIL_KIND_SELF && o.kind != VIGIL_KIND_DEPENDENCY) {
    return absl::InvalidArgumentError(
        "kind: must be VIGIL_KIND_SELF or VIGIL_KIND_DEPENDENCY");
  }
  out->interval = absl::Seconds(o.interval_seconds);
  out->timeout = absl::Seconds(o.timeout_seconds);
  out->initial_delay = absl::Seconds(o.initial_delay_seconds);
  out->failure_threshold = o.failure_threshold;
  out->success_threshold = o.success_threshold;
  out->critical = o.critical != 0;
  out->groups = SplitList(o.groups);
  out->kind = o.kind == VIGIL_KIND_DEPENDENCY ? CheckKind::kDependency
                                              : CheckKind::kSelf;
  out->allow_dependency_in_liveness = o.allow_dependency_in_liveness != 0;
  return absl::OkStatus();
}

std::shared_ptr<void> Releaser(void* user, vigil_release_fn release) {
  if (release == nullptr) return nullptr;
  return std::shared_ptr<void>(user, [release](void* u) { release(u); });
}

}  // namespace internal
}  // namespace vigil

namespace {

using vigil::internal::CopyOut;
using vigil::internal::Report;

constexpr size_t kMessageBytes = 512;

bool ValidStatus(int s) { return s >= VIGIL_UNKNOWN && s <= VIGIL_UNHEALTHY; }

// The check function calling a C callback. `keep` holds the registration's
// release (called once the last copy of the function is gone).
vigil::CheckFunction CallbackFunction(vigil_check_fn fn, void* user,
                                      std::shared_ptr<void> keep) {
  return [fn, user, keep](const vigil::CheckContext&) {
    char message[kMessageBytes] = {};
    const int raw = fn(user, message, sizeof(message));
    message[sizeof(message) - 1] = '\0';
    if (!ValidStatus(raw)) {
      return vigil::CheckResult::Unhealthy(
          "check returned an invalid vigil_status " + std::to_string(raw));
    }
    vigil::CheckResult result;
    result.status = static_cast<vigil::Status>(raw);
    result.message = message;
    return result;
  };
}

}  // namespace

extern "C" {

const char* vigil_version(void) { return VIGIL_VERSION_STRING; }

void vigil_check_options_init(vigil_check_options* o) {
  if (o == nullptr) return;
  o->interval_seconds = 10;
  o->timeout_seconds = 5;
  o->initial_delay_seconds = 0;
  o->failure_threshold = 3;
  o->success_threshold = 1;
  o->critical = 1;
  o->groups = "readiness";
  o->kind = VIGIL_KIND_SELF;
  o->allow_dependency_in_liveness = 0;
}

void vigil_dependency_check_options_init(vigil_check_options* o) {
  vigil_check_options_init(o);
  if (o != nullptr) o->kind = VIGIL_KIND_DEPENDENCY;
}

vigil_registry* vigil_registry_new(const char* service_name,
                                   const char* version) {
  try {
    vigil::RegistryOptions options;
    if (service_name != nullptr) options.service.name = service_name;
    if (version != nullptr) options.service.version = version;
    auto r = std::make_unique<vigil_registry>();
    r->registry = std::make_unique<vigil::HealthRegistry>(options);
    return r.release();
  } catch (...) {
    return nullptr;
  }
}

void vigil_registry_free(vigil_registry* r) { delete r; }

int vigil_register_check_with_release(vigil_registry* r, const char* name,
                                      const vigil_check_options* options,
                                      vigil_check_fn fn, void* user,
                                      vigil_release_fn release, char* err,
                                      size_t err_len) {
  // Owns `user` from here on: released when the check is gone, or on error.
  std::shared_ptr<void> keep = vigil::internal::Releaser(user, release);
  if (r == nullptr || name == nullptr || fn == nullptr) {
    CopyOut("registry, name and fn must not be NULL", err, err_len);
    return VIGIL_ERR_INVALID_ARGUMENT;
  }
  try {
    vigil_check_options defaults;
    vigil_check_options_init(&defaults);
    vigil::Check c;
    c.name = name;
    absl::Status s =
        vigil::internal::ToCheckOptions(options, defaults, &c.options);
    if (!s.ok()) return Report(s, err, err_len);
    c.function = CallbackFunction(fn, user, std::move(keep));
    return Report(r->registry->Register(std::move(c)), err, err_len);
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return VIGIL_ERR_INTERNAL;
  }
}

int vigil_register_check(vigil_registry* r, const char* name,
                         const vigil_check_options* options, vigil_check_fn fn,
                         void* user, char* err, size_t err_len) {
  return vigil_register_check_with_release(r, name, options, fn, user, nullptr,
                                           err, err_len);
}

int vigil_unregister_check(vigil_registry* r, const char* name) {
  if (r == nullptr || name == nullptr) return VIGIL_ERR_INVALID_ARGUMENT;
  try {
    return vigil::internal::ToCode(r->registry->Unregister(name));
  } catch (...) {
    return VIGIL_ERR_INTERNAL;
  }
}

void vigil_start(vigil_registry* r) {
  if (r != nullptr) r->registry->Start();
}

void vigil_stop(vigil_registry* r) {
  if (r != nullptr) r->registry->Stop();
}

void vigil_begin_shutdown(vigil_registry* r) {
  if (r != nullptr) r->registry->BeginShutdown();
}

vigil_status vigil_group_status(const vigil_registry* r, const char* group) {
  if (r == nullptr || group == nullptr) return VIGIL_UNKNOWN;
  return static_cast<vigil_status>(r->registry->GroupStatus(group));
}

int vigil_check_status(const vigil_registry* r, const char* name,
                       vigil_status* status, char* message,
                       size_t message_len) {
  if (r == nullptr || name == nullptr) return VIGIL_ERR_INVALID_ARGUMENT;
  auto snap = r->registry->snapshot();
  const vigil::CheckSnapshot* c = snap->FindCheck(name);
  if (c == nullptr) return VIGIL_ERR_NOT_FOUND;
  if (status != nullptr) *status = static_cast<vigil_status>(c->result.status);
  CopyOut(c->result.message, message, message_len);
  return VIGIL_OK;
}

namespace {

// The registry's report with every string valid UTF-8 (messages are any
// bytes; proto3 parsers refuse invalid ones).
vigil::v1::HealthReport Report(const vigil_registry& r) {
  vigil::v1::HealthReport report =
      vigil::ToHealthReport(*r.registry->snapshot(), r.registry->service());
  vigil::http::internal::SanitizeUtf8Fields(&report);
  return report;
}

}  // namespace

char* vigil_report_json(const vigil_registry* r) {
  if (r == nullptr) return nullptr;
  try {
    absl::StatusOr<std::string> json = vigil::ToJson(Report(*r));
    if (!json.ok()) return nullptr;
    return strdup(json->c_str());
  } catch (...) {
    return nullptr;
  }
}

void vigil_string_free(char* s) { std::free(s); }

int vigil_report_proto(const vigil_registry* r, void** data, size_t* size) {
  if (r == nullptr || data == nullptr || size == nullptr) {
    return VIGIL_ERR_INVALID_ARGUMENT;
  }
  try {
    const std::string bytes = Report(*r).SerializeAsString();
    void* out = std::malloc(bytes.empty() ? 1 : bytes.size());
    if (out == nullptr) return VIGIL_ERR_INTERNAL;
    std::memcpy(out, bytes.data(), bytes.size());
    *data = out;
    *size = bytes.size();
    return VIGIL_OK;
  } catch (...) {
    return VIGIL_ERR_INTERNAL;
  }
}

void vigil_free(void* p) { std::free(p); }

const char* vigil_status_name(vigil_status s) {
  if (!ValidStatus(s)) return "invalid";
  return vigil::StatusName(static_cast<vigil::Status>(s)).data();
}

int vigil_run_once_for_test(vigil_registry* r, double timeout_seconds) {
  if (r == nullptr) return 0;
  r->registry->RunOnceForTest();
  return r->registry->WaitUntilIdleForTest(absl::Seconds(timeout_seconds)) ? 1
                                                                           : 0;
}

}  // extern "C"
