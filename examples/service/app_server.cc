#include "examples/service/app_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigil_example {
namespace internal {
namespace {

// How long a closing connection reads what the peer still sends after our
// FIN, so that the kernel does not answer it with a reset that could cut the
// response before the peer read it.
constexpr absl::Duration kLinger = absl::Milliseconds(500);
// At Stop(), how long a connection accepted but not yet read waits for its
// first request (it is usually in the socket already).
constexpr absl::Duration kFirstRequestGrace = absl::Milliseconds(500);

int PollMs(absl::Duration d) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, 60 * 60 * 1000));
}

// poll() on `fds`, retried on EINTR until `timeout` has passed. Returns
// poll's result (0 on timeout).
int PollFor(pollfd* fds, nfds_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int r = poll(fds, n, PollMs(deadline - absl::Now()));
    if (r >= 0 || errno != EINTR) return r;
  }
}

void IpAndPort(const sockaddr_storage& a, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    port = ntohs(in6->sin6_port);
  }
  ip = buf;
}

// One accepted connection as an httplib::Stream, buffered for reads (the
// request parser reads a byte at a time) and kept for the connection's
// whole life, so bytes the peer sent ahead are not lost between requests.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, absl::Duration read_timeout,
                   absl::Duration write_timeout)
      : fd_(fd), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  bool buffered() const { return begin_ < end_; }

  bool is_readable() const override {
    return buffered() || Wait(POLLIN, read_timeout_);
  }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (!buffered()) {
      if (!Wait(POLLIN, read_timeout_)) return -1;
      ssize_t n;
      do {
        n = recv(fd_, buffer_, sizeof(buffer_), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!Wait(POLLOUT, write_timeout_)) return -1;
    ssize_t n;
    do {
      n = send(fd_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      IpAndPort(a, ip, port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      IpAndPort(a, ip, port);
    }
  }
  socket_t socket() const override { return fd_; }

 private:
  bool Wait(short events, absl::Duration timeout) const {
    pollfd p{fd_, events, 0};
    return PollFor(&p, 1, timeout) > 0;
  }

  const int fd_;
  const absl::Duration read_timeout_;
  const absl::Duration write_timeout_;
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
};

absl::Duration Seconds(time_t sec, time_t usec) {
  return absl::Seconds(sec) + absl::Microseconds(usec);
}

}  // namespace

// An httplib::Server that owns its connections' keep-alive loop (httplib's
// is compiled into Debian's library and neither closes a connection whose
// response says `Connection: close` nor wakes idle connections at stop()).
// Everything else (parsing, routing, writing) is httplib's process_request.
class DrainingServer : public httplib::Server {
 public:
  DrainingServer() : stop_event_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~DrainingServer() override {
    if (stop_event_ >= 0) close(stop_event_);
  }

  // listen() again on the bound socket: Linux updates the backlog.
  bool RaiseBacklog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
  void BeginDrain() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  // Wakes every idle connection, which then closes.
  void CloseIdleConnections() {
    stopping_.store(true);
    const uint64_t one = 1;
    if (write(stop_event_, &one, sizeof(one)) < 0) {
      // Already signalled (the counter only overflows after 2^64 - 1).
    }
  }

 private:
  bool process_and_close_socket(socket_t sock) override;
  // True once a request (or the peer's EOF) is readable; false when the
  // connection should close: idle past the keep-alive timeout, or idle at
  // stop.
  bool WaitForRequest(ConnectionStream& stream, bool first) const;
  static void LingeringClose(int sock);

  const int stop_event_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
};

bool DrainingServer::WaitForRequest(ConnectionStream& stream,
                                    bool first) const {
  if (stream.buffered()) return true;
  pollfd fds[2] = {{stream.socket(), POLLIN, 0}, {stop_event_, POLLIN, 0}};
  const nfds_t n = stopping_.load() ? 1 : 2;
  const absl::Duration keep_alive =
      stopping_.load() ? absl::ZeroDuration()
                       : absl::Seconds(keep_alive_timeout_sec_);
  if (PollFor(fds, n, keep_alive) > 0 && (fds[0].revents & POLLIN) != 0) {
    return true;
  }
  if (!stopping_.load()) return false;  // idle past the keep-alive timeout
  // Stopping. A connection that served requests and is idle closes now; one
  // just accepted gets a moment for the request its peer already sent.
  if (!first) return false;
  pollfd sock{stream.socket(), POLLIN, 0};
  return PollFor(&sock, 1, kFirstRequestGrace) > 0;
}

bool DrainingServer::process_and_close_socket(socket_t sock) {
  ConnectionStream stream(sock, Seconds(read_timeout_sec_, read_timeout_usec_),
                          Seconds(write_timeout_sec_, write_timeout_usec_));
  bool ok = true;
  for (size_t served = 0; served < keep_alive_max_count_; ++served) {
    if (!WaitForRequest(stream, served == 0)) break;
    // Decided before the handler runs: a drain that starts meanwhile leaves
    // this connection idle and open, and its next response closes it.
    const bool last = draining_.load() || stopping_.load() ||
                      served + 1 == keep_alive_max_count_;
    bool peer_closes = false;
    ok = process_request(stream, last, peer_closes, nullptr);
    if (!ok || last || peer_closes) break;
  }
  LingeringClose(sock);
  return ok;
}

void DrainingServer::LingeringClose(int sock) {
  shutdown(sock, SHUT_WR);
  const absl::Time deadline = absl::Now() + kLinger;
  char discard[4096];
  pollfd p{sock, POLLIN, 0};
  while (PollFor(&p, 1, deadline - absl::Now()) > 0) {
    if (recv(sock, discard, sizeof(discard), 0) <= 0) break;
  }
  close(sock);
}

}  // namespace internal

