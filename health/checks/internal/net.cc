#include "health/checks/internal/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace vigil {
namespace checks {
namespace internal {
namespace {

constexpr absl::string_view kKindPayload = "vigil.checks/failure_kind";

bool IsLabelChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_';
}

int DefaultLookup(const std::string& host, int family,
                  std::vector<Address>* out) {
  addrinfo hints = {};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) return rc;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    Address a;
    memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    const std::string ip = a.IpString();
    const bool dup =
        std::any_of(out->begin(), out->end(), [&](const Address& b) {
          return b.family() == a.family() && b.IpString() == ip;
        });
    if (!dup) out->push_back(a);
  }
  freeaddrinfo(res);
  return 0;
}

void SetPort(Address* a, uint16_t port) {
  if (a->family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&a->storage)->sin_port = htons(port);
  } else if (a->family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&a->storage)->sin6_port = htons(port);
  }
}

absl::Status ResolveError(int rc, int err, const std::string& host) {
  switch (rc) {
    case EAI_NONAME:
      return WithKind(
          absl::NotFoundError(absl::StrCat("name not found: ", host)),
          FailureKind::kResolve);
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
    case EAI_ADDRFAMILY:
      return WithKind(absl::NotFoundError(absl::StrCat(
                          "no address of the requested family for ", host)),
                      FailureKind::kResolve);
    case EAI_AGAIN:
      return WithKind(absl::UnavailableError(absl::StrCat(
                          "temporary failure resolving ", host,
                          " (DNS server unreachable or not answering)")),
                      FailureKind::kResolveAgain);
    case EAI_FAIL:
      return WithKind(absl::UnavailableError(absl::StrCat(
                          "DNS lookup of ", host, " failed permanently")),
                      FailureKind::kResolve);
    case EAI_SYSTEM:
      return WithKind(absl::UnavailableError(absl::StrCat(
                          "resolving ", host, ": ", ErrnoText(err))),
                      FailureKind::kOther);
    default:
      return WithKind(absl::UnavailableError(absl::StrCat(
                          "resolving ", host, ": ", gai_strerror(rc))),
                      FailureKind::kOther);
  }
}

}  // namespace

absl::string_view FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kOther:
      return "other";
    case FailureKind::kResolve:
      return "resolve";
    case FailureKind::kResolveAgain:
      return "resolve_again";
    case FailureKind::kRefused:
      return "refused";
    case FailureKind::kUnreachable:
      return "unreachable";
    case FailureKind::kTimedOut:
      return "timed_out";
    case FailureKind::kReset:
      return "reset";
    case FailureKind::kTlsHandshake:
      return "tls_handshake";
    case FailureKind::kTlsVerify:
      return "tls_verify";
    case FailureKind::kProtocol:
      return "protocol";
  }
  return "other";
}

absl::Status WithKind(absl::Status status, FailureKind kind) {
  if (status.ok()) return status;
  status.SetPayload(kKindPayload, absl::Cord(FailureKindName(kind)));
  return status;
}

FailureKind KindOf(const absl::Status& status) {
  auto p = status.GetPayload(kKindPayload);
  if (!p.has_value()) return FailureKind::kOther;
  const std::string name(*p);
  for (FailureKind k :
       {FailureKind::kResolve, FailureKind::kResolveAgain,
        FailureKind::kRefused, FailureKind::kUnreachable,
        FailureKind::kTimedOut, FailureKind::kReset, FailureKind::kTlsHandshake,
        FailureKind::kTlsVerify, FailureKind::kProtocol}) {
    if (FailureKindName(k) == name) return k;
  }
  return FailureKind::kOther;
}

// --- IoDeadline -------------------------------------------------------------

