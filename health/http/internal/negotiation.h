// Content negotiation for the probe endpoints: ?format= and Accept.

#ifndef VIGIL_HEALTH_HTTP_INTERNAL_NEGOTIATION_H_
#define VIGIL_HEALTH_HTTP_INTERNAL_NEGOTIATION_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {
namespace http {
namespace internal {

enum class Format { kText, kJson, kProtobuf };

// What a 406 answer lists.
inline constexpr absl::string_view kSupportedFormats = "text, json, protobuf";

// The Content-Type of each format.
absl::string_view ContentType(Format format);

// A ?format= value: "text" (or "txt", "plain"), "json", "protobuf" (or
// "proto", "pb"), case-insensitive. NotFound for anything else.
absl::StatusOr<Format> ParseFormatParam(absl::string_view value);

// The format an Accept header asks for (RFC 9110 section 12.5.1): the
// acceptable media range with the highest q, then the most specific, then the
// first listed; text for */* ties. Understands text/plain,
// application/json, application/x-protobuf (also application/protobuf and
// application/vnd.google.protobuf) and wildcards. An absent, malformed or
// unsatisfiable header gives text: probes must not fail over a header.
Format FormatFromAccept(absl::string_view accept);

}  // namespace internal
}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_INTERNAL_NEGOTIATION_H_
