// Internal networking for the ready-made checks: address parsing, failure
// classification, deadline-bounded name resolution and TCP connections.
//
// Not part of vigil's public API. Everything here is bounded by an
// `IoDeadline`; nothing blocks past it except the resolver's helper thread,
// which the calling check never waits on past its deadline.

#ifndef VIGIL_HEALTH_CHECKS_INTERNAL_NET_H_
#define VIGIL_HEALTH_CHECKS_INTERNAL_NET_H_

#include <netdb.h>
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/checks/common.h"
#include "health/clock.h"
#include "health/internal/errno_text.h"
#include "health/sync.h"

namespace vigil {
namespace checks {
namespace internal {

// ---------------------------------------------------------------------------
// Failure kinds. Network helpers return absl::Status errors carrying one of
// these as a payload, so a check several layers up can tell "refused" from
// "timed out" without parsing messages.
enum class FailureKind {
  kOther,
  kResolve,       // The name did not resolve (NXDOMAIN, no address).
  kResolveAgain,  // Temporary resolver failure (EAI_AGAIN).
  kRefused,       // ECONNREFUSED.
  kUnreachable,   // ENETUNREACH, EHOSTUNREACH.
  kTimedOut,      // The deadline passed.
  kReset,         // ECONNRESET / EPIPE / early EOF.
  kTlsHandshake,  // TLS handshake failed for a reason other than the chain.
  kTlsVerify,     // The server's chain or name did not verify.
  kProtocol,      // The peer answered something unexpected.
};

// "other", "resolve", "resolve_again", "refused", "unreachable",
// "timed_out", "reset", "tls_handshake", "tls_verify", "protocol".
absl::string_view FailureKindName(FailureKind kind);

// Returns `status` with `kind` attached (no-op for OK).
absl::Status WithKind(absl::Status status, FailureKind kind);
// The kind attached by WithKind, or kOther.
FailureKind KindOf(const absl::Status& status);

// ---------------------------------------------------------------------------
// Deadlines: a point on a Clock by which I/O must end.
class IoDeadline {
 public:
  IoDeadline(Clock* clock, absl::Time deadline)
      : clock_(clock), deadline_(deadline) {}

  // Builds the I/O deadline of one check run: `ctx.deadline` (or, when the
  // context carries none: the Unix epoch of a default-constructed context,
  // or InfiniteFuture, now + `fallback`) less a margin of 10% (at most
  // 100ms) so the check reports its own "timed out" before the registry
  // declares the run stuck.
  static IoDeadline ForRun(Clock* clock, absl::Time start, absl::Time deadline,
                           absl::Duration fallback);

  Clock* clock() const { return clock_; }
  absl::Time deadline() const { return deadline_; }
  absl::Duration Remaining() const;
  bool Expired() const { return Remaining() <= absl::ZeroDuration(); }
  // Remaining time in whole milliseconds for poll(2), rounded up, >= 0.
  int RemainingMs() const;
  // The total budget this deadline started with (for messages).
  absl::Duration budget() const { return budget_; }
  void set_budget(absl::Duration d) { budget_ = d; }

