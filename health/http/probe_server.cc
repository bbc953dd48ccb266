#include "health/http/probe_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <iterator>
#include <limits>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "health/http/internal/http1.h"
#include "health/http/internal/utf8.h"
#include "health/internal/errno_text.h"
#include "health/internal/worker_pool.h"
#include "health/report.h"
#include "health/sync.h"

namespace vigil {
namespace http {
namespace {

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;
// After a "Connection: close" answer to a refused request (or with input
// left) the socket's write side is shut and input is drained this long
// before closing, so the client reads the answer instead of a reset.
constexpr absl::Duration kLinger = absl::Seconds(2);
// How long accepting pauses when the process is out of descriptors and no
// connection can be closed to make room.
constexpr absl::Duration kAcceptPause = absl::Milliseconds(100);
// With a clock other than the real one, the loop re-reads it this often.
constexpr int kOtherClockPollMs = 100;
// While event streams are open the loop looks for new journal entries at
// least this often.
constexpr int kStreamPollMs = 100;
// A stream with nothing to say sends a comment this often, so proxies and
// the client see it alive; one whose client has not taken the previous
// bytes by then (or has more than kMaxStreamBacklog waiting) is dropped.
constexpr absl::Duration kStreamKeepalive = absl::Seconds(15);
constexpr size_t kMaxStreamBacklog = 64 << 10;
// Interest in input. EPOLLRDHUP tells a read that the peer's FIN is already
// queued, so it reads on to EOF; without it a short read means the socket is
// drained for now (level-triggered epoll reports anything that arrives
// later), which saves a recv() that would fail with EAGAIN per request.
constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;
// Status codes counted per code; anything else is counted as 0.
constexpr int kMinCountedStatus = 100;
constexpr int kMaxCountedStatus = 599;
// Bounds of the cache of serialized probe answers (per snapshot).
constexpr size_t kMaxCachedAnswers = 64;
constexpr size_t kMaxCachedAnswerBytes = 1 << 20;
// At max_connections a connection that never sent a byte, from another peer
// than the busiest one, or an idle keep-alive connection, is only closed to
// admit a new one once it has been quiet this long: a client between two
// requests, or a prober that connected a moment ago, is left alone.
constexpr absl::Duration kEvictionGrace = absl::Seconds(1);
// While accepting is paused at max_connections with nothing to close, the
// loop looks again this often (a connection may have become evictable).
constexpr absl::Duration kFullPause = absl::Milliseconds(100);
// Connections accepted per pass of the loop: a connect flood faster than
// the loop cannot keep it from reading the connections it has.
constexpr int kAcceptBatch = 64;
// How long Stop() waits for a /metrics or status page request still inside
// user code before leaving its worker behind (see ProbeServer::Stop).
constexpr absl::Duration kStopGrace = absl::Milliseconds(900);
// Bounds of the automatic max_connections: half the descriptor limit.
constexpr int kMinAutoConnections = 128;
constexpr int kMaxAutoConnections = 32768;

// /metrics requests still running in user code after their server stopped,
// process-wide.
std::atomic<int> g_abandoned_requests{0};

using ::vigil::internal::ErrnoText;

absl::StatusOr<int> OpenListener(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(address.c_str(), service.c_str(), &hints, &res) != 0 ||
      res == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address: \"", address, "\" is not a numeric IPv4 or IPv6 address"));
  }
  const std::string where = absl::StrCat(address, ":", port);
  int fd =
      socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    freeaddrinfo(res);
    return absl::UnavailableError(
        absl::StrCat("socket for ", where, ": ", ErrnoText(err)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int rc = bind(fd, res->ai_addr, res->ai_addrlen);
  const int bind_err = errno;
  freeaddrinfo(res);
  if (rc != 0) {
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("bind ", where, ": ", ErrnoText(bind_err)));
  }
  if (listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("listen ", where, ": ", ErrnoText(err)));
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// The peer's address as text ("127.0.0.1", "::1"): the per-peer key and
// what the details policy sees. IPv4 is written by hand: glibc's inet_ntop
// goes through sprintf, about 1,000 instructions of the ~10,000 that a
// whole new connection costs (benchmarks/http/probe_instructions.sh).
std::string PeerAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const uint32_t a =
        ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr);
    char* p = buf;
    for (int shift = 24; shift >= 0; shift -= 8) {
      const unsigned octet = (a >> shift) & 0xff;
      if (octet >= 100) *p++ = static_cast<char>('0' + octet / 100);
      if (octet >= 10) *p++ = static_cast<char>('0' + octet / 10 % 10);
      *p++ = static_cast<char>('0' + octet % 10);
      if (shift > 0) *p++ = '.';
    }
    return std::string(buf, static_cast<size_t>(p - buf));
  }
  if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr,
              buf, sizeof(buf));
  }
  return buf;
}

// `path` relative to `prefix`, or nullopt if it is not under it.
std::optional<std::string> StripPathPrefix(const std::string& path,
                                           absl::string_view prefix) {
  if (prefix.empty()) return path;
  if (!absl::StartsWith(path, prefix)) return std::nullopt;
  if (path.size() == prefix.size()) return std::string("/");
  if (path[prefix.size()] != '/') return std::nullopt;
  return path.substr(prefix.size());
}

// Appends `v` to a cache key, length first, so fields cannot run together.
void AppendKeyField(absl::string_view v, std::string* key) {
  const uint64_t n = v.size();
  key->append(reinterpret_cast<const char*>(&n), sizeof(n));
  key->append(v.data(), v.size());
}

bool IsValidPrefix(absl::string_view p) {
  if (p.empty()) return true;
  return p[0] == '/' && p.back() != '/' &&
         p.find_first_of("?# \t\r\n") == absl::string_view::npos;
}

