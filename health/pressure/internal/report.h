// Shared pieces of a detector's report: which signals it uses and which are
// unavailable (and why), and human-readable numbers.

#ifndef VIGIL_HEALTH_PRESSURE_INTERNAL_REPORT_H_
#define VIGIL_HEALTH_PRESSURE_INTERNAL_REPORT_H_

#include <array>
#include <initializer_list>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/check.h"
#include "health/pressure/internal/file.h"

namespace vigil {
namespace pressure {
namespace internal {

// The signals of one detector and, per sample, whether each could be read.
// Allocation-free after the Add() calls made at creation.
class SignalSet {
 public:
  static constexpr int kMaxSignals = 12;

  // Declares a signal (name must be a string literal). Returns its index.
  int Add(const char* name);

  // The signal was read on this sample.
  void Ok(int i);
  // Reading `file` failed (its path and errno are reported).
  void Failed(int i, const KeptOpenFile& file);
  void Failed(int i, const std::string* path, int error);
  // Unavailable for a reason that is not an I/O error (literal).
  void Unavailable(int i, const char* why);
  // Meaningless here (e.g. throttling without a CPU quota): neither used nor
  // unavailable; listed under "not_applicable".
  void NotApplicable(int i, const char* why);

  bool ok(int i) const { return signals_[i].state == State::kOk; }
  bool any_ok() const;

  // Adds "signals" (comma-separated names read on the latest sample),
  // "unavailable" ("name: why; ...") and "not_applicable" when non-empty.
  void AddDetails(std::map<std::string, std::string>* details) const;
  // "psi: /proc/pressure/memory: No such file or directory; ..." or "".
  std::string UnavailableText() const;

 private:
  enum class State { kUnknown, kOk, kFailed, kUnavailable, kNotApplicable };
  struct Signal {
    const char* name = "";
    State state = State::kUnknown;
    const std::string* path = nullptr;
    int error = 0;
    const char* why = "";
  };
  std::array<Signal, kMaxSignals> signals_;
  int size_ = 0;
};

// Check options every pressure detector starts from: `interval`, a 2 s
// timeout, failure_threshold 1 (the detector's own hysteresis already
// damps flapping), readiness group, kSelf, `critical`.
CheckOptions PressureCheckOptions(absl::Duration interval, bool critical);

// The first error of `checks` (each an options field's Validate()), or OK:
// a detector's Options::Validate() in one statement.
inline absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// "512 B", "1.5 KiB", "83.2 MiB", "24.0 GiB".
std::string FormatBytes(double bytes);
// 0.8671 → "86.7%".
std::string FormatRatio(double ratio);
// "850ms", "4.1s", "12m30s", "3h05m", "2d04h".
std::string FormatDuration(absl::Duration d);
// Fixed notation with up to `decimals` decimals, trailing zeros removed.
std::string FormatNumber(double v, int decimals = 2);

}  // namespace internal
}  // namespace pressure
}  // namespace vigil

#endif  // VIGIL_HEALTH_PRESSURE_INTERNAL_REPORT_H_