IoDeadline IoDeadline::ForRun(Clock* clock, absl::Time start,
                              absl::Time deadline, absl::Duration fallback) {
  if (clock == nullptr) clock = Clock::Real();
  const absl::Time now = clock->Now();
  absl::Duration total;
  (void)start;
  // A default-constructed CheckContext (deadline == the Unix epoch) or an
  // infinite one carries no usable deadline.
  if (deadline != absl::UnixEpoch() && deadline != absl::InfiniteFuture()) {
    total = deadline - now;
  } else {
    total = fallback;
  }
  if (total < absl::ZeroDuration()) total = absl::ZeroDuration();
  const absl::Duration margin = std::min(total / 10, absl::Milliseconds(100));
  const absl::Duration budget = total - margin;
  IoDeadline d(clock, now + budget);
  d.set_budget(budget);
  return d;
}

absl::Duration IoDeadline::Remaining() const {
  return deadline_ - clock_->Now();
}

int IoDeadline::RemainingMs() const {
  const absl::Duration r = Remaining();
  if (r <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(r + absl::Milliseconds(1) -
                                               absl::Nanoseconds(1));
  return static_cast<int>(std::min<int64_t>(ms, 24 * 3600 * 1000));
}

absl::Status TimedOut(const IoDeadline& deadline, absl::string_view what) {
  return WithKind(absl::DeadlineExceededError(absl::StrCat(
                      "timed out after ",
                      absl::FormatDuration(
                          absl::Ceil(deadline.budget(), absl::Milliseconds(1))),
                      what.empty() ? "" : " ", what)),
                  FailureKind::kTimedOut);
}

// --- Hosts and ports
// ----------------------------------------------------------

bool IsIpv6Literal(absl::string_view host) {
  in6_addr a6;
  return inet_pton(AF_INET6, std::string(host).c_str(), &a6) == 1;
}

bool IsIpLiteral(absl::string_view host) {
  in_addr a4;
  return inet_pton(AF_INET, std::string(host).c_str(), &a4) == 1 ||
         IsIpv6Literal(host);
}

absl::Status ValidateHost(absl::string_view host, absl::string_view field) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": invalid host \"", host, "\": ", why));
  };
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": host must not be empty"));
  }
  if (host.find(':') != absl::string_view::npos) {
    if (IsIpv6Literal(host)) return absl::OkStatus();
    return bad("not a valid IPv6 address");
  }
  in_addr a4;
  if (inet_pton(AF_INET, std::string(host).c_str(), &a4) == 1) {
    return absl::OkStatus();
  }
  absl::string_view name = host;
  if (absl::EndsWith(name, ".")) name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return bad("bad length");
  std::vector<absl::string_view> labels = absl::StrSplit(name, '.');
  for (absl::string_view label : labels) {
    if (label.empty()) return bad("empty label");
    if (label.size() > 63) return bad("label longer than 63 characters");
    if (!std::all_of(label.begin(), label.end(), IsLabelChar)) {
      return bad("only letters, digits, '-', '_' and '.' are allowed");
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad("a label may not start or end with '-'");
    }
  }
  const absl::string_view last = labels.back();
  if (std::all_of(last.begin(), last.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      })) {
    return bad("not a valid IPv4 address");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint16_t> ParsePort(absl::string_view text,
                                   absl::string_view field) {
  int port = 0;
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) {
                     return absl::ascii_isdigit(static_cast<unsigned char>(c));
                   }) ||
      !absl::SimpleAtoi(text, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": invalid port \"", text, "\": must be 1..65535"));
  }
  return static_cast<uint16_t>(port);
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text,
                                       absl::string_view field) {
  HostPort hp;
  absl::string_view port_text;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", text, "\": missing ']' after IPv6 address"));
    }
    hp.host = std::string(text.substr(1, close - 1));
    if (!IsIpv6Literal(hp.host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", text, "\": not a valid IPv6 address in brackets"));
    }
    absl::string_view rest = text.substr(close + 1);
    if (!absl::StartsWith(rest, ":")) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", text, "\": expected [address]:port"));
    }
    port_text = rest.substr(1);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", text, "\": expected host:port"));
    }
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", text,
                       "\": put IPv6 addresses in brackets, e.g. [::1]:6379"));
    }
    if (absl::Status s = ValidateHost(hp.host, field); !s.ok()) return s;
    port_text = text.substr(colon + 1);
  }
  absl::StatusOr<uint16_t> port = ParsePort(port_text, field);
  if (!port.ok()) return port.status();
  hp.port = *port;
  return hp;
}

