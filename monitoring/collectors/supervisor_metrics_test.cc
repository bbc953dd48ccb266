// Runs under a real supervisor: the first child exits with status 3, the
// supervisor restarts it, and the second child checks what
// WriteSupervisorMetrics() reports (one restart, cause "exited", a recent
// timestamp); before Supervise() the process reports itself unsupervised.
// Its own main: Supervise() must run before any thread exists.
#include "monitoring/collectors/supervisor_metrics.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "health/http/prometheus.h"
#include "watchdog/supervisor.h"

namespace {

int failures = 0;

void Expect(bool ok, const std::string& what, const std::string& text) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "FAILED: %s\nexposition:\n%s\n", what.c_str(),
               text.c_str());
}

std::string Exposition() {
  vigil::http::PrometheusWriter w;
  vigil::WriteSupervisorMetrics(w);
  Expect(w.errors().empty(), "writer errors", w.text());
  return w.text();
}

}  // namespace

int main() {
  if (!vigil::IsSupervised()) {
    const std::string text = Exposition();
    Expect(absl::StrContains(text, "\nvigil_supervisor_supervised 0\n"),
           "unsupervised: supervised 0", text);
    Expect(absl::StrContains(text, "\nvigil_supervisor_restarts_total 0\n"),
           "unsupervised: restarts 0", text);
    Expect(!absl::StrContains(text, "last_incident"),
           "unsupervised: no incident", text);
    if (failures > 0) return 1;
  }
  vigil::SupervisorOptions o;
  o.name = "supervisor-metrics-test";
  o.initial_backoff = absl::Milliseconds(10);
  o.max_restarts = 2;
  if (absl::Status s = vigil::Supervise(o); !s.ok()) {
    std::fprintf(stderr, "FAILED: Supervise: %s\n", s.ToString().c_str());
    return 1;
  }
  if (vigil::RestartCount() == 0) _exit(3);  // The first child "crashes".
  const std::string text = Exposition();
  Expect(absl::StrContains(text, "\nvigil_supervisor_supervised 1\n"),
         "supervised 1", text);
  Expect(absl::StrContains(text,
                           "# TYPE vigil_supervisor_restarts_total "
                           "counter\nvigil_supervisor_restarts_total 1\n"),
         "restarts 1", text);
  const std::string prefix =
      "vigil_supervisor_last_incident_timestamp_seconds{cause=\"exited\"} ";
  const size_t at = text.find(prefix);
  Expect(at != std::string::npos, "incident with cause exited", text);
  if (at != std::string::npos) {
    const size_t start = at + prefix.size();
    double t = 0;
    Expect(absl::SimpleAtod(text.substr(start, text.find('\n', start) - start),
                            &t) &&
               std::abs(absl::ToUnixSeconds(absl::Now()) - t) < 60,
           "incident timestamp within a minute of now", text);
  }
  if (failures == 0) std::printf("PASSED\n%s", text.c_str());
  return failures == 0 ? 0 : 1;
}