int CeilMilliseconds(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t us = absl::ToInt64Microseconds(d);
  const int64_t ms = (us + 999) / 1000;
  return static_cast<int>(
      std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

absl::Status Validate(const ProbeServerOptions& o) {
  if (o.port < 0 || o.port > 65535) {
    return absl::InvalidArgumentError("port: must be in [0, 65535]");
  }
  if (!IsValidPrefix(o.path_prefix)) {
    return absl::InvalidArgumentError(
        "path_prefix: must be empty or start with '/' and not end with '/'");
  }
  if (o.max_event_streams < 0) {
    return absl::InvalidArgumentError("max_event_streams: must be >= 0");
  }
  if (o.worker_threads < 1) {
    return absl::InvalidArgumentError("worker_threads: must be >= 1");
  }
  if (o.max_connections < 0) {
    return absl::InvalidArgumentError("max_connections: must be >= 0");
  }
  if (o.max_connections_per_peer < 0) {
    return absl::InvalidArgumentError("max_connections_per_peer: must be >= 0");
  }
  if (o.request_timeout <= absl::ZeroDuration() ||
      o.idle_timeout <= absl::ZeroDuration() ||
      o.write_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "request_timeout, idle_timeout, write_timeout: must be > 0");
  }
  if (o.max_request_line_bytes < 16 || o.max_header_bytes < 16) {
    return absl::InvalidArgumentError(
        "max_request_line_bytes, max_header_bytes: must be >= 16");
  }
  return absl::OkStatus();
}

// Admission decisions at max_connections / max_connections_per_peer, as
// counted on /metrics (label `decision`).
enum Decision : int {
  // A new connection from a peer at max_connections_per_peer closed that
  // peer's oldest connection that never sent a byte (in kEvictionGrace).
  kPeerCapEvictedSilent,
  // ... or, that peer having none, was itself refused (closed at once).
  kPeerCapRefused,
  // At max_connections: the oldest connection silent for kEvictionGrace of
  // the peer holding the most connections was closed.
  kEvictedSilentBusiestPeer,
  // ... or, that peer having none, of the busiest peer that has one.
  kEvictedSilent,
  // ... else the longest idle keep-alive (or answered, closing) connection,
  // quiet for kEvictionGrace.
  kEvictedIdle,
  // ... else accepting paused: new connections wait in the kernel's
  // backlog until one closes (counted once per pause).
  kPausedFull,
  // Out of file descriptors with nothing to close: accepting paused.
  kPausedNoDescriptors,
  kDecisionCount,
};

const char* DecisionName(int d) {
  switch (d) {
    case kPeerCapEvictedSilent:
      return "peer_cap_evicted_silent";
    case kPeerCapRefused:
      return "peer_cap_refused";
    case kEvictedSilentBusiestPeer:
      return "evicted_silent_busiest_peer";
    case kEvictedSilent:
      return "evicted_silent";
    case kEvictedIdle:
      return "evicted_idle";
    case kPausedFull:
      return "paused_full";
    case kPausedNoDescriptors:
      return "paused_no_descriptors";
  }
  return "unknown";
}

// max_connections when the option is 0: half the process's soft
// RLIMIT_NOFILE, within [kMinAutoConnections, kMaxAutoConnections].
int AutoMaxConnections() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return kMinAutoConnections;
  const rlim_t half =
      rl.rlim_cur == RLIM_INFINITY ? kMaxAutoConnections : rl.rlim_cur / 2;
  return static_cast<int>(
      std::clamp<rlim_t>(half, kMinAutoConnections, kMaxAutoConnections));
}

// Shared with the metrics collector, which may outlive nothing but reads
// these through a shared_ptr.
struct Counters {
  std::atomic<int64_t> open{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> evicted{0};
  std::atomic<uint64_t> timed_out{0};
  std::atomic<uint64_t> idle_closed{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> streams_refused{0};
  std::atomic<uint64_t> streams_dropped{0};
  std::atomic<uint64_t> decisions[kDecisionCount] = {};
  // Responses by status code, lock-free (one per answer on the event loop).
  std::atomic<uint64_t> responses[kMaxCountedStatus - kMinCountedStatus + 2] =
      {};

  void CountResponse(int status) {
    const size_t i = status >= kMinCountedStatus && status <= kMaxCountedStatus
                         ? static_cast<size_t>(status - kMinCountedStatus + 1)
                         : 0;
    responses[i].fetch_add(1, std::memory_order_relaxed);
  }

  std::map<int, uint64_t> Responses() const {
    std::map<int, uint64_t> out;
    for (size_t i = 0; i < std::size(responses); ++i) {
      const uint64_t n = responses[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out[i == 0 ? 0 : static_cast<int>(i) - 1 + kMinCountedStatus] = n;
    }
    return out;
  }
};

void WriteServerMetrics(const Counters& c, PrometheusWriter& w) {
  w.Gauge("vigil_probe_server_connections",
          "Connections open on the dedicated probe server.",
          static_cast<double>(c.open.load()));
  w.Counter("vigil_probe_server_connections_accepted_total",
            "Connections accepted by the probe server.",
            static_cast<double>(c.accepted.load()));
  w.Counter("vigil_probe_server_connections_evicted_total",
            "Connections closed to admit new ones (never sent a byte, or "
            "idle), at max_connections or max_connections_per_peer.",
            static_cast<double>(c.evicted.load()));
  w.Counter("vigil_probe_server_connections_timed_out_total",
            "Connections closed because a request or response was too slow.",
            static_cast<double>(c.timed_out.load()));
  w.Counter("vigil_probe_server_connections_idle_closed_total",
            "Idle keep-alive connections closed after idle_timeout.",
            static_cast<double>(c.idle_closed.load()));
  w.Counter("vigil_probe_server_connections_rejected_total",
            "New connections closed at once because their peer held "
            "max_connections_per_peer connections and none could be closed.",
            static_cast<double>(c.rejected.load()));
  if (w.BeginFamily("vigil_probe_server_admission_decisions_total",
                    MetricType::kCounter,
                    "What the probe server did to admit a connection at "
                    "max_connections or max_connections_per_peer.")) {
    for (int d = 0; d < kDecisionCount; ++d) {
      w.Add({{"decision", DecisionName(d)}},
            static_cast<double>(c.decisions[d].load()));
    }
  }
  if (w.BeginFamily("vigil_probe_server_responses_total", MetricType::kCounter,
                    "Responses sent by the probe server, by status code.")) {
    for (const auto& [code, n] : c.Responses()) {
      const std::string code_text = std::to_string(code);
      w.Add({{"code", code_text}}, static_cast<double>(n));
    }
  }
}

// The answer to `request` under the server's `prefix`: from `snap`, or from
// the registry's latest snapshot when null.
HttpResponse RenderRequest(HealthEndpoints* endpoints, absl::string_view prefix,
                           HttpRequest request, const Snapshot* snap) {
  std::optional<std::string> rel = StripPathPrefix(request.path, prefix);
  if (!rel) return HttpResponse::Text(404, "not found\n");
  request.path = *std::move(rel);
  return snap != nullptr ? endpoints->Handle(request, *snap)
                         : endpoints->Handle(request);
}

std::string SerializeCounted(Counters& counters, const HttpResponse& r,
                             bool head, bool keep_alive) {
  counters.CountResponse(r.status);
  return internal::SerializeResponse(r, head, keep_alive);
}

// A /metrics (or status page) answer computed by a worker.
struct Done {
  uint64_t id;
  std::string bytes;
  bool keep_alive;
};

// What a worker's job touches: shared by the loop and every queued or
// running job, so a job left running past Stop() (a collector that never
// returns) references nothing that the server's destruction frees.
struct WorkerContext {
  WorkerContext(HealthEndpoints* e, std::string p, std::shared_ptr<Counters> c)
      : endpoints(e), prefix(std::move(p)), counters(std::move(c)) {}
  ~WorkerContext() {
    if (wake_fd >= 0) close(wake_fd);
  }

  HealthEndpoints* const endpoints;
  const std::string prefix;
  const std::shared_ptr<Counters> counters;
  // The loop's eventfd; closed with the last reference.
  int wake_fd = -1;

  Mutex mu;
  std::deque<Done> done ABSL_GUARDED_BY(mu);
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // Jobs inside Render now.
  int running ABSL_GUARDED_BY(mu) = 0;

  void Wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd, &one, sizeof(one));
  }

  // Marks the context stopped; jobs still running then are counted in
  // g_abandoned_requests until they return.
  void Stop() ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    stopped = true;
    g_abandoned_requests.fetch_add(running);
  }

