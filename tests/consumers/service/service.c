/* The consumer service in C, over the C ABI (bindings/c/vigil.h): one
 * check, the probe server on a free loopback port (printed as "port N"), a
 * heartbeat beaten from the main loop with the watchdog as liveness, drain
 * on SIGTERM. Built by the Makefile consumer with `pkg-config vigil`. */

#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "bindings/c/vigil.h"

static volatile sig_atomic_t terminated = 0;

static void on_term(int sig) {
  (void)sig;
  terminated = 1;
}

static vigil_status app_check(void* user, char* message, size_t len) {
  (void)user;
  snprintf(message, len, "serving");
  return VIGIL_HEALTHY;
}

int main(void) {
  char err[256];
  signal(SIGTERM, on_term);
  vigil_registry* r = vigil_registry_new("consumer-c", vigil_version());
  vigil_check_options o;
  vigil_check_options_init(&o);
  o.interval_seconds = 0.1;
  if (vigil_register_check(r, "app", &o, app_check, NULL, err, sizeof err)) {
    fprintf(stderr, "register: %s\n", err);
    return 1;
  }
  vigil_watchdog* w = vigil_watchdog_new(NULL, err, sizeof err);
  if (w == NULL || vigil_register_watchdog_liveness(r, w, err, sizeof err)) {
    fprintf(stderr, "watchdog: %s\n", err);
    return 1;
  }
  vigil_start(r);
  vigil_probe_server* s = vigil_probe_server_start(r, NULL, 0, err, sizeof err);
  if (s == NULL) {
    fprintf(stderr, "probe server: %s\n", err);
    return 1;
  }
  printf("port %d\nvigil %s\n", vigil_probe_server_port(s), vigil_version());
  fflush(stdout);
  vigil_heartbeat* hb =
      vigil_heartbeat_new(w, "main-loop", 1, 3, 10, err, sizeof err);
  if (hb == NULL) {
    fprintf(stderr, "heartbeat: %s\n", err);
    return 1;
  }
  const struct timespec work = {0, 20 * 1000 * 1000};
  while (!terminated) {
    vigil_heartbeat_beat(hb);
    nanosleep(&work, NULL); /* the service's own work */
  }
  vigil_begin_shutdown(r);
  vigil_heartbeat_free(hb);
  vigil_probe_server_stop(s);
  vigil_registry_free(r);
  vigil_watchdog_free(w);
  return 0;
}
