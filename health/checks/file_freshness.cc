#include "health/checks/file_freshness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/result_util.h"

namespace vigil {
namespace checks {
namespace {

absl::Status ValidateGlob(absl::string_view p) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("pattern \"", p, "\": ", why));
  };
  if (p.empty()) return bad("must not be empty");
  if (p.find('/') != absl::string_view::npos) {
    return bad("matches file names only; put directories in `directory`");
  }
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      if (i + 1 == p.size()) return bad("ends with an unescaped '\\'");
      ++i;
    } else if (p[i] == '[') {
      size_t j = i + 1;
      if (j < p.size() && (p[j] == '!' || p[j] == '^')) ++j;
      if (j < p.size() && p[j] == ']') ++j;  // "[]...]" includes ']'.
      while (j < p.size() && p[j] != ']') ++j;
      if (j >= p.size()) return bad("'[' without a closing ']'");
      i = j;
    }
  }
  return absl::OkStatus();
}

// "45s", "12m", "26h", "3d".
std::string Age(absl::Duration d) {
  if (d < absl::Minutes(2)) return absl::StrCat(absl::ToInt64Seconds(d), "s");
  if (d < absl::Hours(2)) return absl::StrCat(absl::ToInt64Minutes(d), "m");
  if (d < absl::Hours(72)) return absl::StrCat(absl::ToInt64Hours(d), "h");
  return absl::StrCat(absl::ToInt64Hours(d) / 24, "d");
}

struct FreshnessState {
  FileFreshnessCheckOptions options;
  Clock* clock = nullptr;
};

CheckResult Fail(std::string message, absl::string_view reason,
                 const FileFreshnessCheckOptions& o) {
  CheckResult r = CheckResult::Unhealthy(std::move(message));
  r.details["reason"] = std::string(reason);
  r.details["directory"] = o.directory;
  r.details["pattern"] = o.pattern;
  r.critical_threshold = absl::ToDoubleSeconds(o.max_age);
  return r;
}

CheckResult RunFreshness(const FreshnessState& s) {
  const FileFreshnessCheckOptions& o = s.options;
  DIR* dir = opendir(o.directory.c_str());
  if (dir == nullptr) {
    const int err = errno;
    if (err == ENOENT) {
      return Fail(absl::StrCat("directory ", o.directory, " does not exist"),
                  "missing", o);
    }
    if (err == ENOTDIR) {
      return Fail(absl::StrCat(o.directory, " is not a directory"), "missing",
                  o);
    }
    return Fail(absl::StrCat("cannot read directory ", o.directory, ": ",
                             internal::ErrnoText(err)),
                "unreadable", o);
  }
  const int dfd = dirfd(dir);
  int matches = 0;
  std::string newest;
  struct stat newest_st = {};
  int read_err = 0;
  while (true) {
    // readdir reports errors only through errno; fstatat below may set it.
    errno = 0;
    dirent* e = readdir(dir);
    if (e == nullptr) {
      read_err = errno;
      break;
    }
    if (fnmatch(o.pattern.c_str(), e->d_name, FNM_PERIOD) != 0) continue;
    struct stat st;
    if (fstatat(dfd, e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    ++matches;
    const bool newer = newest.empty() ||
                       st.st_mtim.tv_sec > newest_st.st_mtim.tv_sec ||
                       (st.st_mtim.tv_sec == newest_st.st_mtim.tv_sec &&
                        (st.st_mtim.tv_nsec > newest_st.st_mtim.tv_nsec ||
                         (st.st_mtim.tv_nsec == newest_st.st_mtim.tv_nsec &&
                          e->d_name > newest)));
    if (newer) {
      newest = e->d_name;
      newest_st = st;
    }
  }
  closedir(dir);
  if (read_err != 0 && matches == 0) {
    return Fail(absl::StrCat("cannot read directory ", o.directory, ": ",
                             internal::ErrnoText(read_err)),
                "unreadable", o);
  }
  if (matches == 0) {
    return Fail(
        absl::StrCat("no file matches \"", o.pattern, "\" in ", o.directory),
        "no_match", o);
  }
  const absl::Time mtime = absl::TimeFromTimespec(newest_st.st_mtim);
  // A file's mtime is wall time: compare it with wall time.
  absl::Duration age = s.clock->WallNow() - mtime;
  const bool in_future = age < absl::ZeroDuration();
  if (in_future) age = absl::ZeroDuration();
  const int64_t size = newest_st.st_size;

  CheckResult r;
  const std::string what = absl::StrCat("newest file ", newest, " is ");
  if (size < o.min_size) {
    r = CheckResult::Unhealthy(
        absl::StrCat(what, size, " bytes, below the minimum of ", o.min_size));
    r.details["reason"] = "too_small";
  } else if (age > o.max_age) {
    r = CheckResult::Unhealthy(
        absl::StrCat(what, Age(age), " old, older than ", Age(o.max_age)));
    r.details["reason"] = "stale";
  } else if (o.warn_age > absl::ZeroDuration() && age > o.warn_age) {
    r = CheckResult::Degraded(
        absl::StrCat(what, Age(age), " old, older than ", Age(o.warn_age)));
    r.details["reason"] = "aging";
  } else {
    r = CheckResult::Healthy(
        absl::StrCat(what, Age(age), " old, ", size, " bytes"));
  }
  r.observed_value = absl::ToDoubleSeconds(age);
  r.observed_unit = "seconds";
  if (o.warn_age > absl::ZeroDuration()) {
    r.warn_threshold = absl::ToDoubleSeconds(o.warn_age);
  }
  r.critical_threshold = absl::ToDoubleSeconds(o.max_age);
  r.details["file"] = newest;
  r.details["directory"] = o.directory;
  r.details["size_bytes"] = absl::StrCat(size);
  r.details["age_seconds"] = absl::StrCat(absl::ToInt64Seconds(age));
  r.details["mtime"] =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", mtime, absl::UTCTimeZone());
  r.details["matches"] = absl::StrCat(matches);
  if (in_future) r.details["note"] = "modification time is in the future";
  return r;
}

}  // namespace

absl::StatusOr<Check> FileFreshnessCheck(FileFreshnessCheckOptions options) {
  if (options.directory.empty()) {
    return absl::InvalidArgumentError("directory: must be set");
  }
  if (options.directory.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("directory: contains a NUL byte");
  }
  if (absl::Status s = ValidateGlob(options.pattern); !s.ok()) return s;
  if (options.max_age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_age: must be > 0");
  }
  if (options.warn_age < absl::ZeroDuration() ||
      options.warn_age >= options.max_age) {
    return absl::InvalidArgumentError(
        "warn_age: must be 0 (off) or between 0 and max_age");
  }
  if (options.min_size < 0) {
    return absl::InvalidArgumentError("min_size: must be >= 0");
  }
  auto state = std::make_shared<FreshnessState>();
  state->clock = options.clock != nullptr ? options.clock : Clock::Real();
  Check check;
  if (!options.name.empty()) {
    check.name = options.name;
  } else {
    std::string dir = options.directory;
    if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    check.name = internal::SanitizeCheckName(absl::StrCat(
        "file:",
        internal::KeepTail(absl::StrCat(dir, "/", options.pattern), 120)));
  }
  check.options = options.check;
  state->options = std::move(options);
  check.function = [state](const CheckContext&) {
    return RunFreshness(*state);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace checks
}  // namespace vigil
