// The dedicated probe server against bad, slow, idle and numerous clients,
// over real loopback sockets.

#include "health/http/probe_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/http/endpoints.h"
#include "health/http/testing/http_test_util.h"
#include "health/testing/fake_clock.h"
#include "health/testing/require.h"
#include "health/testing/wait_for.h"
#include "httplib.h"

namespace vigil {
namespace http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RawConnection;
using testing::RawResponse;

class ProbeServerTest : public ::testing::Test {
 protected:
  ProbeServerTest() : registry_(Options(&registry_clock_)) {
    Check c;
    c.name = "ok";
    c.options.groups = {"liveness", "readiness"};
    c.function = [](const CheckContext&) { return CheckResult::Healthy(); };
    EXPECT_TRUE(registry_.Register(std::move(c)).ok());
    registry_.RunOnceForTest();
    EXPECT_TRUE(registry_.WaitUntilIdleForTest());
    endpoints_ = *HealthEndpoints::Create(&registry_);
  }

  static RegistryOptions Options(testing::FakeClock* clock) {
    RegistryOptions o;
    o.clock = clock;
    return o;
  }

  void Start(ProbeServerOptions options = {}) {
    auto s = ProbeServer::Start(endpoints_.get(), std::move(options));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }

  int port() const { return server_->port(); }

  // A probe as a kubelet makes it: new connection, 1 s timeouts.
  httplib::Result Probe(const std::string& path = "/readyz") {
    httplib::Client c("127.0.0.1", port());
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(1, 0);
    c.set_write_timeout(1, 0);
    return c.Get(path.c_str());
  }

  void ExpectProbeOk(const std::string& path = "/readyz") {
    httplib::Result r = Probe(path);
    ASSERT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200) << path;
  }

  // Sends `raw` on a new connection and reads the answer.
  std::optional<RawResponse> SendRaw(const std::string& raw) {
    RawConnection c(port());
    EXPECT_TRUE(c.ok());
    c.Send(raw);
    return c.ReadResponse();
  }

  testing::FakeClock registry_clock_;
  HealthRegistry registry_;
  std::unique_ptr<HealthEndpoints> endpoints_;
  // For tests of timeouts; declared before the server, which reads it.
  testing::FakeClock server_clock_;
  std::unique_ptr<ProbeServer> server_;
};

TEST_F(ProbeServerTest, PortZeroPicksAPortAndStopCloses) {
  Start();
  ASSERT_GT(port(), 0);
  EXPECT_EQ(server_->address(), "127.0.0.1");
  ExpectProbeOk();
  server_->Stop();
  server_->Stop();  // idempotent
  RawConnection after(port());
  EXPECT_FALSE(after.ok());
  server_.reset();
}

TEST_F(ProbeServerTest, StartErrors) {
  Start();
  ProbeServerOptions same;
  same.port = port();
  absl::StatusOr<std::unique_ptr<ProbeServer>> clash =
      ProbeServer::Start(endpoints_.get(), same);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(clash.status().message()),
              HasSubstr("Address already in use"));

  auto invalid = [&](ProbeServerOptions o, absl::string_view field) {
    absl::StatusOr<std::unique_ptr<ProbeServer>> s =
        ProbeServer::Start(endpoints_.get(), o);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(field));
  };
  ProbeServerOptions o;
  o.address = "localhost";
  invalid(o, "address");
  o = {};
  o.port = 70000;
  invalid(o, "port");
  o = {};
  o.worker_threads = 0;
  invalid(o, "worker_threads");
  o = {};
  o.max_connections = 0;
  invalid(o, "max_connections");
  o = {};
  o.path_prefix = "/x/";
  invalid(o, "path_prefix");
  o = {};
  o.request_timeout = absl::ZeroDuration();
  invalid(o, "request_timeout");
  EXPECT_FALSE(ProbeServer::Start(nullptr).ok());
}

