/* vigil C ABI: health checks from C (and anything with a C FFI).
 *
 * A thin, stable layer over the C++ library (health/registry.h). Every
 * object is opaque and owned by the caller, who frees it with the matching
 * *_free function. Functions never throw, never abort on bad input: they
 * return an error code and, where an `err` buffer is given, a NUL-terminated
 * message naming what was wrong.
 *
 *   vigil_registry* r = vigil_registry_new("orders", "1.0.0");
 *   char err[256];
 *   vigil_check_options o;
 *   vigil_check_options_init(&o);
 *   o.groups = "readiness";
 *   o.kind = VIGIL_KIND_DEPENDENCY;
 *   if (vigil_register_check(r, "db", &o, ping_db, db_handle, err,
 *                            sizeof err) != 0) { puts(err); }
 *   vigil_start(r);
 *   ...
 *   if (vigil_group_status(r, "readiness") == VIGIL_UNHEALTHY) ...
 *   vigil_registry_free(r);
 *
 * Thread safety: every function may be called from any thread on the same
 * registry, except vigil_registry_free, which must be the last call. */

#ifndef VIGIL_BINDINGS_C_VIGIL_H_
#define VIGIL_BINDINGS_C_VIGIL_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values match vigil::Status and vigil.v1.Status. */
typedef enum {
  VIGIL_UNKNOWN = 0,
  VIGIL_HEALTHY = 1,
  VIGIL_DEGRADED = 2,
  VIGIL_UNHEALTHY = 3
} vigil_status;

typedef enum { VIGIL_KIND_SELF = 0, VIGIL_KIND_DEPENDENCY = 1 } vigil_kind;

/* Return codes. */
enum {
  VIGIL_OK = 0,
  VIGIL_ERR_INVALID_ARGUMENT = 1, /* bad name, option or NULL pointer */
  VIGIL_ERR_ALREADY_EXISTS = 2,   /* duplicate check name */
  VIGIL_ERR_NOT_FOUND = 3,        /* no such check */
  VIGIL_ERR_INTERNAL = 4
};

typedef struct vigil_registry vigil_registry;

/* A check body. Called on a registry worker thread, never concurrently with
 * itself. Write a short explanation (NUL-terminated, truncated to
 * `message_len`) into `message` and return the status. `user` is the pointer
 * given at registration; it must stay valid until the registry is freed. */
typedef vigil_status (*vigil_check_fn)(void* user, char* message,
                                       size_t message_len);

typedef struct {
  double interval_seconds;          /* default 10 */
  double timeout_seconds;           /* default 5 */
  double initial_delay_seconds;     /* default 0 */
  int failure_threshold;            /* default 3 */
  int success_threshold;            /* default 1 */
  int critical;                     /* default 1 */
  const char* groups;               /* comma-separated; default "readiness" */
  vigil_kind kind;                  /* default VIGIL_KIND_SELF */
  int allow_dependency_in_liveness; /* default 0 */
} vigil_check_options;

/* Fills `o` with the defaults above. */
void vigil_check_options_init(vigil_check_options* o);

/* A new registry on the real clock; never NULL unless out of memory.
 * `service_name` and `version` may be NULL. */
vigil_registry* vigil_registry_new(const char* service_name,
                                   const char* version);
/* Stops the scheduler, waits for runs in flight, frees. NULL is a no-op. */
void vigil_registry_free(vigil_registry* r);

/* Registers a check. Returns VIGIL_OK or an error code with `err` filled
 * (may be NULL). `options` NULL means defaults. Nothing is registered on
 * error. */
int vigil_register_check(vigil_registry* r, const char* name,
                         const vigil_check_options* options, vigil_check_fn fn,
                         void* user, char* err, size_t err_len);
int vigil_unregister_check(vigil_registry* r, const char* name);

/* Starts / stops background evaluation. Idempotent. */
void vigil_start(vigil_registry* r);
void vigil_stop(vigil_registry* r);

/* Drain: readiness fails from now on; liveness keeps passing. */
void vigil_begin_shutdown(vigil_registry* r);

/* Status of a group ("liveness", "readiness", "startup", "all", custom).
 * VIGIL_UNKNOWN for a NULL registry or group. */
vigil_status vigil_group_status(const vigil_registry* r, const char* group);

/* Status and message of one check; VIGIL_ERR_NOT_FOUND if absent. */
int vigil_check_status(const vigil_registry* r, const char* name,
                       vigil_status* status, char* message, size_t message_len);

/* The HealthReport as proto3 JSON, malloc'd; free with vigil_string_free.
 * NULL on error. */
char* vigil_report_json(const vigil_registry* r);
void vigil_string_free(char* s);

/* "unknown", "healthy", "degraded", "unhealthy". Static storage. */
const char* vigil_status_name(vigil_status s);

/* Test hook: one synchronous scheduler step, then wait (up to
 * `timeout_seconds` of real time) for the runs it started. Returns 1 if all
 * finished. */
int vigil_run_once_for_test(vigil_registry* r, double timeout_seconds);

#ifdef __cplusplus
}
#endif

#endif /* VIGIL_BINDINGS_C_VIGIL_H_ */
