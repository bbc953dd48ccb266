#include "health/testing/fake_clock.h"

namespace vigil {
namespace testing {

FakeClock::FakeClock(absl::Time start) : now_(start) {}

absl::Time FakeClock::Now() const {
  MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  MutexLock lock(&mu_);
  if (d > absl::ZeroDuration()) now_ += d;
}

void FakeClock::SetNow(absl::Time t) {
  MutexLock lock(&mu_);
  if (t > now_) now_ = t;
}

bool FakeClock::AwaitWithDeadline(Mutex* mu, const std::function<bool()>& cond,
                                  absl::Time deadline) {
  while (!cond()) {
    if (Now() >= deadline) return false;
    mu->AwaitWithTimeout(cond, absl::Milliseconds(1));
  }
  return true;
}

}  // namespace testing
}  // namespace vigil
