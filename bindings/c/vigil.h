/* vigil C ABI: health checks, probes, pressure and a watchdog from C (and
 * anything with a C FFI: Python's ctypes, Go's cgo, Rust's bindgen...).
 *
 * A thin, stable layer over the C++ library. Everything a service needs:
 *   - a registry of checks (your own callbacks, or the ready-made tcp, http,
 *     file-freshness, TLS-certificate and gauge checks), evaluated in the
 *     background, aggregated into liveness / readiness / startup;
 *   - the default resource-pressure detectors (memory, cpu, io, disk, fds,
 *     tasks);
 *   - a dedicated probe server (/livez /readyz /startupz /healthz /metrics)
 *     on its own port and thread;
 *   - a watchdog: heartbeats with deadlines, scoped deadlines, liveness
 *     failing when a heartbeat is hung;
 *   - drain (vigil_begin_shutdown), the report as JSON or protobuf bytes
 *     (vigil.v1.HealthReport), and vigil_version().
 *
 *   char err[256];
 *   vigil_registry* r = vigil_registry_new("orders", "1.0.0");
 *   vigil_check_options o;
 *   vigil_check_options_init(&o);
 *   o.kind = VIGIL_KIND_DEPENDENCY;
 *   if (vigil_register_check(r, "db", &o, ping_db, db_handle, err,
 *                            sizeof err) != VIGIL_OK) { puts(err); }
 *   vigil_register_default_pressure(r, "/", NULL, NULL, 0, err, sizeof err);
 *   vigil_start(r);
 *   vigil_probe_server* s =
 *       vigil_probe_server_start(r, "0.0.0.0", 8080, err, sizeof err);
 *   vigil_watchdog* w = vigil_watchdog_new(NULL, err, sizeof err);
 *   vigil_register_watchdog_liveness(r, w, err, sizeof err);
 *   vigil_heartbeat* hb = vigil_heartbeat_new(w, "loop", 1, 3, 10, err,
 *                                             sizeof err);
 *   while (running) { vigil_heartbeat_beat(hb); serve_one(); }
 *   vigil_begin_shutdown(r);  ... drain ...
 *   vigil_heartbeat_free(hb); vigil_probe_server_stop(s);
 *   vigil_registry_free(r); vigil_watchdog_free(w);
 *
 * Ownership: every object is opaque and owned by the caller, who frees it
 * with the matching *_free (or *_stop) function. Lifetimes nest: a probe
 * server must be stopped before its registry is freed; a heartbeat freed
 * before its watchdog; a watchdog registered with a registry
 * (vigil_register_watchdog_liveness) freed after that registry.
 *
 * Errors: functions never throw (no C++ exception crosses this boundary:
 * each is caught and turned into VIGIL_ERR_INTERNAL) and never abort on bad
 * input. Functions returning int return VIGIL_OK or an error code;
 * functions returning a pointer return NULL on error. Where an `err` buffer
 * is given (it may be NULL), a NUL-terminated message naming what was wrong
 * is written into it, truncated to `err_len`.
 *
 * Strings passed in are copied; the caller may free them when the call
 * returns. Durations are in seconds (double).
 *
 * Thread safety: every function may be called from any thread, on the same
 * or different objects, except the *_free / *_stop functions, which must be
 * each object's last call, and the heartbeat scope functions (see there).
 */

#ifndef VIGIL_BINDINGS_C_VIGIL_H_
#define VIGIL_BINDINGS_C_VIGIL_H_

#include <stddef.h>

#include "health/version.h"

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
  VIGIL_ERR_INTERNAL = 4,
  VIGIL_ERR_UNAVAILABLE = 5,        /* e.g. a port that cannot be bound */
  VIGIL_ERR_FAILED_PRECONDITION = 6 /* a call in the wrong state */
};

/* vigil's version, "MAJOR.MINOR.PATCH" (VIGIL_VERSION_STRING of the library
 * actually loaded, which may be newer than the header compiled against).
 * Static storage. */
const char* vigil_version(void);

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
/* The same with kind VIGIL_KIND_DEPENDENCY: the defaults of the ready-made
 * dependency checks (tcp, http, file freshness, tls certificate). */
void vigil_dependency_check_options_init(vigil_check_options* o);

/* Called once with the `user` pointer of a registration when the registry
 * no longer needs it: after the check is unregistered (or replaced, or the
 * registry freed) AND its last run has returned. Never while the check's
 * function is running. May run on any thread. */
