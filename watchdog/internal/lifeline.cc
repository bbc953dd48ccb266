#include "watchdog/internal/lifeline.h"

#include <cstring>

namespace vigil {
namespace internal {
namespace {

std::atomic<LifelineBlock*> g_lifeline{nullptr};

}  // namespace

template <size_t N>
void SharedText<N>::Write(absl::string_view text) {
  const size_t n = text.size() < N - 1 ? text.size() : N - 1;
  const uint32_t s = seq.load(std::memory_order_relaxed);
  seq.store(s + 1, std::memory_order_relaxed);  // Odd: write in progress.
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(bytes, text.data(), n);
  bytes[n] = '\0';
  length = static_cast<uint32_t>(n);
  seq.store(s + 2, std::memory_order_release);
}

template <size_t N>
std::string SharedText<N>::Read() const {
  std::string out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint32_t before = seq.load(std::memory_order_acquire);
    if (before & 1) continue;
    const uint32_t n = length < N ? length : N - 1;
    out.assign(bytes, n);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq.load(std::memory_order_relaxed) == before) break;
  }
  return out;
}

template struct SharedText<kLifelineNameBytes>;
template struct SharedText<kLifelineStackBytes>;
template struct SharedText<512>;

void LifelineBlock::ResetForChild() {
  progress.store(0, std::memory_order_relaxed);
  armed.store(0, std::memory_order_relaxed);
  hung.store(0, std::memory_order_relaxed);
  hung_silent_nanos.store(0, std::memory_order_relaxed);
  hung_heartbeat.Write("");
  stack.Write("");
  ready.store(0, std::memory_order_relaxed);
  stopping.store(0, std::memory_order_relaxed);
  liveness.store(0, std::memory_order_relaxed);
  status.Write("");
}

LifelineBlock* AttachedLifeline() {
  return g_lifeline.load(std::memory_order_acquire);
}

void AttachLifeline(LifelineBlock* block) {
  g_lifeline.store(block, std::memory_order_release);
}

}  // namespace internal
}  // namespace vigil
