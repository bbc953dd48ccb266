// FileFreshnessCheck: is the newest matching file recent and big enough?
//
// For backups, heartbeat files, exports: lists `directory` (not recursive),
// takes the regular files whose names match `pattern` (a shell glob,
// fnmatch(3) with FNM_PERIOD: "*" does not match hidden files), picks the
// newest by modification time, and checks that it is no older than
// `max_age` (DEGRADED past the optional `warn_age`) and at least `min_size`
// bytes. Ages are measured against the injected clock.
//
// Results:
//   HEALTHY   "newest file db-0412.tar.gz is 2h old, 1048576 bytes"
//   DEGRADED  "newest file ... is 20h old, older than 18h"     ("aging")
//   UNHEALTHY "newest file ... is 26h old, older than 24h"     ("stale")
//             "newest file ... is 12 bytes, below the minimum of 1024"
//                                                             ("too_small")
//             "no file matches \"*.tar.gz\" in /var/backups"  ("no_match")
//             "directory /var/backups does not exist"          ("missing")
//             "cannot read directory /var/backups: Permission denied"
//                                                             ("unreadable")
// observed value: the age in seconds, warn_threshold = warn_age,
// critical_threshold = max_age. details: "file", "size_bytes",
// "age_seconds", "mtime" (RFC 3339), "matches" (how many files matched).
//
//   absl::StatusOr<vigil::Check> c = vigil::checks::FileFreshnessCheck({
//       .directory = "/var/backups/db", .pattern = "*.tar.gz",
//       .max_age = absl::Hours(26), .min_size = 1 << 20});

#ifndef VIGIL_HEALTH_CHECKS_FILE_FRESHNESS_H_
#define VIGIL_HEALTH_CHECKS_FILE_FRESHNESS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

struct FileFreshnessCheckOptions {
  // Required. The directory to list.
  std::string directory = {};
  // Shell glob matched against file names (no '/'). Default: every
  // non-hidden file.
  std::string pattern = "*";
  // Required, > 0: the newest file may be at most this old.
  absl::Duration max_age = absl::ZeroDuration();
  // Optional (0 = off), < max_age: DEGRADED past this age.
  absl::Duration warn_age = absl::ZeroDuration();
  // The newest file must have at least this many bytes. >= 0. The default
  // rejects empty files (an empty backup is a failed backup).
  int64_t min_size = 1;
  // The check's name; default "file:<directory>/<pattern>".
  std::string name = {};
  // What produces the files is another job: a dependency by default.
  CheckOptions check = DependencyCheckOptions();
  // Ages are measured from this clock. Not owned; nullptr = real.
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming "directory", "pattern"
// (empty, contains '/', unbalanced '[', trailing '\'), "max_age",
// "warn_age", "min_size", or a CheckOptions field. The directory need not
// exist yet (that is reported at run time).
absl::StatusOr<Check> FileFreshnessCheck(FileFreshnessCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_FILE_FRESHNESS_H_