namespace {

// Keeps one core busy for `d`.
void BurnCpu(absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  volatile uint64_t x = 0;
  while (absl::Now() < end) {
    for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005ULL + 1;
  }
}

// The demonstration hang: blocks the calling worker for `d` or until the
// server stops. Not inlined, so the watchdog's stack names it.
ABSL_ATTRIBUTE_NOINLINE void HangForDemo(absl::Duration d,
                                         const std::atomic<bool>& stopping) {
  const absl::Time end = absl::Now() + d;
  while (absl::Now() < end && !stopping.load()) {
    absl::SleepFor(absl::Milliseconds(100));
  }
}

// A worker's heartbeat thresholds: a WatchScope of D scales them to D, 2D
// and 4D (watchdog.h).
vigil::HeartbeatOptions WorkerHeartbeatOptions() {
  vigil::HeartbeatOptions hb;
  hb.miss_after = absl::Seconds(1);
  hb.long_miss_after = absl::Seconds(2);
  hb.kill_after = absl::Seconds(4);
  return hb;
}

AppServerOptions Normalized(AppServerOptions options) {
  options.threads = std::max(1, options.threads);
  options.listen_backlog = std::max(1, options.listen_backlog);
  return options;
}

}  // namespace

AppServer::AppServer(AppServerOptions options)
    : options_(Normalized(std::move(options))),
      server_(std::make_unique<internal::DrainingServer>()) {
  const int n = options_.threads;
  server_->new_task_queue = [n] { return new httplib::ThreadPool(n); };
  server_->set_tcp_nodelay(true);
  server_->Get("/", Watched("GET /", [this](const httplib::Request&,
                                            httplib::Response& res) {
                 ++requests_;
                 res.set_content("hello from vigil-example\n", "text/plain");
               }));
  server_->Get("/work", Watched("GET /work", [this](const httplib::Request& req,
                                                    httplib::Response& res) {
                 HandleWork(req, res);
               }));
  if (options_.demo_endpoints) {
    server_->Get("/demo/hang",
                 Watched("GET /demo/hang", [this](const httplib::Request& req,
                                                  httplib::Response& res) {
                   HandleHang(req, res);
                 }));
    server_->Get("/demo/close-listener",
                 [this](const httplib::Request&, httplib::Response& res) {
                   ++requests_;
                   std::printf(
                       "demo: closing the application's listening socket "
                       "(port %d); the process keeps running\n",
                       port_);
                   std::fflush(stdout);
                   server_->stop();  // stops accepting; Stop() joins
                   res.set_content("listening socket closed\n", "text/plain");
                 });
  }
}