  static void Run(const std::shared_ptr<WorkerContext>& ctx, uint64_t id,
                  HttpRequest request, bool keep_alive) {
    {
      MutexLock lock(&ctx->mu);
      if (ctx->stopped) return;
      ++ctx->running;
    }
    const bool head = request.method == "HEAD";
    const HttpResponse response =
        RenderRequest(ctx->endpoints, ctx->prefix, std::move(request), nullptr);
    std::string bytes =
        SerializeCounted(*ctx->counters, response, head, keep_alive);
    {
      MutexLock lock(&ctx->mu);
      --ctx->running;
      if (ctx->stopped) {
        g_abandoned_requests.fetch_sub(1);
        return;
      }
      ctx->done.push_back(Done{id, std::move(bytes), keep_alive});
    }
    ctx->Wake();
  }
};

}  // namespace

// The event loop, the worker pool and every connection.
class ProbeServer::Loop {
 public:
  Loop(HealthEndpoints* endpoints, ProbeServerOptions options, int listen_fd)
      : endpoints_(endpoints),
        options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
        real_clock_(clock_ == Clock::Real()),
        listen_fd_(listen_fd),
        counters_(std::make_shared<Counters>()),
        max_connections_(options_.max_connections > 0 ? options_.max_connections
                                                      : AutoMaxConnections()),
        max_per_peer_(
            options_.max_connections_per_peer > 0
                ? std::min(options_.max_connections_per_peer, max_connections_)
                : std::max(1, max_connections_ - max_connections_ / 8)) {
    limits_.max_request_line = options_.max_request_line_bytes;
    limits_.max_header_bytes = options_.max_header_bytes;
    limits_.max_body = options_.max_body_bytes;
    input_cap_ = limits_.max_request_line + limits_.max_header_bytes +
                 limits_.max_body + 1024;
  }

  ~Loop() { Stop(); }

