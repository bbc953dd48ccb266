#include "health/http/overload_hook.h"

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "health/http/prometheus.h"

namespace vigil {
namespace http {
namespace {

// Whether `fd` is (still) a listening socket. Server::stop() shuts the
// socket down (state CLOSE) and closes it.
bool Listening(int fd) {
  int accepting = 0;
  socklen_t len = sizeof(accepting);
  return fd >= 0 &&
         getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 &&
         accepting == 1;
}

// The accept gate: the listener thread enqueues each connection it has
// accepted; holding it there keeps the thread from calling accept() again.
class GatedTaskQueue : public httplib::TaskQueue {
 public:
  GatedTaskQueue(std::shared_ptr<std::atomic<int>> listen_fd,
                 pressure::OverloadManager* manager,
                 std::unique_ptr<httplib::TaskQueue> inner)
      : listen_fd_(std::move(listen_fd)),
        manager_(manager),
        inner_(std::move(inner)) {}

  void enqueue(std::function<void()> fn) override {
    // cpp-httplib's is_running() stays true until listen() returns, which
    // it cannot while the listener is held here: watch the socket itself.
    while (!manager_->WaitUntilAccepting(absl::Milliseconds(100)) &&
           Listening(listen_fd_->load())) {
    }
    inner_->enqueue(std::move(fn));
  }
  void shutdown() override { inner_->shutdown(); }
  void on_idle() override { inner_->on_idle(); }

 private:
  const std::shared_ptr<std::atomic<int>> listen_fd_;
  pressure::OverloadManager* const manager_;
  const std::unique_ptr<httplib::TaskQueue> inner_;
};

}  // namespace

absl::Status InstallOverloadHook(httplib::Server* server,
                                 pressure::OverloadManager* manager,
                                 OverloadHookOptions options) {
  if (server == nullptr || manager == nullptr) {
    return absl::InvalidArgumentError(
        "overload hook: server and manager must not be null");
  }
  auto listen_fd = std::make_shared<std::atomic<int>>(-1);
  server->set_socket_options(
      [listen_fd,
       socket_options = std::move(options.socket_options)](socket_t sock) {
        if (socket_options) socket_options(sock);
        listen_fd->store(sock);
      });
  server->new_task_queue = [listen_fd, manager,
                            inner = std::move(server->new_task_queue)] {
    return new GatedTaskQueue(listen_fd, manager,
                              std::unique_ptr<httplib::TaskQueue>(inner()));
  };
  const std::string retry_after = absl::StrCat(manager->retry_after_seconds());
  server->set_pre_routing_handler(
      [manager, options = std::move(options), retry_after](
          const httplib::Request& req, httplib::Response& res) {
        for (const std::string& prefix : options.exempt_prefixes) {
          if (absl::StartsWith(req.path, prefix)) {
            return options.next ? options.next(req, res)
                                : httplib::Server::HandlerResponse::Unhandled;
          }
        }
        if (manager->shedding()) {
          res.status = 503;
          res.set_header("Retry-After", retry_after);
          res.set_header("Connection", "close");
          res.set_header("Cache-Control", "no-store");
          res.set_content(options.body, "text/plain");
          return httplib::Server::HandlerResponse::Handled;
        }
        if (manager->closing_connections()) {
          res.set_header("Connection", "close");
        }
        return options.next ? options.next(req, res)
                            : httplib::Server::HandlerResponse::Unhandled;
      });
  return absl::OkStatus();
}

uint64_t AddOverloadMetrics(HealthEndpoints* endpoints,
                            const pressure::OverloadManager* manager) {
  return endpoints->AddMetricsCollector([manager](PrometheusWriter& w, bool) {
    const std::vector<pressure::OverloadActionState> states = manager->States();
    w.BeginFamily("vigil_overload_action_active", MetricType::kGauge,
                  "1 while the overload action is on.");
    for (const pressure::OverloadActionState& s : states) {
      w.Add({{"action", s.name}}, s.active ? 1 : 0);
    }
    w.BeginFamily("vigil_overload_action_activations_total",
                  MetricType::kCounter,
                  "Times the overload action turned on since start.");
    for (const pressure::OverloadActionState& s : states) {
      w.Add({{"action", s.name}}, static_cast<double>(s.activations));
    }
    const Status level = manager->level();
    w.Gauge("vigil_overload_level",
            "Pressure level of the overload manager: 0 healthy, 1 degraded, "
            "2 unhealthy.",
            level == Status::kUnhealthy  ? 2
            : level == Status::kDegraded ? 1
                                         : 0);
  });
}

}  // namespace http
}  // namespace vigil