AppServer::~AppServer() { Stop(); }

vigil::Heartbeat* AppServer::ThreadHeartbeat() {
  // One per worker thread, destroyed when the thread exits (the pool's
  // threads are joined by Stop(), before the watchdog goes away).
  thread_local vigil::Heartbeat heartbeat;
  if (heartbeat.empty()) {
    absl::StatusOr<vigil::Heartbeat> h = options_.watchdog->Register(
        absl::StrCat("app-worker-", workers_seen_.fetch_add(1)),
        WorkerHeartbeatOptions());
    if (!h.ok()) return nullptr;
    heartbeat = *std::move(h);
    heartbeat.Pause();  // idle between requests
  }
  return &heartbeat;
}

httplib::Server::Handler AppServer::Watched(const char* label,
                                            httplib::Server::Handler handler) {
  if (options_.watchdog == nullptr) return handler;
  return [this, label, handler = std::move(handler)](
             const httplib::Request& req, httplib::Response& res) {
    vigil::Heartbeat* heartbeat = ThreadHeartbeat();
    if (heartbeat == nullptr) return handler(req, res);
    heartbeat->Resume();
    {
      vigil::WatchScope scope(*heartbeat, options_.handler_deadline, label);
      handler(req, res);
    }
    heartbeat->Pause();
  };
}

httplib::Server& AppServer::server() { return *server_; }

bool AppServer::draining() const { return server_->draining(); }

void AppServer::HandleWork(const httplib::Request& req,
                           httplib::Response& res) {
  ++requests_;
  int ms = 100;
  if (req.has_param("ms") &&
      !absl::SimpleAtoi(req.get_param_value("ms"), &ms)) {
    res.status = 400;
    res.set_content("ms: not a number\n", "text/plain");
    return;
  }
  ms = std::clamp(ms, 0, 10000);
  ++busy_;
  BurnCpu(absl::Milliseconds(ms));
  --busy_;
  res.set_content(absl::StrCat("worked ", ms, " ms\n"), "text/plain");
}

void AppServer::HandleHang(const httplib::Request& req,
                           httplib::Response& res) {
  ++requests_;
  int seconds = 3600;
  if (req.has_param("s") &&
      !absl::SimpleAtoi(req.get_param_value("s"), &seconds)) {
    res.status = 400;
    res.set_content("s: not a number\n", "text/plain");
    return;
  }
  seconds = std::clamp(seconds, 0, 3600);
  std::printf("demo: GET /demo/hang blocks an application thread for %d s\n",
              seconds);
  std::fflush(stdout);
  HangForDemo(absl::Seconds(seconds), stopping_);
  res.set_content(absl::StrCat("hung for ", seconds, " s\n"), "text/plain");
}

absl::Status AppServer::Start(const std::string& address, int port) {
  if (port == 0) {
    port_ = server_->bind_to_any_port(address);
  } else {
    port_ = server_->bind_to_port(address, port) ? port : -1;
  }
  if (port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("application server: cannot bind ", address, ":", port));
  }
  if (!server_->RaiseBacklog(options_.listen_backlog)) {
    return absl::InternalError(
        absl::StrCat("application server: listen backlog ",
                     options_.listen_backlog, ": ", std::strerror(errno)));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs; Stop() relies on it.
  while (!server_->is_running()) std::this_thread::yield();
  return absl::OkStatus();
}

void AppServer::BeginDrain() { server_->BeginDrain(); }

void AppServer::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);  // a /demo/hang returns
  server_->BeginDrain();
  server_->stop();  // stops accepting
  server_->CloseIdleConnections();
  thread_.join();  // httplib joins its workers: requests in flight finish
}

void AppServer::WriteMetrics(vigil::http::PrometheusWriter& w) const {
  w.Gauge("example_app_threads", "Worker threads of the application server.",
          options_.threads);
  w.Gauge("example_app_busy_threads",
          "Application threads currently burning CPU in /work.", busy());
  w.Gauge("example_app_draining",
          "1 once the application server answers Connection: close (drain).",
          draining() ? 1 : 0);
  w.Counter("example_app_requests_total",
            "Requests handled by the application server.",
            static_cast<double>(requests_.load()));
}

}  // namespace vigil_example