  absl::Status Start() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    worker_ctx_ = std::make_shared<WorkerContext>(
        endpoints_, options_.path_prefix, counters_);
    worker_ctx_->wake_fd = wake_fd_;
    if (epoll_fd_ < 0 || wake_fd_ < 0 || !Watch(listen_fd_, kListenTag) ||
        !Watch(wake_fd_, kWakeTag)) {
      return absl::UnavailableError(
          absl::StrCat("probe server event loop: ", ErrnoText(errno)));
    }
    if (options_.export_metrics) {
      std::shared_ptr<Counters> counters = counters_;
      collector_id_ = endpoints_->AddMetricsCollector(
          [counters](PrometheusWriter& w, bool) {
            WriteServerMetrics(*counters, w);
          });
    }
    pool_ = std::make_unique<vigil::internal::WorkerPool>(
        1, options_.worker_threads, kStopGrace);
    loop_thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    Wake();
    if (loop_thread_.joinable()) loop_thread_.join();
    // Queued jobs now return at once; one still inside a collector is
    // waited for kStopGrace, then left to finish on its own: it holds only
    // `worker_ctx_` (which keeps the eventfd open for it).
    if (worker_ctx_ != nullptr) worker_ctx_->Stop();
    pool_.reset();
    if (collector_id_ != 0) endpoints_->RemoveMetricsCollector(collector_id_);
    collector_id_ = 0;
    for (int* fd : {&listen_fd_, &epoll_fd_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    if (worker_ctx_ != nullptr) {
      worker_ctx_.reset();  // closes the eventfd unless a job still runs
    } else if (wake_fd_ >= 0) {
      close(wake_fd_);  // Start() failed before handing it over
    }
    wake_fd_ = -1;
  }

  ProbeServerStats Stats() const {
    ProbeServerStats s;
    s.open_connections = counters_->open.load();
    s.accepted = counters_->accepted.load();
    s.evicted = counters_->evicted.load();
    s.timed_out = counters_->timed_out.load();
    s.idle_closed = counters_->idle_closed.load();
    s.rejected = counters_->rejected.load();
    s.max_connections = max_connections_;
    s.max_connections_per_peer = max_per_peer_;
    s.peer_cap_evicted = counters_->decisions[kPeerCapEvictedSilent].load();
    s.peer_cap_refused = counters_->decisions[kPeerCapRefused].load();
    s.evicted_silent_busiest_peer =
        counters_->decisions[kEvictedSilentBusiestPeer].load();
    s.evicted_silent = counters_->decisions[kEvictedSilent].load();
    s.evicted_idle = counters_->decisions[kEvictedIdle].load();
    s.paused_full = counters_->decisions[kPausedFull].load();
    s.event_streams = streams_.load();
    s.event_streams_refused = counters_->streams_refused.load();
    s.event_streams_dropped = counters_->streams_dropped.load();
    s.responses = counters_->Responses();
    return s;
  }

 private:
  // Owned by the loop thread alone.
  struct Connection {
    int fd = -1;
    uint64_t id = 0;
    std::string remote;
    // Received at least one byte.
    bool sent = false;
    // An interim "100 Continue" was sent for the request being read.
    bool continue_sent = false;
    absl::Time opened;
    std::string in;
    std::string out;
    size_t out_pos = 0;
    // A /metrics request is on the worker pool.
    bool processing = false;
    bool close_after_write = false;
    // The answer being written refuses the request (4xx/5xx from the
    // parser, 408): the client may still be sending, so the close lingers.
    bool error_close = false;
    // The client shut its side down (read EOF).
    bool peer_closed = false;
    // Between requests on a keep-alive connection.
    bool idle = false;
    // A Server-Sent Events stream of the history (<statusz>/events): it
    // reads no more requests; journal entries after `stream_after` are
    // written as they come.
    bool streaming = false;
    bool stream_details = false;
    uint64_t stream_after = 0;
    // Our side is shut; draining input until EOF or kLinger.
    bool lingering = false;
    absl::Time deadline = absl::InfiniteFuture();
    absl::Time last_activity;
    // In the epoll set (with `events`): not yet while Add() serves what
    // arrived with the connection, nor ever if that was all of it.
    bool registered = false;
    uint32_t events = 0;
    // TCP_NODELAY is set: once the connection writes more than one answer
    // (keep-alive, a stream) or an answer in more than one send.
    bool nodelay = false;
  };
  // Connections from one address.
  struct Peer {
    int count = 0;
    // Ids of its connections in accept order, among them every one that has
    // not sent a byte yet (others and closed ones are skipped lazily).
    std::deque<uint64_t> silent;
  };

  // For the listener and the wake eventfd.
  bool Watch(int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void Wake() {
    if (wake_fd_ < 0) return;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }

  bool StopRequested() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return stopped_;
  }

  // ---- The event loop (loop thread) ----

  void Run() {
    epoll_event events[64];
    while (true) {
      const int n = epoll_wait(epoll_fd_, events, 64, PollTimeoutMs());
      if (n < 0 && errno != EINTR) break;
      now_ = clock_->Now();
      bool stop = false;
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == kListenTag) {
          AcceptAll();
        } else if (tag == kWakeTag) {
          uint64_t count;
          [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof(count));
          stop = StopRequested();
          if (!stop) DrainCompletions();
        } else if (Connection* c = Find(tag)) {
          OnEvent(*c, events[i].events);
        }
      }
      if (stop) break;
      CheckDeadlines();
      PumpStreams();
    }
    while (!conns_.empty()) Close(conns_.begin()->first);
  }

  // Every change of a connection's deadline goes through here, so that
  // next_deadline_ stays at or before the earliest one: the loop then
  // neither scans every connection per wake-up (PollTimeoutMs) nor per
  // pass (CheckDeadlines), which with thousands of keep-alive clients cost
  // more than the requests.
  void SetDeadline(Connection& c, absl::Time deadline) {
    c.deadline = deadline;
    next_deadline_ = std::min(next_deadline_, deadline);
  }

  int PollTimeoutMs() {
    absl::Time next = accept_paused_ ? accept_resume_ : absl::InfiniteFuture();
    next = std::min(next, next_deadline_);
    if (streams_ > 0)
      next = std::min(next, clock_->Now() + absl::Milliseconds(kStreamPollMs));
    if (next == absl::InfiniteFuture()) return -1;
    const int ms = CeilMilliseconds(next - clock_->Now());
    return real_clock_ ? ms : std::min(ms, kOtherClockPollMs);
  }

  Connection* Find(uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
  }

  // Admission: a peer holds at most max_per_peer_ connections (a new one
  // over it replaces that peer's oldest silent one, or is refused), which
  // keeps max_connections_ - max_per_peer_ slots for everyone else; at
  // max_connections_ the victim is chosen by FindVictim(), and with none
  // accepting pauses (the kernel's backlog holds new connections).
  void AcceptAll() {
    for (int accepted = 0; accepted < kAcceptBatch; ++accepted) {
      if (static_cast<int>(conns_.size()) >= max_connections_ &&
          FindVictim().id == 0) {
        PauseAccepting(/*full=*/true);
        return;
      }
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
          if (EvictOne()) continue;
          PauseAccepting(/*full=*/false);
        }
        return;
      }
      std::string remote = PeerAddress(ss);
      // Evictions may erase peers: no Peer reference is held across them.
      auto it = peers_.find(remote);
      if (it != peers_.end() && it->second.count >= max_per_peer_) {
        if (EvictOldestSilent(it->second)) {
          counters_->decisions[kPeerCapEvictedSilent].fetch_add(1);
        } else {
          counters_->decisions[kPeerCapRefused].fetch_add(1);
          counters_->rejected.fetch_add(1);
          CloseWithReset(fd);
          continue;
        }
      } else if (static_cast<int>(conns_.size()) >= max_connections_) {
        // FindVictim() found one above; nothing ran in between.
        EvictOne();
      }
      Add(fd, std::move(remote));
    }
  }

  // Admits `fd` and serves what it already carries: a client usually sends
  // its request right after connecting, and by the time the connection is
  // accepted the request is there. Answering it at once saves the wake-up
  // for it, and a "Connection: close" request answered in full never
  // enters the epoll set (no EPOLL_CTL_ADD, no EPOLL_CTL_DEL). A connection
  // that sent nothing yet costs one recv() that finds nothing.
  void Add(int fd, std::string remote) {
    auto owned = std::make_unique<Connection>();
    Connection& c = *owned;
    c.fd = fd;
    c.id = next_id_++;
    c.remote = std::move(remote);
    c.opened = now_;
    c.last_activity = now_;
    SetDeadline(c, c.last_activity + options_.request_timeout);
    Peer& peer = peers_[c.remote];
    counters_->accepted.fetch_add(1);
    counters_->open.fetch_add(1);
    ++peer.count;
    ++silent_;
    if (peer.silent.size() > 2 * static_cast<size_t>(peer.count) + 8) {
      // Drop the ids of closed connections and of ones that sent bytes.
      std::deque<uint64_t> kept;
      for (const uint64_t id : peer.silent) {
        const Connection* s = Find(id);
        if (s != nullptr && !s->sent) kept.push_back(id);
      }
      peer.silent.swap(kept);
    }
    peer.silent.push_back(c.id);
    conns_.emplace(c.id, std::move(owned));
    if (!ReadSome(c, /*peer_hung_up=*/false)) return;
    if (!Pump(c)) return;
    UpdateInterest(c);
  }

  // The oldest connection of `peer` that never sent a byte, or nullptr.
  // Pops the ids in front of it that no longer qualify.
  Connection* OldestSilent(Peer& peer) {
    while (!peer.silent.empty()) {
      Connection* c = Find(peer.silent.front());
      if (c != nullptr && !c->sent) return c;
      peer.silent.pop_front();
    }
    return nullptr;
  }

  // Closes `peer`'s oldest connection that has been silent since it opened
  // kEvictionGrace ago or more.
  bool EvictOldestSilent(Peer& peer) {
    Connection* c = OldestSilent(peer);
    if (c == nullptr || c->opened > now_ - kEvictionGrace) return false;
    counters_->evicted.fetch_add(1);
    Close(c->id, /*reset=*/true);
    return true;
  }

  // Closes `fd` with a reset: nothing was said on it, and the kernel keeps
  // no state for it (no FIN handshake, no TIME_WAIT).
  static void CloseWithReset(int fd) {
    const linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
  }

  struct Victim {
    uint64_t id = 0;  // 0: none
    Decision decision = kEvictedIdle;
  };

  // What to close to admit a connection at max_connections_, in order: a
  // connection that never sent a byte in the kEvictionGrace since it
  // opened, from the peer holding the most connections (its oldest), then
  // from the next busiest peer...; else the longest idle keep-alive or
  // closing connection quiet for kEvictionGrace. Never a connection with a
  // request in progress, being answered, waiting for a worker or streaming,
  // nor one just opened (its request may be on its way).
  Victim FindVictim() {
    const absl::Time quiet_since = now_ - kEvictionGrace;
    int most = 0;
    for (const auto& [addr, peer] : peers_) most = std::max(most, peer.count);
    const Connection* silent = nullptr;
    int silent_peer_count = 0;
    if (silent_ > 0) {
      for (auto& [addr, peer] : peers_) {
        if (peer.count < silent_peer_count) continue;
        const Connection* c = OldestSilent(peer);
        if (c == nullptr || c->opened > quiet_since) continue;
        if (silent == nullptr || peer.count > silent_peer_count ||
            c->opened < silent->opened) {
          silent = c;
          silent_peer_count = peer.count;
        }
      }
    }
    if (silent != nullptr) {
      return {silent->id, silent_peer_count == most ? kEvictedSilentBusiestPeer
                                                    : kEvictedSilent};
    }
    Connection* idle = nullptr;
    for (const auto& [id, c] : conns_) {
      const bool quiet = c->lingering || (c->idle && !c->processing &&
                                          !c->streaming && c->out.empty());
      if (quiet && c->last_activity <= quiet_since &&
          (idle == nullptr || c->last_activity < idle->last_activity)) {
        idle = c.get();
      }
    }
    if (idle != nullptr) return {idle->id, kEvictedIdle};
    return {};
  }

  bool EvictOne() {
    const Victim v = FindVictim();
    if (v.id == 0) return false;
    counters_->decisions[v.decision].fetch_add(1);
    counters_->evicted.fetch_add(1);
    Close(v.id, /*reset=*/v.decision != kEvictedIdle);
    return true;
  }

  // Stops accepting until a connection closes (`full`) or for a while.
  void PauseAccepting(bool full) {
    if (accept_paused_) return;
    counters_->decisions[full ? kPausedFull : kPausedNoDescriptors].fetch_add(
        1);
    epoll_event ev{};
    ev.data.u64 = kListenTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    accept_paused_ = true;
    accept_paused_full_ = full;
    accept_resume_ = now_ + (full ? kFullPause : kAcceptPause);
  }

  void ResumeAccepting() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    accept_paused_ = false;
    accept_paused_full_ = false;
  }

  // `reset`: for a connection that never sent a byte (see CloseWithReset).
  void Close(uint64_t id, bool reset = false) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    if (it->second->registered) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second->fd, nullptr);
    }
    if (reset) {
      CloseWithReset(it->second->fd);
    } else {
      close(it->second->fd);
    }
    if (it->second->streaming) --streams_;
    if (!it->second->sent) --silent_;
    if (auto p = peers_.find(it->second->remote);
        p != peers_.end() && --p->second.count == 0) {
      peers_.erase(p);
    }
    conns_.erase(it);
    counters_->open.fetch_sub(1);
    // A slot is free: let the backlog in.
    if (accept_paused_full_) ResumeAccepting();
  }

  void OnEvent(Connection& c, uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      Close(c.id);
      return;
    }
    if (c.lingering) {
      Discard(c);
      return;
    }
    if ((events & EPOLLOUT) && !WriteSome(c)) return;
    if ((events & (EPOLLIN | EPOLLRDHUP)) &&
        !ReadSome(c, (events & EPOLLRDHUP) != 0)) {
      return;
    }
    if (c.streaming) {
      // A stream reads nothing more; the client hanging up ends it.
      c.in.clear();
      if (c.peer_closed) {
        Close(c.id);
        return;
      }
      UpdateInterest(c);
      return;
    }
    if (!Pump(c)) return;
    UpdateInterest(c);
  }

  // Reads what is available, up to the input cap. A short read ends it
  // (the socket is drained; epoll reports more), unless `peer_hung_up`: then
  // it reads on to the EOF. False if closed.
  bool ReadSome(Connection& c, bool peer_hung_up) {
    char buf[16384];
    while (!c.peer_closed && c.in.size() < input_cap_) {
      const size_t want = std::min(sizeof(buf), input_cap_ - c.in.size());
      const ssize_t n = recv(c.fd, buf, want, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        c.last_activity = now_;
        if (!c.sent) {
          c.sent = true;
          --silent_;
        }
        if (c.idle) {
          c.idle = false;
          SetDeadline(c, c.last_activity + options_.request_timeout);
        }
        if (static_cast<size_t>(n) < want && !peer_hung_up) break;
        continue;
      }
      if (n == 0) {
        c.peer_closed = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close(c.id);
      return false;
    }
    return true;
  }

  // Drains a lingering connection's input; closes it on EOF or error.
  void Discard(Connection& c) {
    char buf[4096];
    while (true) {
      const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      Close(c.id);
      return;
    }
  }

  // Serves buffered requests one after another (pipelining) until one
  // waits for bytes, a worker or the socket. False if `c` was closed.
  bool Pump(Connection& c) {
    while (!c.processing && !c.lingering && !c.streaming && c.out.empty()) {
      if (c.in.empty()) {
        if (!c.peer_closed) return true;
        Close(c.id);
        return false;
      }
      internal::ParseResult p = internal::ParseRequest(c.in, limits_);
      switch (p.state) {
        case internal::ParseResult::State::kIncomplete:
          if (c.peer_closed) {
            Close(c.id);
            return false;
          }
          if (p.expect_continue && !c.continue_sent) {
            // The client waits for this before sending the body. Not an
            // answer: the request's own deadline still runs.
            c.continue_sent = true;
            const absl::Time deadline = c.deadline;
            c.out.append(internal::kContinueResponse.data(),
                         internal::kContinueResponse.size());
            c.close_after_write = false;
            if (!WriteSome(c)) return false;
            SetDeadline(
                c, c.out.empty() ? deadline : now_ + options_.write_timeout);
            return true;
          }
          if (c.in.size() < input_cap_) return true;
          p.error_status = 400;
          p.error_message = "request too large";
          [[fallthrough]];
        case internal::ParseResult::State::kError:
          c.in.clear();
          c.error_close = true;
          if (!Respond(c,
                       Serialize(HttpResponse::Text(p.error_status,
                                                    p.error_message + "\n"),
                                 false, false),
                       false)) {
            return false;
          }
          break;
        case internal::ParseResult::State::kComplete:
          c.in.erase(0, p.consumed);
          c.continue_sent = false;
          p.request.remote_address = c.remote;
          if (!Dispatch(c, std::move(p.request),
                        p.keep_alive && !c.peer_closed)) {
            return false;
          }
          break;
      }
    }
    return true;
  }

  // Answers a parsed request: probes at once, /metrics and the status page
  // and history (rendered per request, never cached) on a worker, an event
  // stream from the loop.
  bool Dispatch(Connection& c, HttpRequest request, bool keep_alive) {
    if (IsEventsPath(request.path) && request.method == "GET" &&
        endpoints_->options().history != nullptr) {
      return StartStream(c, request);
    }
    if (IsWorkerPath(request.path)) {
      c.processing = true;
      SetDeadline(c, absl::InfiniteFuture());
      pool_->Submit([ctx = worker_ctx_, id = c.id, request = std::move(request),
                     keep_alive]() mutable {
        WorkerContext::Run(ctx, id, std::move(request), keep_alive);
      });
      return true;
    }
    return AnswerProbe(c, std::move(request), keep_alive);
  }

  // Answers a probe from the answer cache, or renders, serializes and
  // caches it. The cache holds the serialized answers rendered from one
  // snapshot; a newer snapshot empties it. Keys hold every input the bytes
  // depend on besides the snapshot (see HealthEndpoints::Handle).
  bool AnswerProbe(Connection& c, HttpRequest request, bool keep_alive) {
    const bool head = request.method == "HEAD";
    if (!head && request.method != "GET") {
      return Respond(c, Answer(std::move(request), keep_alive), keep_alive);
    }
    std::shared_ptr<const Snapshot> snap = endpoints_->registry()->snapshot();
    if (snap != cached_snapshot_) {
      cached_answers_.clear();
      cached_bytes_ = 0;
      cached_snapshot_ = snap;
    }
    const bool details =
        DetailsAllowed(endpoints_->options(), request.remote_address,
                       request.Header("Authorization"));
    std::string& key = key_buffer_;
    key.clear();
    key += head ? 'H' : 'G';
    key += keep_alive ? 'K' : 'C';
    key += details ? 'D' : 'N';
    AppendKeyField(request.path, &key);
    AppendKeyField(request.Header("Accept"), &key);
    for (const auto& [k, v] : request.query) {
      AppendKeyField(k, &key);
      AppendKeyField(v, &key);
    }
    if (auto it = cached_answers_.find(key); it != cached_answers_.end()) {
      counters_->CountResponse(it->second.status);
      return RespondWithCopy(c, it->second.bytes, keep_alive);
    }
    HttpResponse response = Render(std::move(request), snap.get());
    std::string bytes = Serialize(response, head, keep_alive);
    if ((response.status == 200 || response.status == 503) &&
        cached_answers_.size() < kMaxCachedAnswers &&
        cached_bytes_ + bytes.size() <= kMaxCachedAnswerBytes) {
      cached_bytes_ += bytes.size();
      cached_answers_.emplace(key, CachedAnswer{response.status, bytes});
    }
    return Respond(c, std::move(bytes), keep_alive);
  }

  bool IsEventsPath(const std::string& path) const {
    const std::string& z = endpoints_->options().paths.statusz;
    std::optional<std::string> rel =
        StripPathPrefix(path, options_.path_prefix);
    return !z.empty() && rel && *rel == z + "/events";
  }

  // Answers the stream's headers and keeps the connection, or 503 when
  // max_event_streams are open. Resumes after Last-Event-ID if given.
  bool StartStream(Connection& c, const HttpRequest& request) {
    if (streams_ >= options_.max_event_streams) {
      counters_->streams_refused.fetch_add(1);
      HttpResponse r = HttpResponse::Text(503, "too many event streams\n");
      r.headers.emplace_back("Retry-After", "5");
      return Respond(c, Serialize(r, false, false), false);
    }
    const HealthHistory& history = *endpoints_->options().history;
    uint64_t after = 0;
    if (!absl::SimpleAtoi(request.Header("Last-Event-ID"), &after)) {
      after = history.last_sequence();
    }
    ++streams_;
    c.streaming = true;
    c.stream_after = after;
    c.stream_details =
        DetailsAllowed(endpoints_->options(), request.remote_address,
                       request.Header("Authorization"));
    c.in.clear();
    counters_->CountResponse(200);
    c.out +=
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n"
        "X-Accel-Buffering: no\r\n\r\nretry: 2000\n: vigil history\n\n";
    c.close_after_write = false;
    return WriteSome(c);
  }

  // Appends new journal entries to every stream (loop thread). Each entry
  // is read and encoded once per pass (with and without details), however
  // many streams take it. A stream whose client lets kMaxStreamBacklog pile
  // up is dropped: it never holds more memory than that, and the loop never
  // waits for it.
  void PumpStreams() {
    if (streams_.load() == 0) return;
    const HealthHistory& history = *endpoints_->options().history;
    const uint64_t last = history.last_sequence();
    std::vector<uint64_t> ids;
    uint64_t oldest = last;
    for (const auto& [id, c] : conns_) {
      if (c->streaming && c->stream_after < last) {
        ids.push_back(id);
        oldest = std::min(oldest, c->stream_after);
      }
    }
    if (ids.empty()) return;
    const std::vector<HistoryEvent> events = history.Events(oldest);
    // encoded[d][i]: events[i] as one SSE event, d = with details.
    std::vector<std::string> encoded[2];
    auto encode = [&](int d, size_t i) -> const std::string& {
      std::vector<std::string>& e = encoded[d];
      if (e.empty()) e.resize(events.size());
      if (e[i].empty()) {
        // A message may hold any bytes; the JSON printer mangles or
        // refuses invalid UTF-8 (sse_test shows it).
        v1::HistoryEvent proto = ToProto(events[i], d == 1);
        internal::SanitizeUtf8Fields(&proto);
        absl::StatusOr<std::string> json = ToJson(proto);
        e[i] = absl::StrCat("id: ", events[i].sequence,
                            "\ndata: ", json.ok() ? *json : "{}", "\n\n");
      }
      return e[i];
    };
    for (const uint64_t id : ids) {
      Connection& c = *Find(id);
      const int d = c.stream_details ? 1 : 0;
      size_t backlog = c.out.size() - c.out_pos;
      const bool was_empty = c.out.empty();
      bool dropped = false;
      for (size_t i = 0; i < events.size(); ++i) {
        if (events[i].sequence <= c.stream_after) continue;
        const std::string& text = encode(d, i);
        backlog += text.size();
        if (backlog > kMaxStreamBacklog) {
          dropped = true;
          break;
        }
        c.out += text;
      }
      if (dropped) {
        counters_->streams_dropped.fetch_add(1);
        Close(id);
        continue;
      }
      c.stream_after = last;
      if (was_empty && !c.out.empty() && !WriteSome(c)) continue;
      UpdateInterest(c);
    }
  }

  // A stream's keepalive deadline: a comment if the client keeps up, else
  // the client is dropped.
  void StreamDeadline(Connection& c) {
    if (!c.out.empty()) {
      counters_->streams_dropped.fetch_add(1);
      Close(c.id);
      return;
    }
    c.out = ": keepalive\n\n";
    if (WriteSome(c)) UpdateInterest(c);
  }

  bool IsWorkerPath(const std::string& path) const {
    const EndpointPaths& paths = endpoints_->options().paths;
    std::optional<std::string> rel =
        StripPathPrefix(path, options_.path_prefix);
    if (!rel) return false;
    if (!paths.metrics.empty() && *rel == paths.metrics) return true;
    return !paths.statusz.empty() && absl::StartsWith(*rel, paths.statusz) &&
           (rel->size() == paths.statusz.size() ||
            (*rel)[paths.statusz.size()] == '/');
  }

  // Queues `bytes` and writes what the socket takes. False if closed.
  bool Respond(Connection& c, std::string bytes, bool keep_alive) {
    if (c.out.empty()) {
      c.out = std::move(bytes);
    } else {
      c.out += bytes;
    }
    return StartWrite(c, keep_alive);
  }

  // Queues a copy of `bytes` into the output buffer's existing capacity
  // (no allocation once the connection has answered before).
  bool RespondWithCopy(Connection& c, absl::string_view bytes,
                       bool keep_alive) {
    c.out.append(bytes.data(), bytes.size());
    return StartWrite(c, keep_alive);
  }

  bool StartWrite(Connection& c, bool keep_alive) {
    c.close_after_write = !keep_alive;
    SetDeadline(c, now_ + options_.write_timeout);
    return WriteSome(c);
  }

  // False if `c` was closed.
  bool WriteSome(Connection& c) {
    while (c.out_pos < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + c.out_pos,
                             c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_pos += static_cast<size_t>(n);
        c.last_activity = now_;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Close(c.id);
      return false;
    }
    if (c.out_pos < c.out.size()) {
      NoDelay(c);
      return true;
    }
    c.out.clear();
    c.out_pos = 0;
    const absl::Time now = now_;
    if (c.streaming) {
      NoDelay(c);
      SetDeadline(c, now + kStreamKeepalive);
      return true;
    }
    if (c.close_after_write) {
      // The client asked to close (or is gone) and sent nothing more: a
      // plain close loses nothing (unread input is what would turn it into
      // a reset), and saves the shutdown, the wait for the client's FIN and
      // three more system calls per connection.
      if (c.peer_closed || (c.in.empty() && !c.error_close)) {
        Close(c.id);
        return false;
      }
      shutdown(c.fd, SHUT_WR);
      c.lingering = true;
      c.in.clear();
      SetDeadline(c, now + kLinger);
      return true;
    }
    NoDelay(c);
    c.idle = c.in.empty();
    SetDeadline(
        c, now + (c.idle ? options_.idle_timeout : options_.request_timeout));
    return true;
  }

  void UpdateInterest(Connection& c) {
    uint32_t want = 0;
    if (c.lingering) {
      want = EPOLLIN;
    } else {
      if (!c.out.empty()) want |= EPOLLOUT;
      if ((!c.processing && c.out.empty() && !c.peer_closed &&
           c.in.size() < input_cap_) ||
          (c.streaming && !c.peer_closed)) {
        want |= kReadEvents;
      }
    }
    if (c.registered && want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.id;
    if (c.registered) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    } else if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) == 0) {
      c.registered = true;
    } else {
      // Out of memory for the epoll set: the connection could never be
      // served.
      Close(c.id);
      return;
    }
    c.events = want;
  }

  // Before a connection's second answer, or the rest of one the socket
  // did not take at once: without it Nagle's algorithm would hold a small
  // write behind an unacknowledged one (a pipelined answer, an event of a
  // stream). A single answer written whole and then closed never needs it.
  static void NoDelay(Connection& c) {
    if (c.nodelay) return;
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c.nodelay = true;
  }

  void DrainCompletions() {
    std::deque<Done> done;
    {
      MutexLock lock(&worker_ctx_->mu);
      done.swap(worker_ctx_->done);
    }
    for (Done& d : done) {
      Connection* c = Find(d.id);
      if (c == nullptr) continue;
      c->processing = false;
      if (!Respond(*c, std::move(d.bytes), d.keep_alive)) continue;
      if (!Pump(*c)) continue;
      UpdateInterest(*c);
    }
  }

  void CheckDeadlines() {
    now_ = clock_->Now();
    const absl::Time now = now_;
    if (accept_paused_ && now >= accept_resume_) ResumeAccepting();
    // Every deadline is at or after next_deadline_: nothing to scan before
    // it. The scan sets it to the earliest deadline left; handling an
    // expired connection lowers it again through SetDeadline().
    if (now < next_deadline_) return;
    std::vector<uint64_t> expired;
    next_deadline_ = absl::InfiniteFuture();
    for (const auto& [id, c] : conns_) {
      if (c->deadline <= now) {
        expired.push_back(id);
      } else {
        next_deadline_ = std::min(next_deadline_, c->deadline);
      }
    }
    for (const uint64_t id : expired) {
      Connection* c = Find(id);
      if (c == nullptr) continue;
      if (c->streaming) {
        StreamDeadline(*c);
      } else if (c->lingering) {
        Close(id);
      } else if (c->idle) {
        counters_->idle_closed.fetch_add(1);
        Close(id);
      } else if (!c->out.empty() || c->in.empty()) {
        // A response the client does not read, or a connection that never
        // sent a byte: nothing useful to say.
        counters_->timed_out.fetch_add(1);
        Close(id);
      } else {
        counters_->timed_out.fetch_add(1);
        c->in.clear();
        c->error_close = true;
        if (Respond(*c,
                    Serialize(HttpResponse::Text(408, "request timeout\n"),
                              false, false),
                    false)) {
          UpdateInterest(*c);
        }
      }
    }
    // An expired connection its handling kept stays covered, whatever
    // deadline it has now.
    for (const uint64_t id : expired) {
      if (const Connection* c = Find(id)) {
        next_deadline_ = std::min(next_deadline_, c->deadline);
      }
    }
  }

  // ---- Answers (loop thread for probes, workers for /metrics) ----

  std::string Answer(HttpRequest request, bool keep_alive) const {
    const bool head = request.method == "HEAD";
    return Serialize(Render(std::move(request), nullptr), head, keep_alive);
  }

  // The answer from `snap`, or from the registry's latest snapshot when
  // null.
  HttpResponse Render(HttpRequest request, const Snapshot* snap) const {
    return RenderRequest(endpoints_, options_.path_prefix, std::move(request),
                         snap);
  }

  std::string Serialize(const HttpResponse& r, bool head,
                        bool keep_alive) const {
    return SerializeCounted(*counters_, r, head, keep_alive);
  }

  HealthEndpoints* const endpoints_;
  const ProbeServerOptions options_;
  Clock* const clock_;
  const bool real_clock_;
  internal::Http1Limits limits_;
  size_t input_cap_ = 0;

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::shared_ptr<Counters> counters_;
  const int max_connections_;
  const int max_per_peer_;
  uint64_t collector_id_ = 0;
  std::shared_ptr<WorkerContext> worker_ctx_;
  std::unique_ptr<vigil::internal::WorkerPool> pool_;

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  // By remote address. Node-based: references stay valid across inserts.
  std::unordered_map<std::string, Peer> peers_;
  // Open connections that have not sent a byte.
  int silent_ = 0;
  struct CachedAnswer {
    int status;
    std::string bytes;
  };
  // Serialized probe answers rendered from `cached_snapshot_`.
  std::shared_ptr<const Snapshot> cached_snapshot_;
  absl::flat_hash_map<std::string, CachedAnswer> cached_answers_;
  size_t cached_bytes_ = 0;
  std::string key_buffer_;
  uint64_t next_id_ = 2;  // 0 and 1 are the listener and wake tags
  // Open event streams (written by the loop, read by Stats()).
  std::atomic<int> streams_{0};
  bool accept_paused_ = false;
  bool accept_paused_full_ = false;
  absl::Time accept_resume_;
  // At or before every connection's deadline (see SetDeadline).
  absl::Time next_deadline_ = absl::InfiniteFuture();
  // The clock read once per loop iteration: every deadline set while
  // handling one batch of events counts from when the batch arrived.
  absl::Time now_;

  Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  std::thread loop_thread_;
};