TEST_F(ProbeServerTest, IPv6Loopback) {
  ProbeServerOptions o;
  o.address = "::1";
  auto s = ProbeServer::Start(endpoints_.get(), o);
  VIGIL_REQUIRE_OR_SKIP(s.ok(), "no IPv6 loopback here: " << s.status());
  httplib::Client c("::1", (*s)->port());
  c.set_read_timeout(1, 0);
  httplib::Result r = c.Get("/readyz?verbose");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  // ::1 is loopback: the client sees details (here, an empty message).
  EXPECT_EQ(r->body, "[+]ok ok\nreadyz check passed\n");
}

struct BadInput {
  std::string name;
  std::string raw;
  int status;
};

TEST_F(ProbeServerTest, BadInputGets4xxAndOthersKeepBeingServed) {
  ProbeServerOptions o;
  o.max_request_line_bytes = 1024;
  o.max_header_bytes = 4096;
  o.max_body_bytes = 64;
  Start(o);
  // A keep-alive client that stays connected throughout.
  RawConnection steady(port());
  ASSERT_TRUE(steady.Send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(steady.ReadResponse()->status, 200);

  const std::vector<BadInput> cases = {
      {"long request line",
       "GET /" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"long request line, never ends", "GET /" + std::string(2000, 'a'), 414},
      {"huge header",
       "GET /livez HTTP/1.1\r\nX-Big: " + std::string(100 * 1024, 'h') +
           "\r\n\r\n",
       431},
      {"many headers",
       "GET /livez HTTP/1.1\r\n" +
           [] {
             std::string h;
             for (int i = 0; i < 200; ++i)
               absl::StrAppend(&h, "X-", i, ": v\r\n");
             return h;
           }() +
           "\r\n",
       431},
      {"big body",
       "POST /livez HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n" +
           std::string(1024, 'b'),
       413},
      {"chunked body",
       "POST /livez HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"
       "\r\n0\r\n\r\n",
       411},
      {"malformed request line", "HELLO\r\n\r\n", 400},
      {"malformed header", "GET /livez HTTP/1.1\r\nno colon here\r\n\r\n", 400},
      {"bad escape", "GET /livez%G1 HTTP/1.1\r\n\r\n", 400},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"TLS client hello",
       std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1"
                   "\x03\x03\r\n\r\n",
                   15),
       400},
  };
  for (const BadInput& c : cases) {
    SCOPED_TRACE(c.name);
    RawConnection conn(port());
    ASSERT_TRUE(conn.ok());
    conn.Send(c.raw);  // may fail part-way: the server stops reading
    std::optional<RawResponse> r = conn.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_EQ(r->headers["cache-control"], "no-store");
    bool eof = false;
    conn.ReadUntilClosed(absl::Seconds(10), &eof);
    EXPECT_TRUE(eof) << "the server must close after a bad request";
    // Everyone else is still served.
    ExpectProbeOk();
  }
  ASSERT_TRUE(steady.Send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::optional<RawResponse> r = steady.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(server_->stats().responses[400], 3u);
}

