// The C ABI's watchdog and heartbeats (bindings/c/vigil.h).

#include "watchdog/watchdog.h"

#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "bindings/c/internal/abi.h"
#include "bindings/c/vigil.h"
#include "watchdog/liveness.h"

struct vigil_watchdog {
  std::unique_ptr<vigil::Watchdog> watchdog;
};

struct vigil_heartbeat {
  // One open scope; `label` outlives `scope`, which points at it.
  struct Scope {
    std::string label;
    std::unique_ptr<vigil::WatchScope> scope;
  };
  vigil::Heartbeat heartbeat;
  std::vector<std::unique_ptr<Scope>> scopes;
};

namespace {
using vigil::internal::CopyOut;
}  // namespace

extern "C" {

void vigil_watchdog_options_init(vigil_watchdog_options* o) {
  if (o == nullptr) return;
  o->tick_seconds = 0.1;
  o->capture_stacks = 1;
  o->log_to_stderr = 1;
  o->abort_on_kill = 0;
}

vigil_watchdog* vigil_watchdog_new(const vigil_watchdog_options* options,
                                   char* err, size_t err_len) {
  vigil_watchdog_options o;
  vigil_watchdog_options_init(&o);
  if (options != nullptr) o = *options;
  try {
    vigil::WatchdogOptions wo;
    wo.tick = absl::Seconds(o.tick_seconds);
    wo.capture_stacks = o.capture_stacks != 0;
    wo.log_to_stderr = o.log_to_stderr != 0;
    wo.kill_action = o.abort_on_kill != 0 ? vigil::KillAction::kAbort
                                          : vigil::KillAction::kNone;
    auto w = std::make_unique<vigil_watchdog>();
    w->watchdog = std::make_unique<vigil::Watchdog>(std::move(wo));
    if (!w->watchdog->status().ok()) {
      CopyOut(w->watchdog->status().message(), err, err_len);
      return nullptr;
    }
    return w.release();
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return nullptr;
  }
}

void vigil_watchdog_free(vigil_watchdog* w) { delete w; }

int vigil_register_watchdog_liveness(vigil_registry* r, vigil_watchdog* w,
                                     char* err, size_t err_len) {
  if (r == nullptr || w == nullptr) {
    CopyOut("registry and watchdog must not be NULL", err, err_len);
    return VIGIL_ERR_INVALID_ARGUMENT;
  }
  try {
    return vigil::internal::Report(
        vigil::RegisterWatchdogLiveness(*r->registry, *w->watchdog), err,
        err_len);
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return VIGIL_ERR_INTERNAL;
  }
}

int vigil_watchdog_hung_count(const vigil_watchdog* w) {
  if (w == nullptr) return -1;
  try {
    return static_cast<int>(w->watchdog->Hung().size());
  } catch (...) {
    return -1;
  }
}

vigil_heartbeat* vigil_heartbeat_new(vigil_watchdog* w, const char* name,
                                     double miss_after_seconds,
                                     double long_miss_after_seconds,
                                     double kill_after_seconds, char* err,
                                     size_t err_len) {
  if (w == nullptr || name == nullptr) {
    CopyOut("watchdog and name must not be NULL", err, err_len);
    return nullptr;
  }
  try {
    vigil::HeartbeatOptions o;
    o.miss_after = absl::Seconds(miss_after_seconds);
    o.long_miss_after = absl::Seconds(long_miss_after_seconds);
    o.kill_after = absl::Seconds(kill_after_seconds);
    absl::StatusOr<vigil::Heartbeat> hb = w->watchdog->Register(name, o);
    if (!hb.ok()) {
      CopyOut(hb.status().message(), err, err_len);
      return nullptr;
    }
    auto h = std::make_unique<vigil_heartbeat>();
    h->heartbeat = *std::move(hb);
    return h.release();
  } catch (const std::exception& e) {
    CopyOut(e.what(), err, err_len);
    return nullptr;
  }
}

void vigil_heartbeat_beat(vigil_heartbeat* h) {
  if (h != nullptr) h->heartbeat.Beat();
}

int vigil_heartbeat_scope_begin(vigil_heartbeat* h, double timeout_seconds,
                                const char* label) {
  if (h == nullptr) return VIGIL_ERR_INVALID_ARGUMENT;
  try {
    auto scope = std::make_unique<vigil_heartbeat::Scope>();
    scope->label = label == nullptr ? "" : label;
    scope->scope = std::make_unique<vigil::WatchScope>(
        h->heartbeat, absl::Seconds(timeout_seconds),
        label == nullptr ? nullptr : scope->label.c_str());
    h->scopes.push_back(std::move(scope));
    return VIGIL_OK;
  } catch (...) {
    return VIGIL_ERR_INTERNAL;
  }
}

int vigil_heartbeat_scope_end(vigil_heartbeat* h) {
  if (h == nullptr) return VIGIL_ERR_INVALID_ARGUMENT;
  if (h->scopes.empty()) return VIGIL_ERR_FAILED_PRECONDITION;
  h->scopes.pop_back();
  return VIGIL_OK;
}

void vigil_heartbeat_free(vigil_heartbeat* h) {
  if (h == nullptr) return;
  while (!h->scopes.empty()) h->scopes.pop_back();  // innermost first
  delete h;
}

}  // extern "C"