absl::StatusOr<std::unique_ptr<ProbeServer>> ProbeServer::Start(
    HealthEndpoints* endpoints, ProbeServerOptions options) {
  if (endpoints == nullptr) {
    return absl::InvalidArgumentError("endpoints: must not be null");
  }
  if (absl::Status s = Validate(options); !s.ok()) return s;
  absl::StatusOr<int> fd = OpenListener(options.address, options.port);
  if (!fd.ok()) return fd.status();
  const int port = BoundPort(*fd);
  std::string address = options.address;
  auto loop = std::make_unique<Loop>(endpoints, std::move(options), *fd);
  if (absl::Status s = loop->Start(); !s.ok()) return s;
  return std::unique_ptr<ProbeServer>(
      new ProbeServer(std::move(loop), std::move(address), port));
}

ProbeServer::ProbeServer(std::unique_ptr<Loop> loop, std::string address,
                         int port)
    : loop_(std::move(loop)), address_(std::move(address)), port_(port) {}

ProbeServer::~ProbeServer() { Stop(); }

void ProbeServer::Stop() { loop_->Stop(); }

ProbeServerStats ProbeServer::stats() const { return loop_->Stats(); }

int ProbeServer::AbandonedRequests() { return g_abandoned_requests.load(); }

}  // namespace http
}  // namespace vigil
