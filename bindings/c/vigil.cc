#include "bindings/c/vigil.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "health/registry.h"
#include "health/report.h"

struct vigil_registry {
  std::unique_ptr<vigil::HealthRegistry> registry;
};

namespace {

constexpr size_t kMessageBytes = 512;

void CopyOut(const std::string& s, char* out, size_t len) {
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
    default:
      return VIGIL_ERR_INTERNAL;
  }
}

bool ValidStatus(int s) { return s >= VIGIL_UNKNOWN && s <= VIGIL_UNHEALTHY; }

}  // namespace

extern "C" {

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

vigil_registry* vigil_registry_new(const char* service_name,
                                   const char* version) {
  try {
    vigil::RegistryOptions options;
    if (service_name != nullptr) options.service.name = service_name;
    if (version != nullptr) options.service.version = version;
    auto* r = new vigil_registry;
    r->registry = std::make_unique<vigil::HealthRegistry>(options);
    return r;
  } catch (...) {
    return nullptr;
  }
}

void vigil_registry_free(vigil_registry* r) { delete r; }

int vigil_register_check(vigil_registry* r, const char* name,
                         const vigil_check_options* options, vigil_check_fn fn,
                         void* user, char* err, size_t err_len) {
  if (r == nullptr || name == nullptr || fn == nullptr) {
    CopyOut("registry, name and fn must not be NULL", err, err_len);
    return VIGIL_ERR_INVALID_ARGUMENT;
  }
  vigil_check_options o;
  vigil_check_options_init(&o);
  if (options != nullptr) o = *options;
  try {
    vigil::Check c;
    c.name = name;
    c.options.interval = absl::Seconds(o.interval_seconds);
    c.options.timeout = absl::Seconds(o.timeout_seconds);
    c.options.initial_delay = absl::Seconds(o.initial_delay_seconds);
    c.options.failure_threshold = o.failure_threshold;
    c.options.success_threshold = o.success_threshold;
    c.options.critical = o.critical != 0;
    c.options.groups.clear();
    for (absl::string_view g :
         absl::StrSplit(o.groups == nullptr ? "" : o.groups, ',')) {
      g = absl::StripAsciiWhitespace(g);
      if (!g.empty()) c.options.groups.emplace_back(g);
    }
    if (o.kind != VIGIL_KIND_SELF && o.kind != VIGIL_KIND_DEPENDENCY) {
      CopyOut("kind: must be VIGIL_KIND_SELF or VIGIL_KIND_DEPENDENCY", err,
              err_len);
      return VIGIL_ERR_INVALID_ARGUMENT;
    }
    c.options.kind = o.kind == VIGIL_KIND_DEPENDENCY
                         ? vigil::CheckKind::kDependency
                         : vigil::CheckKind::kSelf;
    c.options.allow_dependency_in_liveness =
        o.allow_dependency_in_liveness != 0;
    c.function = [fn, user](const vigil::CheckContext&) {
      char message[kMessageBytes] = {};
      const int raw = fn(user, message, sizeof(message));
      message[sizeof(message) - 1] = '\0';
      vigil::CheckResult result;
      if (!ValidStatus(raw)) {
        return vigil::CheckResult::Unhealthy(
            "check returned an invalid vigil_status " + std::to_string(raw));
      }
      result.status = static_cast<vigil::Status>(raw);
      result.message = message;
      return result;
    };
    absl::Status s = r->registry->Register(std::move(c));
    if (!s.ok()) CopyOut(std::string(s.message()), err, err_len);
    return ToCode(s);
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return VIGIL_ERR_INTERNAL;
  }
}

int vigil_unregister_check(vigil_registry* r, const char* name) {
  if (r == nullptr || name == nullptr) return VIGIL_ERR_INVALID_ARGUMENT;
  return ToCode(r->registry->Unregister(name));
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

char* vigil_report_json(const vigil_registry* r) {
  if (r == nullptr) return nullptr;
  try {
    absl::StatusOr<std::string> json = vigil::ToJson(vigil::ToHealthReport(
        *r->registry->snapshot(), r->registry->service()));
    if (!json.ok()) return nullptr;
    return strdup(json->c_str());
  } catch (...) {
    return nullptr;
  }
}

void vigil_string_free(char* s) { std::free(s); }

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
