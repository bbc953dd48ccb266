// RedisCheck: does a Redis server answer PING, in time?
//
// Speaks RESP over TCP: optionally AUTH (password, or username + password
// for Redis 6+ ACLs), then PING, pipelined on one fresh connection. It tells
// apart (details["reason"]):
//   "refused"      connection refused (no server on that port)
//   "timed_out"    no connection or no reply before the deadline
//   "max_clients"  "max number of clients reached" (the server's maxclients
//                  limit: S5, out of connections)
//   "auth"         authentication required / failed (WRONGPASS, NOAUTH, a
//                  password sent to a server that has none)
//   "loading"      the server is loading its dataset
//   "error"        any other error reply; "reset", "protocol" otherwise
// HEALTHY: "PONG in 0.4ms", latency as the observed value (seconds).
// details: "address", "latency_ms", and "reply" (the server's reply, for
// errors).
//
// The password never appears in names, messages or details (replies are
// scrubbed of it, too).
//
//   absl::StatusOr<vigil::Check> c = vigil::checks::RedisCheck(
//       {.address = "127.0.0.1:6379", .password = secret});

#ifndef VIGIL_HEALTH_CHECKS_REDIS_H_
#define VIGIL_HEALTH_CHECKS_REDIS_H_

#include <string>

#include "absl/status/statusor.h"
#include "health/check.h"
#include "health/checks/common.h"
#include "health/clock.h"

namespace vigil {
namespace checks {

struct RedisCheckOptions {
  // Required. "host:port".
  std::string address = {};
  // AUTH credentials. A username needs a password. Secret.
  std::string username = {};
  std::string password = {};
  // The check's name; default "redis:<address>".
  std::string name = {};
  AddressFamily family = AddressFamily::kAny;
  CheckOptions check = DependencyCheckOptions();
  // Time source for deadlines and latency. Not owned; nullptr = real.
  Clock* clock = nullptr;
};

// Builds the check. InvalidArgument naming "address", "username" (without
// a password), or a CheckOptions field.
absl::StatusOr<Check> RedisCheck(RedisCheckOptions options);

}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_REDIS_H_