std::string FormatHostPort(absl::string_view host, uint16_t port) {
  if (host.find(':') != absl::string_view::npos) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

// --- Addresses
// ----------------------------------------------------------------

std::string Address::IpString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET,
              &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf,
              sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6,
              &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

std::string Address::ToString() const {
  uint16_t port = 0;
  if (family() == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  } else if (family() == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return FormatHostPort(IpString(), port);
}

int ToAf(AddressFamily family) {
  switch (family) {
    case AddressFamily::kIpv4:
      return AF_INET;
    case AddressFamily::kIpv6:
      return AF_INET6;
    case AddressFamily::kAny:
      return AF_UNSPEC;
  }
  return AF_UNSPEC;
}

// --- Resolver
// -----------------------------------------------------------------

struct Resolver::Request {
  std::string host;
  int family = AF_UNSPEC;
  bool done = false;
  int rc = 0;
  int err = 0;
  std::vector<Address> addresses;
};

struct Resolver::Shared {
  explicit Shared(LookupFunction f) : lookup(std::move(f)) {}
  const LookupFunction lookup;
  Mutex mu;
  std::deque<std::shared_ptr<Request>> queue ABSL_GUARDED_BY(mu);
  std::shared_ptr<Request> current ABSL_GUARDED_BY(mu);
  bool stop ABSL_GUARDED_BY(mu) = false;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool exited ABSL_GUARDED_BY(mu) = false;
};

Resolver::Resolver(LookupFunction lookup)
    : shared_(std::make_shared<Shared>(
          lookup ? std::move(lookup) : LookupFunction(DefaultLookup))) {}

Resolver::~Resolver() {
  bool exited = true;
  {
    // Unlocking wakes the helper (vigil::Mutex notifies waiters on Unlock,
    // not when a waiter starts waiting).
    MutexLock lock(&shared_->mu);
    shared_->stop = true;
  }
  {
    MutexLock lock(&shared_->mu);
    if (shared_->started) {
      Shared* s = shared_.get();
      exited = s->mu.AwaitWithTimeout(
          [s]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->exited; },
          kShutdownTimeout);
    }
  }
  if (!thread_.joinable()) return;
  if (exited) {
    thread_.join();
  } else {
    thread_.detach();  // In getaddrinfo; exits when it returns.
  }
}

void Resolver::Loop(std::shared_ptr<Shared> shared) {
  Shared& s = *shared;
  while (true) {
    std::shared_ptr<Request> req;
    {
      MutexLock lock(&s.mu);
      s.mu.Await([&s]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s.stop || !s.queue.empty();
      });
      if (s.stop) {
        s.exited = true;  // The unlock wakes the destructor.
        return;
      }
      req = s.queue.front();
      s.queue.pop_front();
      s.current = req;
    }
    std::vector<Address> addresses;
    errno = 0;
    const int rc = s.lookup(req->host, req->family, &addresses);
    const int err = errno;
    MutexLock lock(&s.mu);
    req->rc = rc;
    req->err = err;
    req->addresses = std::move(addresses);
    req->done = true;
    s.current = nullptr;
  }
}

