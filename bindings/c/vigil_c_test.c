/* Exercises the C ABI from plain C: registration and its errors, running
 * checks, group aggregation, drain, the JSON report, and checks that return
 * garbage. Exits non-zero on the first failed expectation. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/c/vigil.h"

static int failures = 0;

#define EXPECT(cond)                                                      \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

typedef struct {
  vigil_status next;
  const char* message;
  int runs;
} scripted;

static vigil_status run_scripted(void* user, char* message, size_t len) {
  scripted* s = (scripted*)user;
  s->runs++;
  snprintf(message, len, "%s", s->message);
  return s->next;
}

static vigil_status run_bogus(void* user, char* message, size_t len) {
  (void)user;
  (void)message;
  (void)len;
  return (vigil_status)42;
}

int main(void) {
  vigil_registry* r = vigil_registry_new("c-test", "1.0");
  EXPECT(r != NULL);
  char err[256];

  scripted db = {VIGIL_HEALTHY, "connected", 0};
  vigil_check_options o;
  vigil_check_options_init(&o);
  o.kind = VIGIL_KIND_DEPENDENCY;
  o.groups = "readiness, storage";
  o.failure_threshold = 1;
  EXPECT(vigil_register_check(r, "db", &o, run_scripted, &db, err,
                              sizeof err) == VIGIL_OK);

  /* A dependency in liveness is refused, with the reason. */
  o.groups = "liveness";
  EXPECT(vigil_register_check(r, "db2", &o, run_scripted, &db, err,
                              sizeof err) == VIGIL_ERR_INVALID_ARGUMENT);
  EXPECT(strstr(err, "liveness") != NULL);
  /* Duplicates, a check named like a group and bad options are refused. */
  o.groups = "readiness";
  EXPECT(vigil_register_check(r, "storage", &o, run_scripted, &db, err,
                              sizeof err) == VIGIL_ERR_ALREADY_EXISTS);
  EXPECT(vigil_register_check(r, "db", &o, run_scripted, &db, err,
                              sizeof err) == VIGIL_ERR_ALREADY_EXISTS);
  o.interval_seconds = 0;
  EXPECT(vigil_register_check(r, "x", &o, run_scripted, &db, err, sizeof err) ==
         VIGIL_ERR_INVALID_ARGUMENT);
  EXPECT(strstr(err, "interval") != NULL);
  EXPECT(vigil_register_check(r, "x", NULL, NULL, NULL, err, sizeof err) ==
         VIGIL_ERR_INVALID_ARGUMENT);

  scripted cache = {VIGIL_UNHEALTHY, "cache down", 0};
  vigil_check_options_init(&o);
  o.critical = 0;
  EXPECT(vigil_register_check(r, "cache", &o, run_scripted, &cache, NULL, 0) ==
         VIGIL_OK);
  EXPECT(vigil_register_check(r, "bogus", NULL, run_bogus, NULL, NULL, 0) ==
         VIGIL_OK);
  EXPECT(vigil_unregister_check(r, "bogus") == VIGIL_OK);
  EXPECT(vigil_unregister_check(r, "bogus") == VIGIL_ERR_NOT_FOUND);

  EXPECT(vigil_run_once_for_test(r, 10) == 1);
  EXPECT(db.runs == 1 && cache.runs == 1);
  EXPECT(vigil_group_status(r, "readiness") == VIGIL_DEGRADED);
  EXPECT(vigil_group_status(r, "storage") == VIGIL_HEALTHY);
  vigil_status st;
  char msg[64];
  EXPECT(vigil_check_status(r, "cache", &st, msg, sizeof msg) == VIGIL_OK);
  EXPECT(st == VIGIL_UNHEALTHY && strcmp(msg, "cache down") == 0);
  EXPECT(vigil_check_status(r, "nope", &st, msg, sizeof msg) ==
         VIGIL_ERR_NOT_FOUND);

  char* json = vigil_report_json(r);
  EXPECT(json != NULL && strstr(json, "\"name\":\"cache\"") != NULL);
  EXPECT(json != NULL && strstr(json, "STATUS_DEGRADED") != NULL);
  vigil_string_free(json);

  vigil_begin_shutdown(r);
  EXPECT(vigil_group_status(r, "readiness") == VIGIL_UNHEALTHY);
  EXPECT(vigil_group_status(r, "liveness") == VIGIL_HEALTHY);
  EXPECT(strcmp(vigil_status_name(VIGIL_DEGRADED), "degraded") == 0);
  EXPECT(vigil_group_status(NULL, "readiness") == VIGIL_UNKNOWN);
  vigil_registry_free(r);

  /* A check returning an out-of-range status is reported, not trusted. */
  r = vigil_registry_new(NULL, NULL);
  EXPECT(vigil_register_check(r, "bogus", NULL, run_bogus, NULL, NULL, 0) ==
         VIGIL_OK);
  EXPECT(vigil_run_once_for_test(r, 10) == 1);
  EXPECT(vigil_check_status(r, "bogus", &st, msg, sizeof msg) == VIGIL_OK);
  EXPECT(st == VIGIL_UNHEALTHY && strstr(msg, "invalid") != NULL);
  vigil_registry_free(r);

  if (failures == 0) printf("vigil_c_test: all expectations met\n");
  return failures == 0 ? 0 : 1;
}
