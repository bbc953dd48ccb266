#include "health/http/overload_hook.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "health/http/prometheus.h"

namespace vigil {
namespace http {

absl::Status InstallOverloadHook(httplib::Server* server,
                                 pressure::OverloadManager* manager,
                                 OverloadHookOptions options) {
  if (server == nullptr || manager == nullptr) {
    return absl::InvalidArgumentError(
        "overload hook: server and manager must not be null");
  }
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
