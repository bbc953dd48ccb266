// HeartbeatSlot: the cache line a heartbeat shares between the thread that
// beats it and the watchdog's monitor. Internal to watchdog/: it is in a
// header only because Heartbeat::Beat() is inline (one relaxed store).

#ifndef VIGIL_WATCHDOG_INTERNAL_HEARTBEAT_SLOT_H_
#define VIGIL_WATCHDOG_INTERNAL_HEARTBEAT_SLOT_H_

#include <atomic>
#include <cstdint>

namespace vigil {
namespace internal {

// One heartbeat's shared state: the beating thread writes, the monitor
// reads (and clears `touched`). Exactly one cache line, so beats on two
// heartbeats never contend. Every field is an atomic: safe from any thread.
struct alignas(64) HeartbeatSlot {
  // Set to 1 by Beat(); the monitor exchanges it back to 0 each tick.
  std::atomic<uint32_t> touched{0};
  // Pause()/Resume() depth; > 0 means "not watched".
  std::atomic<uint32_t> pause_depth{0};
  // The WatchScope in force: (sequence << 32) | timeout in ms; 0 if none.
  std::atomic<uint64_t> scope{0};
  // The label of the WatchScope in force (a string with static storage, or
  // one that outlives the scope); nullptr if none or unlabelled.
  std::atomic<const char*> scope_label{nullptr};
  // Sequence source for WatchScope words.
  std::atomic<uint32_t> scope_seq{0};
};
static_assert(sizeof(HeartbeatSlot) == 64, "one cache line per heartbeat");

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_WATCHDOG_INTERNAL_HEARTBEAT_SLOT_H_
