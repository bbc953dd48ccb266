// The example's overload actions (health/pressure/overload.h): while the
// memory check is UNHEALTHY the application server answers new requests
// 503 with Retry-After (its mounted /health probes keep answering), while
// it is DEGRADED or worse answers close their connections, with
// --overload_stop_accepting it accepts no new connection while UNHEALTHY,
// and the actions' states are on /metrics.

#ifndef VIGIL_EXAMPLES_SERVICE_OVERLOAD_H_
#define VIGIL_EXAMPLES_SERVICE_OVERLOAD_H_

#include <memory>

#include "health/http/endpoints.h"
#include "health/pressure/overload.h"
#include "health/registry.h"
#include "httplib.h"

namespace vigil_example {

// Installs the hook on `app` (before it listens) and the metrics on
// `endpoints`. The manager's registry listener lives as long as `registry`:
// keep the returned manager alive until the registry is destroyed. Exits the
// process on a configuration error, like the rest of the example.
std::unique_ptr<vigil::pressure::OverloadManager> InstallOverload(
    vigil::HealthRegistry& registry, httplib::Server& app,
    vigil::http::HealthEndpoints* endpoints);

}  // namespace vigil_example

#endif  // VIGIL_EXAMPLES_SERVICE_OVERLOAD_H_