absl::StatusOr<std::vector<Address>> Resolver::Resolve(
    const std::string& host, uint16_t port, int family,
    const IoDeadline& deadline) {
  // Literals need no lookup.
  {
    Address a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    bool literal = false;
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      a.length = sizeof(sockaddr_in);
      literal = true;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      a.length = sizeof(sockaddr_in6);
      literal = true;
    }
    if (literal) {
      if (family != AF_UNSPEC && family != a.family()) {
        return WithKind(
            absl::NotFoundError(absl::StrCat(
                "address ", host, " is not of the requested family")),
            FailureKind::kResolve);
      }
      SetPort(&a, port);
      return std::vector<Address>{a};
    }
  }

  Shared& s = *shared_;
  std::shared_ptr<Request> req;
  {
    MutexLock lock(&s.mu);
    if (!s.started) {
      s.started = true;
      thread_ = std::thread(&Resolver::Loop, shared_);
    }
    auto same = [&](const std::shared_ptr<Request>& r) {
      return r != nullptr && !r->done && r->host == host && r->family == family;
    };
    if (same(s.current)) {
      req = s.current;
    } else {
      for (const auto& r : s.queue) {
        if (same(r)) req = r;
      }
    }
    if (req == nullptr) {
      const size_t busy = s.queue.size() + (s.current != nullptr ? 1 : 0);
      if (busy >= static_cast<size_t>(kMaxQueued)) {
        return WithKind(
            absl::UnavailableError(absl::StrCat(
                "resolver busy: ", busy,
                " earlier lookups still running (DNS not answering?)")),
            FailureKind::kTimedOut);
      }
      req = std::make_shared<Request>();
      req->host = host;
      req->family = family;
      s.queue.push_back(req);
    }
  }
  // The lock was released in between: vigil::Mutex wakes waiters (the
  // helper thread) on Unlock, not when a waiter starts waiting.
  {
    MutexLock lock(&s.mu);
    const bool done = deadline.clock()->AwaitWithDeadline(
        &s.mu, [&req]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return req->done; },
        deadline.deadline());
    if (!done) {
      return TimedOut(deadline, absl::StrCat("resolving ", host));
    }
  }
  if (req->rc != 0) return ResolveError(req->rc, req->err, host);
  std::vector<Address> out = req->addresses;
  if (out.empty()) return ResolveError(EAI_NONAME, 0, host);
  for (Address& a : out) SetPort(&a, port);
  return out;
}

// --- Sockets
// ------------------------------------------------------------------

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

FailureKind ClassifyConnectErrno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return FailureKind::kRefused;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return FailureKind::kUnreachable;
    case ETIMEDOUT:
      return FailureKind::kTimedOut;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
      return FailureKind::kReset;
    default:
      return FailureKind::kOther;
  }
}

namespace {

absl::Status ConnectError(int err, const Address& address) {
  const FailureKind kind = ClassifyConnectErrno(err);
  std::string what;
  switch (kind) {
    case FailureKind::kRefused:
      what = "connection refused";
      break;
    case FailureKind::kUnreachable:
      what = err == EHOSTUNREACH ? "host unreachable" : "network unreachable";
      break;
    case FailureKind::kTimedOut:
      what = "connection timed out (kernel)";
      break;
    case FailureKind::kReset:
      what = "connection reset";
      break;
    default:
      what = absl::AsciiStrToLower(ErrnoText(err));
      break;
  }
  return WithKind(
      absl::UnavailableError(absl::StrCat(what, " (", address.ToString(), ")")),
      kind);
}

}  // namespace

absl::Status WaitFd(int fd, short events, const IoDeadline& deadline,
                    absl::string_view what) {
  while (true) {
    pollfd p = {};
    p.fd = fd;
    p.events = events;
    const int rc = poll(&p, 1, deadline.RemainingMs());
    if (rc > 0) return absl::OkStatus();
    if (rc == 0) return TimedOut(deadline, what);
    if (errno != EINTR) {
      return WithKind(
          absl::InternalError(absl::StrCat("poll: ", ErrnoText(errno))),
          FailureKind::kOther);
    }
  }
}