typedef void (*vigil_release_fn)(void* user);

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
/* As vigil_register_check, and `release` (may be NULL) is called with
 * `user` once the check is gone and not running (see vigil_release_fn), or
 * at once if registration fails. Bindings use it to keep a callback alive
 * exactly as long as vigil may call it. */
int vigil_register_check_with_release(vigil_registry* r, const char* name,
                                      const vigil_check_options* options,
                                      vigil_check_fn fn, void* user,
                                      vigil_release_fn release, char* err,
                                      size_t err_len);

/* Removes a check; VIGIL_ERR_NOT_FOUND if absent. A run in flight finishes
 * (its result is discarded); its release function runs after that. */
int vigil_unregister_check(vigil_registry* r, const char* name);

/* ---- Ready-made checks -------------------------------------------------
 * Each registers one check and returns VIGIL_OK or an error code with `err`
 * filled. `name` NULL picks the check's default name ("tcp:<address>", the URL,
 * "file:<directory>/<pattern>", "tls:<address or file>").
 * `options` NULL means vigil_dependency_check_options_init's defaults
 * (vigil_check_options_init's for the gauge). */

/* Can a TCP connection to "host:port" ("[::1]:6379") be opened in time? */
int vigil_register_tcp_check(vigil_registry* r, const char* name,
                             const char* address,
                             const vigil_check_options* options, char* err,
                             size_t err_len);

/* GET `url` (http:// or https://); passing when the status is 200..399. */
int vigil_register_http_check(vigil_registry* r, const char* name,
                              const char* url,
                              const vigil_check_options* options, char* err,
                              size_t err_len);

/* Is the newest file matching `pattern` ("*.tar.gz"; NULL: "*") in
 * `directory` younger than `max_age_seconds` (> 0), and not empty (an
 * empty backup is a failed one)? DEGRADED past
 * `warn_age_seconds` (0: no warning). For backups and exports that must
 * keep coming. */
int vigil_register_file_freshness_check(
    vigil_registry* r, const char* name, const char* directory,
    const char* pattern, double max_age_seconds, double warn_age_seconds,
    const vigil_check_options* options, char* err, size_t err_len);

/* Days until a certificate expires: exactly one of `pem_file` (a PEM file)
 * or `address` ("host:443", the certificate a TLS server presents) is
 * non-NULL. DEGRADED within `warn_before_seconds` (0: 14 days), UNHEALTHY
 * once expired or invalid. */
int vigil_register_tls_cert_check(vigil_registry* r, const char* name,
                                  const char* pem_file, const char* address,
                                  double warn_before_seconds,
                                  const vigil_check_options* options, char* err,
                                  size_t err_len);

/* The gauge's value source: store the current value in *value and return
 * 0, or return non-zero if it cannot be read (the check is UNHEALTHY).
 * Called on a registry worker thread, never concurrently with itself. */
typedef int (*vigil_gauge_fn)(void* user, double* value);

/* A value the application counts (connections in use, queue depth) against
 * `limit` (> 0): DEGRADED at `warn_ratio` * limit, UNHEALTHY at
 * `critical_ratio` * limit (0 < warn_ratio <= critical_ratio; 0 for the
 * defaults 0.8 and 0.95). `unit` (NULL: "count") names the value in
 * reports. `name` is required. `release` as for
 * vigil_register_check_with_release (may be NULL). */
int vigil_register_gauge_check(vigil_registry* r, const char* name,
                               vigil_gauge_fn fn, void* user,
                               vigil_release_fn release, double limit,
                               double warn_ratio, double critical_ratio,
                               const char* unit,
                               const vigil_check_options* options, char* err,
                               size_t err_len);

/* ---- Resource pressure -------------------------------------------------
 * Registers the default detectors (health/pressure/defaults.h): memory,
 * cpu, io (skipped where the kernel offers no signal), one disk check per
 * path of the comma-separated `disk_paths` (NULL: "/"; each must exist),
 * fds and tasks, in the comma-separated `groups` (NULL: "readiness"). All
 * or nothing. `registered` (may be NULL) receives the registered check
 * names, comma-separated and sorted ("cpu,disk:/,fds,io,memory,tasks"). */
int vigil_register_default_pressure(vigil_registry* r, const char* disk_paths,
                                    const char* groups, char* registered,
                                    size_t registered_len, char* err,
                                    size_t err_len);

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

/* The vigil.v1.HealthReport (health/proto/health.proto) as proto3 JSON,
 * malloc'd; free with vigil_string_free. NULL on error. */
char* vigil_report_json(const vigil_registry* r);
void vigil_string_free(char* s);