TEST_F(ProbeServerTest, UnknownPathsAndMethodsOverTheWire) {
  Start();
  std::optional<RawResponse> r = SendRaw("GET /nope HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers["cache-control"], "no-store");
  r = SendRaw("DELETE /readyz HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET, HEAD, OPTIONS");
  r = SendRaw("BREW /readyz HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  // A small body on a probe is read and ignored.
  r = SendRaw("POST /readyz HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

TEST_F(ProbeServerTest, KeepAliveAndPipelining) {
  Start();
  RawConnection c(port());
  ASSERT_TRUE(
      c.Send("GET /livez HTTP/1.1\r\n\r\n"
             "HEAD /readyz HTTP/1.1\r\n\r\n"
             "GET /readyz?format=json HTTP/1.1\r\n\r\n"
             "GET /readyz/ok HTTP/1.1\r\n\r\n"));
  std::optional<RawResponse> a = c.ReadResponse();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->body, "ok\n");
  EXPECT_EQ(a->headers["connection"], "keep-alive");
  std::optional<RawResponse> b = c.ReadResponse(absl::Seconds(5), true);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(b->headers["content-length"], "3");
  std::optional<RawResponse> j = c.ReadResponse();
  ASSERT_TRUE(j);
  EXPECT_EQ(j->headers["content-type"], "application/json");
  EXPECT_THAT(j->body, HasSubstr("\"status\":\"STATUS_HEALTHY\""));
  std::optional<RawResponse> one = c.ReadResponse();
  ASSERT_TRUE(one);
  EXPECT_EQ(one->body, "ok\n");
  // Later requests on the same connection, then an explicit close.
  ASSERT_TRUE(c.Send("GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::optional<RawResponse> last = c.ReadResponse();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->headers["connection"], "close");
  bool eof = false;
  c.ReadUntilClosed(absl::Seconds(10), &eof);
  EXPECT_TRUE(eof);
  // HTTP/1.0 without keep-alive closes after one answer.
  RawConnection old(port());
  ASSERT_TRUE(old.Send("GET /livez HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(old.ReadResponse());
  old.ReadUntilClosed(absl::Seconds(10), &eof);
  EXPECT_TRUE(eof);
}

TEST_F(ProbeServerTest, RequestSentThenHalfClosedIsStillAnswered) {
  Start();
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /readyz HTTP/1.1\r\n\r\n"));
  c.ShutdownWrite();
  std::optional<RawResponse> r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Then the server closes too. (Whether the answer already says
  // "Connection: close" depends on whether the FIN arrived with the
  // request.)
  bool eof = false;
  c.ReadUntilClosed(absl::Seconds(10), &eof);
  EXPECT_TRUE(eof);
}

// Probe answers are reused while the snapshot is current (an answer
// cache): a new snapshot must be seen by the very next probe, on a
// connection that asked the same questions before.
TEST_F(ProbeServerTest, RepeatedProbesFollowTheLatestSnapshot) {
  std::atomic<bool> healthy{true};
  Check c;
  c.name = "flip";
  c.options.groups = {"readiness"};
  c.options.interval = absl::Seconds(1);
  c.options.failure_threshold = 1;
  c.function = [&healthy](const CheckContext&) {
    return healthy.load() ? CheckResult::Healthy("fine")
                          : CheckResult::Unhealthy("down");
  };
  ASSERT_TRUE(registry_.Register(std::move(c)).ok());
  registry_.RunOnceForTest();
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  Start();
  RawConnection conn(port());
  ASSERT_TRUE(conn.ok());
  const std::string plain = "GET /readyz HTTP/1.1\r\n\r\n";
  const std::string verbose = "GET /readyz?verbose HTTP/1.1\r\n\r\n";
  const std::string json =
      "GET /readyz HTTP/1.1\r\nAccept: application/json\r\n\r\n";
  auto ask = [&conn](const std::string& request) {
    EXPECT_TRUE(conn.Send(request));
    return conn.ReadResponse();
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    std::optional<RawResponse> r = ask(plain);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");
    r = ask(verbose);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_THAT(r->body, HasSubstr("[+]flip ok\n"));
    r = ask(json);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_THAT(r->body, HasSubstr("fine"));
  }
  healthy = false;
  registry_clock_.Advance(absl::Seconds(1));
  registry_.RunOnceForTest();
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    std::optional<RawResponse> r = ask(plain);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "readyz check failed: flip\n");
    r = ask(verbose);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_THAT(r->body, HasSubstr("[-]flip failed: down\n"));
    r = ask(json);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_THAT(r->body, HasSubstr("down"));
    EXPECT_THAT(r->body, Not(HasSubstr("fine")));
  }
  EXPECT_EQ(server_->stats().responses.at(200), 6);
  EXPECT_EQ(server_->stats().responses.at(503), 6);
}

// Requests that differ only in what the answer depends on (details, HEAD,
// query, Accept, Connection) get their own answers, also when repeated.
TEST_F(ProbeServerTest, RepeatedProbesKeepTheirOwnAnswers) {
  Check c;
  c.name = "db";
  c.options.groups = {"readiness"};
  c.options.critical = false;
  c.options.failure_threshold = 1;
  c.function = [](const CheckContext&) {
    return CheckResult::Unhealthy("secret reason");
  };
  ASSERT_TRUE(registry_.Register(std::move(c)).ok());
  registry_.RunOnceForTest();
  ASSERT_TRUE(registry_.WaitUntilIdleForTest());
  EndpointsOptions eo;
  eo.bearer_token = "s3cret";
  eo.is_local_address = [](absl::string_view) { return false; };
  endpoints_ = *HealthEndpoints::Create(&registry_, eo);
  Start();
  RawConnection conn(port());
  ASSERT_TRUE(conn.ok());
  auto ask = [&conn](const std::string& request, bool head = false) {
    EXPECT_TRUE(conn.Send(request));
    return conn.ReadResponse(absl::Seconds(5), head);
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    std::optional<RawResponse> with_token =
        ask("GET /readyz?verbose HTTP/1.1\r\n"
            "Authorization: Bearer s3cret\r\n\r\n");
    ASSERT_TRUE(with_token);
    EXPECT_EQ(with_token->status, 200);
    EXPECT_THAT(with_token->body,
                HasSubstr("[-]db failed (non-critical): secret reason\n"));
    std::optional<RawResponse> without =
        ask("GET /readyz?verbose HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(without);
    EXPECT_THAT(without->body, HasSubstr("reason withheld"));
    EXPECT_THAT(without->body, Not(HasSubstr("secret")));
    std::optional<RawResponse> head =
        ask("HEAD /readyz?verbose HTTP/1.1\r\n\r\n", true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->body, "");
    EXPECT_EQ(head->headers["content-length"],
              std::to_string(without->body.size()));
    std::optional<RawResponse> excluded =
        ask("GET /readyz?verbose&exclude=db HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(excluded);
    EXPECT_THAT(excluded->body, HasSubstr("[+]db excluded: ok\n"));
    std::optional<RawResponse> json =
        ask("GET /readyz HTTP/1.1\r\nAccept: application/json\r\n"
            "Authorization: Bearer s3cret\r\n\r\n");
    ASSERT_TRUE(json);
    EXPECT_EQ(json->headers["content-type"], "application/json");
    EXPECT_THAT(json->body, HasSubstr("secret reason"));
    std::optional<RawResponse> plain = ask("GET /readyz HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->body, "ok\n");
    EXPECT_EQ(plain->headers["connection"], "keep-alive");
    EXPECT_EQ(plain->headers["cache-control"], "no-store");
    // The same request with Connection: close, on a connection of its own.
    std::optional<RawResponse> closing =
        SendRaw("GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(closing);
    EXPECT_EQ(closing->body, "ok\n");
    EXPECT_EQ(closing->headers["connection"], "close");
  }
}

TEST_F(ProbeServerTest, ManyIdleSlowAndHalfOpenConnectionsDoNotDelayProbes) {
  ProbeServerOptions o;
  o.worker_threads = 1;
  o.max_connections = 512;
  o.request_timeout = absl::Seconds(120);  // nothing times out mid-test
  Start(o);
  std::vector<RawConnection> held;
  // Connected, silent.
  for (int i = 0; i < 60; ++i) held.emplace_back(port());
  // Slow: a request trickling in, never finished.
  for (int i = 0; i < 60; ++i) {
    held.emplace_back(port());
    held.back().Send("GET /readyz HTTP/1.1\r\nHost: slow\r\nX-A: ");
  }
  // Keep-alive, idle after one request.
  for (int i = 0; i < 30; ++i) {
    held.emplace_back(port());
    held.back().Send("GET /livez HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(held.back().ReadResponse());
  }
  // Half-closed mid-request.
  for (int i = 0; i < 30; ++i) {
    held.emplace_back(port());
    held.back().Send("GET /rea");
    held.back().ShutdownWrite();
  }
  for (const RawConnection& c : held) ASSERT_TRUE(c.ok());
  // 180 stuck clients, 2 server threads: every probe still answers within
  // its 1 s timeout.
  for (int i = 0; i < 50; ++i) {
    ExpectProbeOk(i % 2 ? "/readyz" : "/livez");
  }
  ExpectProbeOk("/metrics");
  EXPECT_GE(server_->stats().open_connections, 150);
}

TEST_F(ProbeServerTest, ConnectionCapClosesTheLeastRecentlyActive) {
  ProbeServerOptions o;
  o.max_connections = 8;
  Start(o);
  std::vector<RawConnection> held;
  for (int i = 0; i < 40; ++i) {
    held.emplace_back(port());
    ASSERT_TRUE(held.back().ok());
  }
  ExpectProbeOk();
  ASSERT_TRUE(testing::WaitFor([&] { return server_->stats().accepted >= 41; },
                               absl::Seconds(10)));
  const ProbeServerStats s = server_->stats();
  EXPECT_LE(s.open_connections, 8);
  EXPECT_GE(s.evicted, 33u);
  // The oldest ones were the ones closed.
  bool eof = false;
  held.front().ReadUntilClosed(absl::Seconds(10), &eof);
  EXPECT_TRUE(eof);
  // A newer idle connection is still usable.
  RawConnection& recent = held.back();
  ASSERT_TRUE(recent.Send("GET /livez HTTP/1.1\r\n\r\n"));
  std::optional<RawResponse> r = recent.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ProbeServerTest, SlowRequestGets408AfterRequestTimeout) {
  testing::FakeClock& clock = server_clock_;
  ProbeServerOptions o;
  o.clock = &clock;
  o.request_timeout = absl::Seconds(5);
  Start(o);
  RawConnection slow(port());
  ASSERT_TRUE(slow.Send("GET /readyz HTTP/1.1\r\nHost: sl"));
  RawConnection silent(port());
  ASSERT_TRUE(
      testing::WaitFor([&] { return server_->stats().open_connections == 2; }));
  clock.Advance(absl::Seconds(4));
  // Still within its time: the rest of the request is answered normally.
  RawConnection patient(port());
  ASSERT_TRUE(patient.Send("GET /readyz HTTP/1.1\r\nHost: p"));
  clock.Advance(absl::Seconds(2));  // slow and silent are now 6 s old
  std::optional<RawResponse> r = slow.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->headers["connection"], "close");
  bool eof = false;
  silent.ReadUntilClosed(absl::Seconds(10), &eof);
  EXPECT_TRUE(eof);
  ASSERT_TRUE(patient.Send("\r\n\r\n"));
  std::optional<RawResponse> p = patient.ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200);
  EXPECT_GE(server_->stats().timed_out, 2u);
}

TEST_F(ProbeServerTest, IdleKeepAliveConnectionsAreClosedAfterIdleTimeout) {
  testing::FakeClock& clock = server_clock_;
  ProbeServerOptions o;
  o.clock = &clock;
  o.idle_timeout = absl::Seconds(30);
  Start(o);
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /livez HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(c.ReadResponse());
  clock.Advance(absl::Seconds(29));
  ASSERT_TRUE(c.Send("GET /livez HTTP/1.1\r\n\r\n"));  // resets the idle timer
  ASSERT_TRUE(c.ReadResponse());
  clock.Advance(absl::Seconds(29));
  ASSERT_TRUE(c.Send("GET /livez HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(c.ReadResponse());
  EXPECT_EQ(server_->stats().idle_closed, 0u);
  clock.Advance(absl::Seconds(31));
  bool eof = false;
  c.ReadUntilClosed(absl::Seconds(10), &eof);
  EXPECT_TRUE(eof);
  EXPECT_EQ(server_->stats().idle_closed, 1u);
}

TEST_F(ProbeServerTest, ClientThatNeverReadsIsDroppedAfterWriteTimeout) {
  ProbeServerOptions o;
  o.clock = &server_clock_;
  o.write_timeout = absl::Seconds(5);
  Start(o);
  // A client with a tiny receive window that pipelines megabytes worth of
  // answers and reads none of them.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  timeval send_timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string requests;
  while (requests.size() < 200 * 1024)
    requests += "GET /metrics HTTP/1.1\r\n\r\n";
  size_t sent = 0;
  while (sent < requests.size()) {
    const ssize_t n =
        send(fd, requests.data() + sent, requests.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server stopped reading: fine
    sent += static_cast<size_t>(n);
  }
  // Once its answers back up, the write deadline runs on the server's clock.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        server_clock_.Advance(absl::Seconds(6));
        return server_->stats().timed_out >= 1;
      },
      absl::Seconds(60)));
  EXPECT_TRUE(
      testing::WaitFor([&] { return server_->stats().open_connections == 0; }));
  // It was the backed-up answers, not a finished exchange, that timed out.
  const size_t request_size =
      std::string("GET /metrics HTTP/1.1\r\n\r\n").size();
  EXPECT_LT(server_->stats().responses[200], sent / request_size);
  EXPECT_EQ(server_->stats().idle_closed, 0u);
  close(fd);
  ExpectProbeOk();
}

TEST_F(ProbeServerTest, BlockedMetricsCollectorDoesNotDelayProbes) {
  Notification release;
  endpoints_->AddMetricsCollector([&](PrometheusWriter& w, bool) {
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
    w.Gauge("app_slow_gauge", "Slow to collect.", 1);
  });
  ProbeServerOptions o;
  o.worker_threads = 1;
  Start(o);
  RawConnection scrape1(port());
  RawConnection scrape2(port());
  ASSERT_TRUE(scrape1.Send("GET /metrics HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(scrape2.Send("GET /metrics HTTP/1.1\r\n\r\n"));
  for (int i = 0; i < 10; ++i) ExpectProbeOk();
  release.Notify();
  for (RawConnection* c : {&scrape1, &scrape2}) {
    std::optional<RawResponse> r = c->ReadResponse(absl::Seconds(10));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_THAT(r->body, HasSubstr("app_slow_gauge 1\n"));
  }
}

TEST_F(ProbeServerTest, ExportsItsOwnMetricsWhileRunning) {
  Start();
  ExpectProbeOk();
  httplib::Result m = Probe("/metrics");
  ASSERT_TRUE(m);
  EXPECT_THAT(m->body,
              HasSubstr("# TYPE vigil_probe_server_connections gauge"));
  EXPECT_THAT(m->body,
              HasSubstr("vigil_probe_server_responses_total{code=\"200\"}"));
  EXPECT_THAT(m->body,
              HasSubstr("vigil_probe_server_connections_accepted_total 2\n"));
  server_.reset();
  EXPECT_THAT(endpoints_->RenderMetrics(true),
              Not(HasSubstr("vigil_probe_server")));
}

TEST_F(ProbeServerTest, ServesUnderAPrefixOnly) {
  ProbeServerOptions o;
  o.path_prefix = "/internal";
  Start(o);
  ExpectProbeOk("/internal/readyz");
  ExpectProbeOk("/internal/metrics");
  EXPECT_EQ(Probe("/readyz")->status, 404);
  EXPECT_EQ(Probe("/internal")->status, 404);
  EXPECT_EQ(Probe("/internalreadyz")->status, 404);
}

}  // namespace
}  // namespace http
}  // namespace vigil
