/* The service surface of the C ABI, from plain C: the probe server answering
 * real HTTP, ready-made checks, pressure detectors, the watchdog and its
 * liveness check, the protobuf report, release callbacks and the version.
 * Waits are bounded polls on a condition, never fixed sleeps. Exits non-zero
 * on the first failed expectation. */

/* memmem() is a GNU extension; _GNU_SOURCE also gives POSIX.1-2008. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bindings/c/vigil.h"

static int failures = 0;

#define EXPECT(cond)                                                      \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_briefly(void) {
  struct timespec ts = {0, 5 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* GET `path` from 127.0.0.1:`port`; returns the status code (-1 on error)
 * and the start of the body in `body`. */
static int http_get(int port, const char* path, char* body, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  char req[256];
  snprintf(req, sizeof req,
           "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
  if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
    close(fd);
    return -1;
  }
  static char buf[65536];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof buf - 1 &&
         (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  int code = -1;
  if (sscanf(buf, "HTTP/1.1 %d", &code) != 1) return -1;
  const char* b = strstr(buf, "\r\n\r\n");
  if (body != NULL && len > 0) snprintf(body, len, "%s", b ? b + 4 : "");
  return code;
}

static vigil_status healthy(void* user, char* message, size_t len) {
  (void)user;
  snprintf(message, len, "fine");
  return VIGIL_HEALTHY;
}

typedef struct {
  double value;
  atomic_int released; /* the release callback may run on a worker */
} gauge_state;

static int read_gauge(void* user, double* value) {
  *value = ((gauge_state*)user)->value;
  return 0;
}

static void release_gauge(void* user) {
  atomic_fetch_add(&((gauge_state*)user)->released, 1);
}

/* Waits (bounded) until `s` has been released once. */
static int wait_released(gauge_state* s) {
  const double deadline = now_seconds() + 20;
  while (atomic_load(&s->released) == 0 && now_seconds() < deadline) {
    pause_briefly();
  }
  return atomic_load(&s->released);
}

static void test_version(void) {
  EXPECT(strcmp(vigil_version(), VIGIL_VERSION_STRING) == 0);
}

static void test_probe_server_and_checks(void) {
  char err[256];
  vigil_registry* r = vigil_registry_new("c-service", "2.0");
  vigil_check_options o;
  vigil_check_options_init(&o);
  o.failure_threshold = 1;
  EXPECT(vigil_register_check(r, "self", &o, healthy, NULL, err, sizeof err) ==
         VIGIL_OK);

  vigil_probe_server* s =
      vigil_probe_server_start(r, "127.0.0.1", 0, err, sizeof err);
  EXPECT(s != NULL);
  if (s == NULL) {
    fprintf(stderr, "probe server: %s\n", err);
    vigil_registry_free(r);
    return;
  }
  const int port = vigil_probe_server_port(s);
  EXPECT(port > 0);
  /* Nothing has run yet: readiness fails. */
  EXPECT(http_get(port, "/readyz", NULL, 0) == 503);

  /* The same port twice cannot be bound; the reason is given. */
  EXPECT(vigil_probe_server_start(r, "127.0.0.1", port, err, sizeof err) ==
         NULL);
  EXPECT(strlen(err) > 0);
  EXPECT(vigil_probe_server_start(r, "not-an-address", 0, err, sizeof err) ==
         NULL);
  EXPECT(strstr(err, "address") != NULL);

  /* Ready-made checks: the probe server itself is the dependency. */
  char address[64];
  snprintf(address, sizeof address, "127.0.0.1:%d", port);
  vigil_check_options dep;
  vigil_dependency_check_options_init(&dep);
  dep.failure_threshold = 1;
  EXPECT(vigil_register_tcp_check(r, NULL, address, &dep, err, sizeof err) ==
         VIGIL_OK);
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/livez", port);
  EXPECT(vigil_register_http_check(r, "http-self", url, &dep, err,
                                   sizeof err) == VIGIL_OK);
  EXPECT(vigil_register_tcp_check(r, NULL, NULL, NULL, err, sizeof err) ==
         VIGIL_ERR_INVALID_ARGUMENT);
  EXPECT(vigil_register_tls_cert_check(r, NULL, NULL, NULL, 0, NULL, err,
                                       sizeof err) ==
         VIGIL_ERR_INVALID_ARGUMENT);

  char dir[] = "/tmp/vigil-c-XXXXXX";
  EXPECT(mkdtemp(dir) != NULL);
  char file[128];
  snprintf(file, sizeof file, "%s/backup.tar", dir);
  FILE* f = fopen(file, "w");
  EXPECT(f != NULL);
  if (f != NULL) {
    fputs("a non-empty backup", f); /* empty backups are failures */
    fclose(f);
  }
  EXPECT(vigil_register_file_freshness_check(r, "backups", dir, "*.tar", 3600,
                                             0, &dep, err,
                                             sizeof err) == VIGIL_OK);

  char registered[256];
  EXPECT(vigil_register_default_pressure(r, "/", NULL, registered,
                                         sizeof registered, err,
                                         sizeof err) == VIGIL_OK);
  EXPECT(strstr(registered, "memory") != NULL);
  EXPECT(strstr(registered, "disk:/") != NULL);
  EXPECT(vigil_register_default_pressure(r, "/no/such/dir", NULL, NULL, 0, err,
                                         sizeof err) ==
         VIGIL_ERR_INVALID_ARGUMENT);

  EXPECT(vigil_run_once_for_test(r, 30));
  vigil_status st;
  char message[256];
  EXPECT(vigil_check_status(r, "http-self", &st, message, sizeof message) ==
         VIGIL_OK);
  EXPECT(st == VIGIL_HEALTHY);
  char tcp_name[96];
  snprintf(tcp_name, sizeof tcp_name, "tcp:%s", address);
  EXPECT(vigil_check_status(r, tcp_name, &st, message, sizeof message) ==
         VIGIL_OK);
  EXPECT(st == VIGIL_HEALTHY);
  EXPECT(vigil_check_status(r, "backups", &st, message, sizeof message) ==
         VIGIL_OK);
  EXPECT(st == VIGIL_HEALTHY);

  char body[4096];
  EXPECT(http_get(port, "/livez", NULL, 0) == 200);
  EXPECT(http_get(port, "/metrics", body, sizeof body) == 200);
  char build_info[128];
  snprintf(build_info, sizeof build_info, "vigil_version=\"%s\"",
           VIGIL_VERSION_STRING);
  EXPECT(strstr(body, build_info) != NULL);

  /* The report as protobuf bytes. */
  void* data = NULL;
  size_t size = 0;
  EXPECT(vigil_report_proto(r, &data, &size) == VIGIL_OK);
  EXPECT(size > 0);
  EXPECT(data != NULL && memmem(data, size, "c-service", 9) != NULL);
  vigil_free(data);

  /* Drain: readiness answers 503, liveness 200. */
  vigil_begin_shutdown(r);
  EXPECT(http_get(port, "/readyz", NULL, 0) == 503);
  EXPECT(http_get(port, "/livez", NULL, 0) == 200);

  vigil_probe_server_stop(s);
  vigil_registry_free(r);
  remove(file);
  rmdir(dir);
}

static void test_gauge_and_release(void) {
  char err[256];
  vigil_registry* r = vigil_registry_new("gauge", NULL);
  gauge_state g = {48, 0};
  vigil_check_options o;
  vigil_check_options_init(&o);
  o.failure_threshold = 1;
  EXPECT(vigil_register_gauge_check(r, "pool", read_gauge, &g, release_gauge,
                                    50, 0, 0, "connections", &o, err,
                                    sizeof err) == VIGIL_OK);
  EXPECT(vigil_run_once_for_test(r, 10));
  vigil_status st;
  char message[256];
  EXPECT(vigil_check_status(r, "pool", &st, message, sizeof message) ==
         VIGIL_OK);
  EXPECT(st == VIGIL_UNHEALTHY);
  EXPECT(strstr(message, "48 of 50 connections") != NULL);
  EXPECT(atomic_load(&g.released) == 0);
  EXPECT(vigil_unregister_check(r, "pool") == VIGIL_OK);
  /* Released once the worker that ran it has let go of it: "idle" (the run
   * returned) may be observed a moment before that, on another thread. */
  EXPECT(wait_released(&g) == 1);

  /* A refused registration releases at once too. */
  gauge_state bad = {1, 0};
  EXPECT(vigil_register_gauge_check(r, "bad", read_gauge, &bad, release_gauge,
                                    -1, 0, 0, NULL, NULL, err,
                                    sizeof err) == VIGIL_ERR_INVALID_ARGUMENT);
  EXPECT(strstr(err, "limit") != NULL);
  EXPECT(atomic_load(&bad.released) == 1); /* at once, on this thread */

  /* Freeing the registry releases what is still registered. */
  gauge_state kept = {1, 0};
  EXPECT(vigil_register_gauge_check(r, "kept", read_gauge, &kept, release_gauge,
                                    10, 0, 0, NULL, NULL, err,
                                    sizeof err) == VIGIL_OK);
  vigil_registry_free(r);
  EXPECT(atomic_load(&kept.released) == 1); /* free joined the workers */
}

static void test_watchdog(void) {
  char err[256];
  vigil_watchdog_options wo;
  vigil_watchdog_options_init(&wo);
  wo.tick_seconds = 0.01;
  wo.log_to_stderr = 0;
  wo.tick_seconds = -1;
  EXPECT(vigil_watchdog_new(&wo, err, sizeof err) == NULL);
  EXPECT(strstr(err, "tick") != NULL);
  wo.tick_seconds = 0.01;
  vigil_watchdog* w = vigil_watchdog_new(&wo, err, sizeof err);
  EXPECT(w != NULL);
  if (w == NULL) return;

  EXPECT(vigil_heartbeat_new(w, "bad", 2, 1, 3, err, sizeof err) == NULL);
  EXPECT(strlen(err) > 0);

  vigil_registry* r = vigil_registry_new("wd", NULL);
  EXPECT(vigil_register_watchdog_liveness(r, w, err, sizeof err) == VIGIL_OK);
  vigil_heartbeat* hb =
      vigil_heartbeat_new(w, "loop", 0.02, 0.04, 0.08, err, sizeof err);
  EXPECT(hb != NULL);

  /* Scopes pair up; an unmatched end is refused. */
  EXPECT(vigil_heartbeat_scope_begin(hb, 60, "compaction") == VIGIL_OK);
  EXPECT(vigil_heartbeat_scope_end(hb) == VIGIL_OK);
  EXPECT(vigil_heartbeat_scope_end(hb) == VIGIL_ERR_FAILED_PRECONDITION);

  /* Silent past kill_after: hung, and liveness fails naming it. */
  const double deadline = now_seconds() + 20;
  while (vigil_watchdog_hung_count(w) != 1 && now_seconds() < deadline) {
    pause_briefly();
  }
  EXPECT(vigil_watchdog_hung_count(w) == 1);
  EXPECT(vigil_run_once_for_test(r, 10));
  vigil_status st;
  char message[256];
  EXPECT(vigil_check_status(r, "watchdog", &st, message, sizeof message) ==
         VIGIL_OK);
  EXPECT(st == VIGIL_UNHEALTHY);
  EXPECT(strstr(message, "loop") != NULL);

  /* Beating again recovers. */
  while (vigil_watchdog_hung_count(w) != 0 && now_seconds() < deadline + 20) {
    vigil_heartbeat_beat(hb);
    pause_briefly();
  }
  EXPECT(vigil_watchdog_hung_count(w) == 0);

  /* A scope still open at free is closed by it. */
  EXPECT(vigil_heartbeat_scope_begin(hb, 60, NULL) == VIGIL_OK);
  vigil_heartbeat_free(hb);
  vigil_registry_free(r);
  vigil_watchdog_free(w);
  vigil_heartbeat_beat(NULL);
  vigil_watchdog_free(NULL);
  EXPECT(vigil_watchdog_hung_count(NULL) == -1);
}

int main(void) {
  test_version();
  test_probe_server_and_checks();
  test_gauge_and_release();
  test_watchdog();
  if (failures == 0) puts("vigil_c_service_test: all passed");
  return failures == 0 ? 0 : 1;
}
