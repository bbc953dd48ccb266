// Fuzzes the Redis check's RESP reply handling (health/checks/redis.h)
// end to end: the check's function runs over an in-memory connection
// (internal::RedisCheckWithConnect) that answers with the input's bytes,
// then end of stream. (The socket path is tested against a real
// redis-server in health/checks:redis_test.) The first byte picks AUTH
// (password only, username and password) or none.
//
// Properties: HEALTHY exactly when the replies are "+OK\r\n" (for AUTH)
// then "+PONG\r\n"; any other answer is UNHEALTHY with a message and a
// reason; a configured password never appears in the result, whatever the
// server echoes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fuzz/fuzz_check.h"
#include "health/checks/internal/redis_connect.h"
#include "health/checks/redis.h"

namespace {

namespace internal = ::vigil::checks::internal;

constexpr absl::string_view kPassword = "pw-3f9a1c";

// A server that reads the request, answers with `reply` and closes.
class ReplyStream final : public internal::Stream {
 public:
  explicit ReplyStream(absl::string_view reply) : reply_(reply) {}
  absl::Status WriteAll(absl::string_view,
                        const internal::IoDeadline&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> ReadSome(char* buf, size_t n,
                                  const internal::IoDeadline&) override {
    const size_t k = std::min(n, reply_.size());
    std::memcpy(buf, reply_.data(), k);
    reply_.remove_prefix(k);
    return k;
  }

 private:
  absl::string_view reply_;
};

bool Mentions(const vigil::CheckResult& r, absl::string_view s) {
  if (absl::StrContains(r.message, s)) return true;
  for (const auto& [k, v] : r.details) {
    if (absl::StrContains(k, s) || absl::StrContains(v, s)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 8192) return 0;
  const int auth = data[0] % 3;  // 0 none, 1 password, 2 user + password
  const std::string reply(reinterpret_cast<const char*>(data) + 1, size - 1);
  vigil::checks::RedisCheckOptions o;
  o.address = "127.0.0.1:6379";  // Validated, never dialled.
  if (auth >= 1) o.password = std::string(kPassword);
  if (auth == 2) o.username = "probe";
  o.check.timeout = absl::Seconds(2);
  absl::StatusOr<vigil::Check> check = internal::RedisCheckWithConnect(
      o,
      [&reply](const internal::IoDeadline&)
          -> absl::StatusOr<internal::RedisConnection> {
        internal::RedisConnection c;
        c.stream = std::make_unique<ReplyStream>(reply);
        c.address = "127.0.0.1:6379";
        return c;
      });
  FUZZ_CHECK(check.ok());
  vigil::CheckContext ctx;
  ctx.name = check->name;
  ctx.start = absl::Now();
  ctx.deadline = ctx.start + absl::Seconds(2);
  const vigil::CheckResult r = check->function(ctx);

  const std::string want =
      absl::StrCat(auth >= 1 ? "+OK\r\n" : "", "+PONG\r\n");
  if (absl::StartsWith(reply, want)) {
    FUZZ_CHECK(r.status == vigil::Status::kHealthy);
  } else {
    FUZZ_CHECK(r.status == vigil::Status::kUnhealthy);
    FUZZ_CHECK(!r.message.empty());
  }
  if (auth >= 1) FUZZ_CHECK(!Mentions(r, kPassword));
  return 0;
}