absl::StatusOr<Fd> ConnectTcp(const Address& address,
                              const IoDeadline& deadline) {
  Fd fd(
      socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    const int err = errno;
    if (err == EAFNOSUPPORT) {
      return WithKind(
          absl::UnavailableError(absl::StrCat("address family not supported (",
                                              address.ToString(), ")")),
          FailureKind::kUnreachable);
    }
    return WithKind(
        absl::InternalError(absl::StrCat("socket: ", ErrnoText(err))),
        FailureKind::kOther);
  }
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage),
              address.length) == 0) {
    return fd;
  }
  if (errno != EINPROGRESS && errno != EINTR) {
    return ConnectError(errno, address);
  }
  if (absl::Status s =
          WaitFd(fd.get(), POLLOUT, deadline,
                 absl::StrCat("connecting to ", address.ToString()));
      !s.ok()) {
    return s;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return ConnectError(err, address);
  return fd;
}

absl::StatusOr<Connected> ConnectAny(const std::vector<Address>& addresses,
                                     const IoDeadline& deadline) {
  if (addresses.empty()) {
    return WithKind(absl::NotFoundError("no address to connect to"),
                    FailureKind::kResolve);
  }
  std::vector<std::string> errors;
  FailureKind best = FailureKind::kOther;
  auto rank = [](FailureKind k) {
    switch (k) {
      case FailureKind::kTimedOut:
        return 4;
      case FailureKind::kUnreachable:
        return 3;
      case FailureKind::kRefused:
        return 2;
      case FailureKind::kReset:
        return 1;
      default:
        return 0;
    }
  };
  absl::Status last;
  for (size_t i = 0; i < addresses.size(); ++i) {
    // Later addresses get a share of what is left, so one silent address
    // does not starve the others.
    const size_t left = addresses.size() - i;
    IoDeadline attempt(deadline.clock(),
                       deadline.clock()->Now() + deadline.Remaining() / left);
    attempt.set_budget(left == 1 ? deadline.budget()
                                 : deadline.Remaining() / left);
    absl::StatusOr<Fd> fd = ConnectTcp(addresses[i], attempt);
    if (fd.ok()) return Connected{*std::move(fd), addresses[i]};
    const FailureKind k = KindOf(fd.status());
    if (errors.empty() || rank(k) > rank(best)) best = k;
    errors.emplace_back(fd.status().message());
    last = fd.status();
  }
  if (errors.size() == 1) return last;
  absl::Status s(last.code(), absl::StrJoin(errors, "; "));
  if (best == FailureKind::kTimedOut) {
    s = absl::DeadlineExceededError(s.message());
  }
  return WithKind(s, best);
}

absl::StatusOr<Connected> Dial(Resolver& resolver, const std::string& host,
                               uint16_t port, int family,
                               const IoDeadline& deadline) {
  absl::StatusOr<std::vector<Address>> addresses =
      resolver.Resolve(host, port, family, deadline);
  if (!addresses.ok()) return addresses.status();
  return ConnectAny(*addresses, deadline);
}

absl::Status SendAll(int fd, absl::string_view data,
                     const IoDeadline& deadline) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (absl::Status s = WaitFd(fd, POLLOUT, deadline, "sending"); !s.ok()) {
        return s;
      }
      continue;
    }
    const int err = errno;
    return WithKind(
        absl::UnavailableError(absl::StrCat(
            "send failed: ", absl::AsciiStrToLower(ErrnoText(err)))),
        FailureKind::kReset);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> RecvSome(int fd, char* buf, size_t n,
                                const IoDeadline& deadline) {
  while (true) {
    const ssize_t r = recv(fd, buf, n, 0);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (absl::Status s = WaitFd(fd, POLLIN, deadline, "waiting for a reply");
          !s.ok()) {
        return s;
      }
      continue;
    }
    const int err = errno;
    return WithKind(
        absl::UnavailableError(absl::StrCat(
            "receive failed: ", absl::AsciiStrToLower(ErrnoText(err)))),
        err == ECONNRESET ? FailureKind::kReset : FailureKind::kOther);
  }
}

}  // namespace internal
}  // namespace checks
}  // namespace vigil
