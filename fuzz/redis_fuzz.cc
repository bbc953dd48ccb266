// Fuzzes the Redis check's RESP reply handling (health/checks/redis.h)
// end to end: a loopback server (127.0.0.1, port 0) started once per
// process answers each connection with the input's bytes and closes; the
// check's function runs against it. The first byte picks AUTH (password
// only, username and password) or none.
//
// Properties: HEALTHY exactly when the replies are "+OK\r\n" (for AUTH)
// then "+PONG\r\n"; any other answer is UNHEALTHY with a message and a
// reason; a configured password never appears in the result, whatever the
// server echoes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fuzz/fuzz_check.h"
#include "health/checks/redis.h"

namespace {

constexpr absl::string_view kPassword = "pw-3f9a1c";

// One reply per connection, set before each run.
class ReplyServer {
 public:
  ReplyServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_CHECK(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    FUZZ_CHECK(listen(fd_, 16) == 0);
    socklen_t len = sizeof(a);
    FUZZ_CHECK(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    // Lives as long as the process (a fuzzer never returns from main).
    std::thread([this] { Serve(); }).detach();
  }

  int port() const { return port_; }
  void set_reply(std::string reply) {
    std::lock_guard<std::mutex> lock(mu_);
    reply_ = std::move(reply);
  }

 private:
  void Serve() {
    while (true) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string reply;
      {
        std::lock_guard<std::mutex> lock(mu_);
        reply = reply_;
      }
      // Read the request (bounded), answer, close.
      char buf[512];
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 200) > 0) (void)!read(c, buf, sizeof(buf));
      size_t off = 0;
      while (off < reply.size()) {
        const ssize_t n =
            send(c, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::string reply_;
};

ReplyServer& Server() {
  static ReplyServer* s = new ReplyServer;
  return *s;
}

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
  ReplyServer& server = Server();
  server.set_reply(reply);

  vigil::checks::RedisCheckOptions o;
  o.address = absl::StrCat("127.0.0.1:", server.port());
  if (auth >= 1) o.password = std::string(kPassword);
  if (auth == 2) o.username = "probe";
  o.check.timeout = absl::Seconds(2);
  absl::StatusOr<vigil::Check> check = vigil::checks::RedisCheck(o);
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
