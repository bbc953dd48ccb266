// grpc.health.v1 over loopback with a real grpc++ client: Check, Watch and
// List against a HealthServer, the name space, drain, and mounting on an
// application's own server whose handlers are stuck.

#include "health/grpc/health_service.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health/grpc/health_server.h"
#include "health/grpc/proto/health.grpc.pb.h"
#include "health/registry.h"
#include "health/sync.h"
#include "health/testing/fake_clock.h"

namespace vigil {
namespace grpc_health {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::grpc::health::v1::HealthListRequest;
using ::grpc::health::v1::HealthListResponse;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using Serving = HealthCheckResponse::ServingStatus;

// A check whose status the test sets.
class Switch {
 public:
  void Set(Status s) {
    MutexLock lock(&mu_);
    status_ = s;
  }
  CheckFunction Function() {
    return [this](const CheckContext&) {
      MutexLock lock(&mu_);
      CheckResult r;
      r.status = status_;
      return r;
    };
  }

 private:
  Mutex mu_;
  Status status_ ABSL_GUARDED_BY(mu_) = Status::kHealthy;
};

// Reads a Watch stream on its own context (deadline bounds every Read).
struct Watcher {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader;

  Watcher(Health::Stub* stub, const std::string& service) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    HealthCheckRequest request;
    request.set_service(service);
    reader = stub->Watch(&context, request);
  }
  // The next status, or -1 when the stream ended.
  int Next() {
    HealthCheckResponse r;
    return reader->Read(&r) ? r.status() : -1;
  }
};

class HealthServiceTest : public ::testing::Test {
 protected:
  HealthServiceTest() : registry_(Options()) {}

  RegistryOptions Options() {
    RegistryOptions o;
    o.clock = &clock_;
    return o;
  }

