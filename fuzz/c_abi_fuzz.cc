// Fuzzes the C ABI's string inputs (bindings/c/vigil.h): check names,
// group lists, TCP addresses, URLs, gauge units, the message a check
// writes, and lookups by name and group, with short error and message
// buffers. Dependency checks are registered and removed again, never run:
// a fuzzed address is not contacted.
//
// The input is six parts cut at "\n%%\n": name, groups, address, URL,
// unit, message. Properties: every error and message buffer comes back
// NUL-terminated within its length; a registered check's message reads
// back as a prefix of what it wrote; the JSON report is never NULL (any
// message bytes) and parses as a HealthReport; protobuf report bytes parse.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "bindings/c/vigil.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/split_input.h"
#include "health/proto/health.pb.h"
#include "health/report.h"

namespace {

// The message the fuzzed check writes, for the current input.
std::string* current_message = new std::string;

vigil_status WriteMessage(void*, char* message, size_t len) {
  if (len == 0) return VIGIL_UNHEALTHY;
  const size_t n = std::min(len - 1, current_message->size());
  std::memcpy(message, current_message->data(), n);
  message[n] = '\0';
  return VIGIL_DEGRADED;
}

int Constant(void*, double* value) {
  *value = 3;
  return 0;
}

bool Terminated(const char* buf, size_t len) {
  return std::memchr(buf, '\0', len) != nullptr;
}

vigil_registry* Registry() {
  static vigil_registry* r = vigil_registry_new("fuzz", "1");
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> p = vigil::fuzz::SplitInput(data, size, 6);
  vigil_registry* r = Registry();
  FUZZ_CHECK(r != nullptr);
  // C strings end at the first NUL: that is what a C caller can pass.
  for (std::string& s : p) s = std::string(s.c_str());
  *current_message = p[5];

  char err[24];
  vigil_check_options o;
  vigil_check_options_init(&o);
  o.groups = p[1].c_str();
  o.failure_threshold = 1;
  std::memset(err, 'x', sizeof(err));
  const int rc = vigil_register_check(r, p[0].c_str(), &o, WriteMessage,
                                      nullptr, err, sizeof(err));
  if (rc != VIGIL_OK) FUZZ_CHECK(Terminated(err, sizeof(err)));

  // Registered and removed at once: never run against a fuzzed peer.
  std::memset(err, 'x', sizeof(err));
  if (vigil_register_tcp_check(r, "fuzz-tcp", p[2].c_str(), nullptr, err,
                               sizeof(err)) == VIGIL_OK) {
    FUZZ_CHECK(vigil_unregister_check(r, "fuzz-tcp") == VIGIL_OK);
  } else {
    FUZZ_CHECK(Terminated(err, sizeof(err)));
  }
  std::memset(err, 'x', sizeof(err));
  if (vigil_register_http_check(r, "fuzz-http", p[3].c_str(), nullptr, err,
                                sizeof(err)) == VIGIL_OK) {
    FUZZ_CHECK(vigil_unregister_check(r, "fuzz-http") == VIGIL_OK);
  } else {
    FUZZ_CHECK(Terminated(err, sizeof(err)));
  }
  std::memset(err, 'x', sizeof(err));
  const bool gauge = vigil_register_gauge_check(
                         r, "fuzz-gauge", Constant, nullptr, nullptr, 10, 0, 0,
                         p[4].c_str(), nullptr, err, sizeof(err)) == VIGIL_OK;
  if (!gauge) FUZZ_CHECK(Terminated(err, sizeof(err)));

  FUZZ_CHECK(vigil_run_once_for_test(r, 5.0) == 1);
  vigil_group_status(r, p[1].c_str());
  vigil_status status;
  char message[16];
  std::memset(message, 'x', sizeof(message));
  const int found =
      vigil_check_status(r, p[0].c_str(), &status, message, sizeof(message));
  if (rc == VIGIL_OK) {
    FUZZ_CHECK(found == VIGIL_OK);
    FUZZ_CHECK(Terminated(message, sizeof(message)));
    FUZZ_CHECK(absl::string_view(p[5]).substr(0, std::strlen(message)) ==
                   message ||
               status != VIGIL_DEGRADED);
  }

  char* json = vigil_report_json(r);
  FUZZ_CHECK(json != nullptr);
  FUZZ_CHECK(vigil::HealthReportFromJson(json).ok());
  vigil_string_free(json);
  void* bytes = nullptr;
  size_t len = 0;
  FUZZ_CHECK(vigil_report_proto(r, &bytes, &len) == VIGIL_OK);
  vigil::v1::HealthReport report;
  FUZZ_CHECK(report.ParseFromArray(bytes, static_cast<int>(len)));
  vigil_free(bytes);

  if (rc == VIGIL_OK) vigil_unregister_check(r, p[0].c_str());
  if (gauge) vigil_unregister_check(r, "fuzz-gauge");
  return 0;
}
