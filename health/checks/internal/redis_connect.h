// Internal: RedisCheck with an injected connection, so that the fuzzer
// feeds replies from memory instead of a loopback server.

#ifndef VIGIL_HEALTH_CHECKS_INTERNAL_REDIS_CONNECT_H_
#define VIGIL_HEALTH_CHECKS_INTERNAL_REDIS_CONNECT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/stream.h"
#include "health/checks/redis.h"

namespace vigil {
namespace checks {
namespace internal {

// A connected stream to the server and the address it reached (for the
// result's "address" detail; may be empty).
struct RedisConnection {
  std::unique_ptr<Stream> stream;
  std::string address;
};

// Connects once per run, bounded by the deadline; an error becomes the
// run's failure result (as a failed Dial would).
using RedisConnect =
    std::function<absl::StatusOr<RedisConnection>(const IoDeadline&)>;

// RedisCheck(options) that connects with `connect` instead of dialling
// options.address (which is still validated and shown as "target").
// `connect` may be called from several threads at once if the check is.
absl::StatusOr<Check> RedisCheckWithConnect(RedisCheckOptions options,
                                            RedisConnect connect);

}  // namespace internal
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_INTERNAL_REDIS_CONNECT_H_