 private:
  Clock* clock_;
  absl::Time deadline_;
  absl::Duration budget_ = absl::ZeroDuration();
};

// ---------------------------------------------------------------------------
// Hosts and ports.

struct HostPort {
  std::string host;  // Without brackets.
  uint16_t port = 0;
};

// True if `host` is an IPv4 or IPv6 literal (no brackets).
bool IsIpLiteral(absl::string_view host);
bool IsIpv6Literal(absl::string_view host);

// OK for a DNS name (RFC 1123 labels, underscores tolerated), an IPv4
// literal or an IPv6 literal (without brackets). Else InvalidArgument
// naming `field`.
absl::Status ValidateHost(absl::string_view host, absl::string_view field);

// Parses a port number 1..65535. InvalidArgument naming `field` otherwise.
absl::StatusOr<uint16_t> ParsePort(absl::string_view text,
                                   absl::string_view field);

// Parses "host:port", "[v6]:port" or "v4:port". InvalidArgument naming
// `field` otherwise.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text,
                                       absl::string_view field);

// "host:port", with brackets around IPv6 literals.
std::string FormatHostPort(absl::string_view host, uint16_t port);

// ---------------------------------------------------------------------------
// Addresses and resolution.

struct Address {
  sockaddr_storage storage = {};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  // "127.0.0.1:80", "[::1]:80".
  std::string ToString() const;
  // "127.0.0.1", "::1".
  std::string IpString() const;
};

// Converts AddressFamily to AF_UNSPEC / AF_INET / AF_INET6.
int ToAf(AddressFamily family);

// The lookup a Resolver performs. Returns a getaddrinfo error code (0 on
// success) and fills `out`. The default calls getaddrinfo(3).
using LookupFunction = std::function<int(const std::string& host, int family,
                                         std::vector<Address>* out)>;

// Resolves names on a helper thread so that a caller can give up at its
// deadline: getaddrinfo(3) cannot be cancelled, so a lookup that outlives
// its caller finishes on the helper thread and its result is dropped.
// IP literals are converted inline, without the thread.
//
// The helper thread starts on the first name lookup. The destructor waits
// at most kShutdownTimeout (1 s) for a lookup in progress; a helper still
// inside getaddrinfo then is detached and exits when the lookup returns
// (the queue, lock and lookup function it uses are shared with it and
// outlive the Resolver).
// At most kMaxQueued lookups wait at once; more fail at once with
// "resolver busy", so a hung DNS server cannot pile up work.
//
// Thread-safe.
class Resolver {
 public:
  static constexpr int kMaxQueued = 4;
  static constexpr absl::Duration kShutdownTimeout = absl::Seconds(1);

  // `lookup` nullptr = getaddrinfo.
  explicit Resolver(LookupFunction lookup = nullptr);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Resolves `host` (name or literal) to addresses with `port`. Errors carry
  // a FailureKind: kResolve (not found / no address), kResolveAgain
  // (temporary failure), kTimedOut (deadline), kOther.
  absl::StatusOr<std::vector<Address>> Resolve(const std::string& host,
                                               uint16_t port, int family,
                                               const IoDeadline& deadline);

 private:
  struct Request;
  // Everything the helper thread touches, owned jointly with it.
  struct Shared;
  static void Loop(std::shared_ptr<Shared> shared);

  const std::shared_ptr<Shared> shared_;
  std::thread thread_;  // Started under shared_->mu.
};

// ---------------------------------------------------------------------------
// Sockets.

// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// strerror(3) text of `err` ("Connection refused"): vigil's one helper.
using ::vigil::internal::ErrnoText;

// Classifies a connect(2) errno: kRefused, kUnreachable, kTimedOut, kReset
// or kOther, with a short message ("connection refused").
FailureKind ClassifyConnectErrno(int err);

// Connects a non-blocking TCP socket to `address` by `deadline`.
absl::StatusOr<Fd> ConnectTcp(const Address& address,
                              const IoDeadline& deadline);

// Tries `addresses` in order until one connects. The error names the last
// attempt's failure; when some attempts were refused and others timed out,
// the kind is the one of the most informative attempt (timeout wins over
// refused, since some address was silent).
struct Connected {
  Fd fd;
  Address address;
};
absl::StatusOr<Connected> ConnectAny(const std::vector<Address>& addresses,
                                     const IoDeadline& deadline);

// Resolves `host` with `resolver` and connects to the first address that
// answers, all by `deadline`.
absl::StatusOr<Connected> Dial(Resolver& resolver, const std::string& host,
                               uint16_t port, int family,
                               const IoDeadline& deadline);

// Waits for `events` (POLLIN/POLLOUT) on `fd` by `deadline`. OK when ready;
// DeadlineExceeded (kTimedOut) otherwise.
absl::Status WaitFd(int fd, short events, const IoDeadline& deadline,
                    absl::string_view what);

// Writes all of `data` (MSG_NOSIGNAL). Errors carry kReset / kTimedOut.
absl::Status SendAll(int fd, absl::string_view data,
                     const IoDeadline& deadline);
// Reads at most `n` bytes; 0 on orderly EOF.
absl::StatusOr<size_t> RecvSome(int fd, char* buf, size_t n,
                                const IoDeadline& deadline);

// "timed out after 1.5s <what>".
absl::Status TimedOut(const IoDeadline& deadline, absl::string_view what);

}  // namespace internal
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_INTERNAL_NET_H_
