// The lifeline: a page of shared memory between the supervisor (parent) and
// the process it supervises (child).
//
// The supervisor maps it (MAP_SHARED | MAP_ANONYMOUS) before its first
// fork, so every child inherits the same page. The child's watchdog and
// systemd notifier publish into it; the parent reads it without any help
// from the child's threads, so a child that is deadlocked, stuck in malloc
// or stopped is still seen for what it is: silent. In the other direction
// the parent leaves the record of why the previous child died (the
// incident) for the next one.
//
// Only plain data and lock-free atomics live here (they work across
// processes). Text fields are seqlocked: one writer per field, readers retry
// until they see a stable copy.

#ifndef VIGIL_WATCHDOG_INTERNAL_LIFELINE_H_
#define VIGIL_WATCHDOG_INTERNAL_LIFELINE_H_

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace vigil {
namespace internal {

// Text of at most N-1 bytes in shared memory. Write() is for one writer at a
// time; Read() may run concurrently in another process and retries until it
// sees a consistent copy (bounded; returns the last attempt otherwise).
template <size_t N>
struct SharedText {
  std::atomic<uint32_t> seq{0};
  uint32_t length = 0;
  char bytes[N] = {};

  void Write(absl::string_view text);
  std::string Read() const;
  // Changes with every Write(); lets a reader notice new text cheaply.
  uint32_t version() const { return seq.load(std::memory_order_acquire); }
};

// Why a child died, as recorded by the parent.
enum class IncidentCause : int32_t {
  kNone = 0,
  kCrashed = 1,       // Killed by a signal it did not ask for.
  kExited = 2,        // Exited with a non-zero status on its own.
  kHung = 3,          // A heartbeat passed its kill threshold.
  kUnresponsive = 4,  // The lifeline went silent (whole process stuck).
};

inline constexpr size_t kLifelineStackBytes = 16384;
// Every thread's stack, captured by the supervisor from outside.
inline constexpr size_t kLifelineExternalStackBytes = 32768;
inline constexpr size_t kLifelineNameBytes = 128;

// Written by the parent between a child's death and the next fork; read by
// the next child. Never concurrently, so plain fields suffice.
struct IncidentRecord {
  IncidentCause cause = IncidentCause::kNone;
  int32_t pid = 0;
  int32_t signal = 0;     // Terminating signal, if any.
  int32_t exit_code = 0;  // Exit status, if it exited.
  int64_t time_unix_nanos = 0;
  int64_t uptime_nanos = 0;
  int64_t silent_nanos = 0;  // How long it had been silent (hangs).
  char heartbeat[kLifelineNameBytes] = {};
  char detail[512] = {};
  char stack[kLifelineStackBytes] = {};
  // The supervisor's own capture of every thread (hangs), or why it failed.
  char external_stacks[kLifelineExternalStackBytes] = {};
};

enum class LifelineLiveness : uint32_t {
  kUnknown = 0,  // No notifier publishes liveness.
  kPassing = 1,
  kFailing = 2,
};

struct LifelineBlock {
  static constexpr uint64_t kMagic = 0x6c6967696c2d6c31;  // "vigil-l1"
  uint64_t magic = kMagic;

  // --- child -> parent ---
  // Advanced by the child's watchdog monitor on every tick. The parent
  // starts judging silence only once `armed` is set (a child without a
  // watchdog is supervised for crashes only).
  std::atomic<uint64_t> progress{0};
  std::atomic<uint32_t> armed{0};
  // Set while some heartbeat is past its kill threshold (and the kill was
  // not suppressed), with its name and silence.
  std::atomic<uint32_t> hung{0};
  std::atomic<int64_t> hung_silent_nanos{0};
  SharedText<kLifelineNameBytes> hung_heartbeat;
  // The latest stack the child's watchdog captured (with a header line).
  SharedText<kLifelineStackBytes> stack;
  // systemd notifier relay: READY, STOPPING, liveness and STATUS text.
  std::atomic<uint32_t> ready{0};
  std::atomic<uint32_t> stopping{0};
  std::atomic<uint32_t> liveness{0};  // LifelineLiveness
  SharedText<512> status;

  // --- parent -> child (written before fork) ---
  uint32_t restart_count = 0;
  uint32_t has_incident = 0;
  IncidentRecord incident;

  // Clears the child -> parent half for a new child.
  void ResetForChild();
};

// The lifeline of this process if it is a supervised child, else nullptr.
LifelineBlock* AttachedLifeline();
// Called in the child right after fork (and by tests).
void AttachLifeline(LifelineBlock* block);

// Copies `text` into a fixed char array, truncating and NUL-terminating.
template <size_t N>
void CopyText(char (&dst)[N], absl::string_view text) {
  const size_t n = text.size() < N - 1 ? text.size() : N - 1;
  for (size_t i = 0; i < n; ++i) dst[i] = text[i];
  dst[n] = '\0';
}

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_INTERNAL_LIFELINE_H_
