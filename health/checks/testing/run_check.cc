#include "health/checks/testing/run_check.h"

namespace vigil {
namespace checks {
namespace testing {

CheckResult RunCheckOnce(const Check& check, Clock* clock) {
  if (clock == nullptr) clock = Clock::Real();
  CheckContext ctx;
  ctx.name = check.name;
  ctx.start = clock->Now();
  ctx.deadline = ctx.start + check.options.timeout;
  return check.function(ctx);
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