  void SetUp() override {
    Add("loop", {"liveness"}, &loop_);
    Add("pg", {"readiness", "db"}, &pg_);
    Step();
    auto server = HealthServer::Start(&registry_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = Health::NewStub(channel_);
  }

  void Add(std::string name, std::vector<std::string> groups, Switch* s) {
    Check c;
    c.name = std::move(name);
    c.options.groups = std::move(groups);
    c.options.interval = absl::Seconds(1);
    c.options.failure_threshold = 1;
    c.function = s->Function();
    ASSERT_TRUE(registry_.Register(std::move(c)).ok());
  }

  // Runs every due check and publishes (the listener pushes to watchers).
  void Step() {
    registry_.RunOnceForTest();
    ASSERT_TRUE(registry_.WaitUntilIdleForTest());
    registry_.RunOnceForTest();
  }
  // Advances past every interval and steps.
  void Tick() {
    clock_.Advance(absl::Seconds(1));
    Step();
  }

  // Check's status, or -(grpc code) on error.
  int CheckStatus(const std::string& service,
                  std::string* error_message = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status s = stub_->Check(&context, request, &response);
    if (error_message != nullptr) *error_message = s.error_message();
    return s.ok() ? response.status() : -static_cast<int>(s.error_code());
  }

  testing::FakeClock clock_;
  HealthRegistry registry_;
  Switch loop_;
  Switch pg_;
  std::unique_ptr<HealthServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, CheckAnswersOverallGroupsChecksAndUnknown) {
  EXPECT_EQ(CheckStatus(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckStatus("liveness"), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckStatus("readiness"), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckStatus("startup"), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckStatus("db"), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckStatus("pg"), HealthCheckResponse::SERVING);
  std::string message;
  EXPECT_EQ(CheckStatus("nope", &message), -grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(message, HasSubstr("\"nope\""));

  pg_.Set(Status::kUnhealthy);
  Tick();
  EXPECT_EQ(CheckStatus(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckStatus("readiness"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckStatus("db"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckStatus("pg"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckStatus("liveness"), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckStatus("loop"), HealthCheckResponse::SERVING);
  EXPECT_EQ(server_->service()->stats().checks, 13u);
}

TEST_F(HealthServiceTest, CheckOfACheckThatNeverRanIsUnknown) {
  Check c;
  c.name = "slow";
  c.options.initial_delay = absl::Seconds(60);
  c.function = pg_.Function();
  ASSERT_TRUE(registry_.Register(std::move(c)).ok());
  EXPECT_EQ(CheckStatus("slow"), HealthCheckResponse::UNKNOWN);
  EXPECT_EQ(CheckStatus("readiness"), HealthCheckResponse::UNKNOWN);
}

TEST_F(HealthServiceTest, WatchSeesEveryTransitionInOrder) {
  Watcher pg(stub_.get(), "pg");
  Watcher all(stub_.get(), "");
  EXPECT_EQ(pg.Next(), HealthCheckResponse::SERVING);  // At once.
  EXPECT_EQ(all.Next(), HealthCheckResponse::SERVING);
  pg_.Set(Status::kUnhealthy);
  Tick();
  EXPECT_EQ(pg.Next(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(all.Next(), HealthCheckResponse::NOT_SERVING);
  pg_.Set(Status::kHealthy);
  Tick();
  EXPECT_EQ(pg.Next(), HealthCheckResponse::SERVING);
  EXPECT_EQ(all.Next(), HealthCheckResponse::SERVING);
  // A change that does not change the serving status sends nothing: the
  // stream's next event is its end (OK) when the server stops.
  pg_.Set(Status::kDegraded);
  Tick();
  server_->Stop();
  EXPECT_EQ(pg.Next(), -1);
  EXPECT_TRUE(pg.reader->Finish().ok());
  EXPECT_EQ(all.Next(), -1);
}

TEST_F(HealthServiceTest, WatchOfAnUnknownNameStaysOpenUntilItExists) {
  Watcher w(stub_.get(), "cache");
  EXPECT_EQ(w.Next(), HealthCheckResponse::SERVICE_UNKNOWN);
  Switch cache;
  // Registering it publishes it (not run yet: UNKNOWN, which also turns
  // readiness UNKNOWN, a transition); its first run makes it SERVING.
  Add("cache", {"readiness"}, &cache);
  EXPECT_EQ(w.Next(), HealthCheckResponse::UNKNOWN);
  Step();
  EXPECT_EQ(w.Next(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(registry_.Unregister("cache").ok());
  pg_.Set(Status::kUnhealthy);  // Some later transition.
  Tick();
  EXPECT_EQ(w.Next(), HealthCheckResponse::SERVICE_UNKNOWN);
}

TEST_F(HealthServiceTest, ListReturnsOverallEveryGroupAndCheck) {
  pg_.Set(Status::kUnhealthy);
  Tick();
  grpc::ClientContext context;
  HealthListResponse response;
  ASSERT_TRUE(stub_->List(&context, HealthListRequest(), &response).ok());
  std::vector<std::pair<std::string, int>> got;
  for (const auto& [name, r] : response.statuses()) {
    got.emplace_back(name, r.status());
  }
  EXPECT_THAT(got,
              UnorderedElementsAre(
                  std::make_pair("", HealthCheckResponse::NOT_SERVING),
                  std::make_pair("liveness", HealthCheckResponse::SERVING),
                  std::make_pair("readiness", HealthCheckResponse::NOT_SERVING),
                  std::make_pair("startup", HealthCheckResponse::SERVING),
                  std::make_pair("db", HealthCheckResponse::NOT_SERVING),
                  std::make_pair("loop", HealthCheckResponse::SERVING),
                  std::make_pair("pg", HealthCheckResponse::NOT_SERVING)));
}

TEST_F(HealthServiceTest, ListOverTheLimitOf100IsResourceExhausted) {
  // "", 4 groups (liveness, readiness, startup, db) and 2 checks: 7 entries.
  // 93 more checks make exactly 100; one more is over.
  Switch s;
  for (int i = 0; i < 93; ++i) {
    Add(absl::StrCat("c", i), {"readiness"}, &s);
  }
  {
    grpc::ClientContext context;
    HealthListResponse response;
    ASSERT_TRUE(stub_->List(&context, HealthListRequest(), &response).ok());
    EXPECT_EQ(response.statuses_size(), 100);
  }
  Add("c93", {"readiness"}, &s);
  grpc::ClientContext context;
  HealthListResponse response;
  grpc::Status st = stub_->List(&context, HealthListRequest(), &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr("101 services"));
}

TEST_F(HealthServiceTest, WatchStreamsOverTheLimitAreRefused) {
  server_.reset();
  HealthServerOptions o;
  o.service.max_watch_streams = 2;
  auto server = HealthServer::Start(&registry_, o);
  ASSERT_TRUE(server.ok());
  server_ = *std::move(server);
  auto stub = Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                          grpc::InsecureChannelCredentials()));
  Watcher a(stub.get(), "");
  Watcher b(stub.get(), "pg");
  ASSERT_EQ(a.Next(), HealthCheckResponse::SERVING);
  ASSERT_EQ(b.Next(), HealthCheckResponse::SERVING);
  Watcher c(stub.get(), "loop");
  EXPECT_EQ(c.Next(), -1);
  EXPECT_EQ(c.reader->Finish().error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(server_->service()->stats().watches_refused, 1u);
}

// Drain with 100 open Watch streams: readiness and "" turn NOT_SERVING at
// once and every stream is told; when the drain delay has passed (fake
// clock) Shutdown() completes every stream and returns within stop_grace.
TEST_F(HealthServiceTest, DrainEndsEveryWatchStreamAndShutdownReturns) {
  constexpr int kStreams = 100;
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < kStreams; ++i) {
    watchers.push_back(
        std::make_unique<Watcher>(stub_.get(), i % 2 == 0 ? "readiness" : ""));
  }
  for (auto& w : watchers) ASSERT_EQ(w->Next(), HealthCheckResponse::SERVING);
  ASSERT_EQ(server_->service()->stats().open_watches, kStreams);

  Mutex mu;
  bool returned = false;
  absl::Time returned_at;
  std::thread shutdown([&] {
    server_->Shutdown(absl::Seconds(5));
    MutexLock lock(&mu);
    returned = true;
    returned_at = absl::Now();
  });
  for (auto& w : watchers) {
    EXPECT_EQ(w->Next(), HealthCheckResponse::NOT_SERVING);
  }
  // Still draining: Check answers, liveness passes, nothing has returned.
  EXPECT_EQ(CheckStatus("readiness"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckStatus("liveness"), HealthCheckResponse::SERVING);
  {
    MutexLock lock(&mu);
    EXPECT_FALSE(returned);
  }
  const absl::Time drain_over = absl::Now();
  clock_.Advance(absl::Seconds(5));
  for (auto& w : watchers) {
    EXPECT_EQ(w->Next(), -1);
    EXPECT_TRUE(w->reader->Finish().ok());
  }
  shutdown.join();
  EXPECT_LE(returned_at - drain_over,
            absl::Seconds(1) + absl::Milliseconds(500))
      << "shutdown took " << (returned_at - drain_over) << " after the drain";
  EXPECT_EQ(server_->service()->stats().open_watches, 0);
}

// Load: 100 Watch streams, two threads flooding Check, and one client that
// never reads its stream, while "pg" flips on every 10 ms step. The
// registry is never held up, no stream repeats a status, and every stream
// ends on the final state.
TEST_F(HealthServiceTest, WatchUnderLoadLosesNoFinalState) {
  constexpr int kStreams = 100;
  struct Reader {
    std::unique_ptr<Watcher> watcher;
    std::vector<int> seen;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Reader>> readers;
  for (int i = 0; i < kStreams; ++i) {
    auto r = std::make_unique<Reader>();
    r->watcher = std::make_unique<Watcher>(stub_.get(), i % 2 ? "pg" : "");
    readers.push_back(std::move(r));
  }
  for (auto& r : readers) {
    Reader* raw = r.get();
    raw->thread = std::thread([raw] {
      for (int s; (s = raw->watcher->Next()) >= 0;) raw->seen.push_back(s);
    });
  }
  Watcher never_read(stub_.get(), "pg");
  std::atomic<bool> flood{true};
  std::atomic<int> checks{0};
  std::vector<std::thread> flooders;
  for (int t = 0; t < 2; ++t) {
    flooders.emplace_back([&] {
      while (flood.load()) {
        CheckStatus("pg");
        checks.fetch_add(1);
      }
    });
  }
  constexpr int kFlips = 300;
  for (int i = 0; i < kFlips; ++i) {
    pg_.Set(i % 2 == 0 ? Status::kUnhealthy : Status::kHealthy);
    Tick();
  }
  pg_.Set(Status::kUnhealthy);  // The final state.
  Tick();
  flood.store(false);
  for (std::thread& t : flooders) t.join();
  EXPECT_GT(checks.load(), 0);
  EXPECT_EQ(server_->service()->stats().open_watches, kStreams + 1);
  // Stopping completes every stream after its latest status is sent.
  server_->Stop();
  for (auto& r : readers) {
    r->thread.join();
    ASSERT_FALSE(r->seen.empty());
    EXPECT_EQ(r->seen.back(), HealthCheckResponse::NOT_SERVING);
    for (size_t i = 1; i < r->seen.size(); ++i) {
      ASSERT_NE(r->seen[i], r->seen[i - 1]) << "repeated status";
    }
  }
  const HealthServiceStats stats = server_->service()->stats();
  EXPECT_EQ(stats.open_watches, 0);
  // Each stream holds at most one status: what was not sent was coalesced.
  EXPECT_LE(stats.watch_messages, (kStreams + 1) * (kFlips + 3u));
}

// Mounted on an application's server whose own handlers are all stuck (a
// generic async service nobody serves): health still answers, on gRPC's
// callback threads.
TEST_F(HealthServiceTest, MountedServiceAnswersWhileTheAppIsStuck) {
  auto service = HealthService::Create(&registry_);
  ASSERT_TRUE(service.ok());
  grpc::AsyncGenericService app;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service->get());
  builder.RegisterAsyncGenericService(&app);
  std::unique_ptr<grpc::ServerCompletionQueue> cq =
      builder.AddCompletionQueue();
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  // An application call that nobody will ever pick up.
  grpc::ClientContext stuck_context;
  stuck_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue client_cq;
  auto stuck = generic.PrepareUnaryCall(&stuck_context, "/app.Busy/Work",
                                        grpc::ByteBuffer(), &client_cq);
  stuck->StartCall();
  grpc::ByteBuffer stuck_reply;
  grpc::Status stuck_status;
  stuck->Finish(&stuck_reply, &stuck_status, &stuck_status);

  auto stub = Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  HealthCheckRequest request;
  request.set_service("readiness");
  HealthCheckResponse response;
  ASSERT_TRUE(stub->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  Watcher w(stub.get(), "pg");
  EXPECT_EQ(w.Next(), HealthCheckResponse::SERVING);
  // Shutdown order for a mounted service: Watch streams first.
  EXPECT_TRUE((*service)->CompleteWatches());
  EXPECT_EQ(w.Next(), -1);
  stuck_context.TryCancel();
  void* tag;
  bool ok;
  ASSERT_TRUE(client_cq.Next(&tag, &ok));
  EXPECT_EQ(tag, &stuck_status);
  EXPECT_EQ(stuck_status.error_code(), grpc::StatusCode::CANCELLED);
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  cq->Shutdown();
  while (cq->Next(&tag, &ok)) {
  }
  client_cq.Shutdown();
  while (client_cq.Next(&tag, &ok)) {
  }
}

TEST(HealthServerTest, RejectsBadOptions) {
  HealthRegistry registry;
  HealthServerOptions o;
  o.address = "localhost";
  EXPECT_EQ(HealthServer::Start(&registry, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.address = "127.0.0.1";
  o.service.max_watch_streams = 0;
  EXPECT_EQ(HealthServer::Start(&registry, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HealthService::Create(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HealthServerTest, PortInUseIsUnavailable) {
  HealthRegistry registry;
  auto first = HealthServer::Start(&registry);
  ASSERT_TRUE(first.ok());
  HealthServerOptions o;
  o.port = (*first)->port();
  EXPECT_EQ(HealthServer::Start(&registry, o).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace grpc_health
}  // namespace vigil