/* The same report as serialized protobuf bytes: on VIGIL_OK, *data is
 * malloc'd (free with vigil_free) and *size its length. */
int vigil_report_proto(const vigil_registry* r, void** data, size_t* size);
void vigil_free(void* p);

/* ---- Probe server ------------------------------------------------------
 * A dedicated HTTP server (health/http/probe_server.h) answering /livez,
 * /readyz, /startupz, /healthz, /<group>z, /<group>z/<check> and /metrics
 * from the registry's latest results, on its own event-loop thread: probes
 * never run a check and are answered even when the application is busy. */
typedef struct vigil_probe_server vigil_probe_server;

/* Binds `address` ("127.0.0.1", "0.0.0.0", "::"; NULL: "127.0.0.1") and
 * `port` (0: a free port, see vigil_probe_server_port) and starts serving
 * `r`, which must outlive the server. NULL on error (err: "address: ...",
 * or why the port could not be bound). */
vigil_probe_server* vigil_probe_server_start(vigil_registry* r,
                                             const char* address, int port,
                                             char* err, size_t err_len);
/* The bound port; 0 for NULL. */
int vigil_probe_server_port(const vigil_probe_server* s);
/* Closes every connection, joins the server's threads, frees. NULL is a
 * no-op. */
void vigil_probe_server_stop(vigil_probe_server* s);

/* ---- Watchdog ----------------------------------------------------------
 * Heartbeats with deadlines (watchdog/watchdog.h). A thread beats while it
 * makes progress; a monitor thread owned by the watchdog escalates a silent
 * heartbeat: miss (reported), long miss (its stack captured), kill (hung:
 * liveness fails; with abort_on_kill, abort()). A beat is one relaxed
 * atomic store. */
typedef struct vigil_watchdog vigil_watchdog;
typedef struct vigil_heartbeat vigil_heartbeat;

typedef struct {
  double tick_seconds; /* monitor period; default 0.1 */
  int capture_stacks;  /* default 1: the stuck thread's stack, by signal */
  int log_to_stderr;   /* default 1: one line per event */
  int abort_on_kill;   /* default 0: report and fail liveness only */
} vigil_watchdog_options;

void vigil_watchdog_options_init(vigil_watchdog_options* o);

/* A watchdog with its monitor thread running. `options` NULL: defaults.
 * NULL on error (err names the bad option). */
vigil_watchdog* vigil_watchdog_new(const vigil_watchdog_options* options,
                                   char* err, size_t err_len);
/* Joins the monitor thread and frees. Every heartbeat must be freed first;
 * a registry given this watchdog must be freed first. NULL is a no-op. */
void vigil_watchdog_free(vigil_watchdog* w);

/* Registers check "watchdog" (group liveness, kind self) with `r`:
 * UNHEALTHY while any heartbeat of `w` is at its kill stage. */
int vigil_register_watchdog_liveness(vigil_registry* r, vigil_watchdog* w,
                                     char* err, size_t err_len);

/* Heartbeats currently at their kill stage (hung). -1 for NULL. */
int vigil_watchdog_hung_count(const vigil_watchdog* w);

/* Registers heartbeat `name`, bound to the calling thread (the one whose
 * stack is captured), silent-since-now. Thresholds in seconds: 0 <
 * miss_after <= long_miss_after <= kill_after. NULL on error. */
vigil_heartbeat* vigil_heartbeat_new(vigil_watchdog* w, const char* name,
                                     double miss_after_seconds,
                                     double long_miss_after_seconds,
                                     double kill_after_seconds, char* err,
                                     size_t err_len);
/* "I am making progress." Lock-free, no syscall. NULL is a no-op. */
void vigil_heartbeat_beat(vigil_heartbeat* h);
/* Gives the operation that follows its own deadline: until the matching
 * vigil_heartbeat_scope_end, the heartbeat is judged against
 * `timeout_seconds` (its thresholds scaled to it) instead of its beats.
 * Scopes nest; begin and end must pair up in LIFO order and must not be
 * called concurrently on one heartbeat (use them from the watched thread).
 * `label` (may be NULL) names the operation in reports; it is copied.
 * VIGIL_ERR_FAILED_PRECONDITION from scope_end without an open scope. */
int vigil_heartbeat_scope_begin(vigil_heartbeat* h, double timeout_seconds,
                                const char* label);
int vigil_heartbeat_scope_end(vigil_heartbeat* h);
/* Unregisters (closing any open scopes) and frees. NULL is a no-op. */
void vigil_heartbeat_free(vigil_heartbeat* h);

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
