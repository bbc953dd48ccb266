// UTF-8 validation and repair for every text vigil's HTTP answers carry.
//
// Check names, messages and details come from user code and from the
// outside world (a dependency's error text, a file name), so they may hold
// any bytes. JSON and protobuf (proto3 `string`) require valid UTF-8 — the
// JSON printer refuses the whole message over one bad byte — and text and
// Prometheus answers declare `charset=utf-8`. Every such text goes through
// this one helper: invalid sequences become U+FFFD, valid text is kept
// byte for byte.
//
//   std::string safe = vigil::http::internal::SanitizeUtf8("caf\xE9");
//   // safe == "caf\xEF\xBF\xBD" ("caf" U+FFFD)
#ifndef VIGIL_HEALTH_HTTP_INTERNAL_UTF8_H_
#define VIGIL_HEALTH_HTTP_INTERNAL_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace google {
namespace protobuf {
class Message;
}  // namespace protobuf
}  // namespace google

namespace vigil {
namespace http {
namespace internal {

// The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER.
inline constexpr absl::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Length (1 to 4) of the well-formed UTF-8 sequence starting at s[i], or 0
// when the bytes there are not one (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF). Requires i < s.size().
size_t Utf8SequenceLength(absl::string_view s, size_t i);

// Whether all of `s` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view s);

// `s` with each byte that does not start a well-formed sequence replaced by
// U+FFFD (one replacement per such byte). Returns `s` unchanged when it is
// valid; the result is always valid UTF-8.
std::string SanitizeUtf8(absl::string_view s);

// Applies SanitizeUtf8 to every string field of `message`, recursively
// (nested, repeated and map fields, map keys included; `bytes` fields are
// left alone). Returns the number of fields changed. After it, JSON
// printing cannot fail over encoding and proto3 parsers accept the bytes.
int SanitizeUtf8Fields(google::protobuf::Message* message);

}  // namespace internal
}  // namespace http
}  // namespace vigil

#endif  // VIGIL_HEALTH_HTTP_INTERNAL_UTF8_H_
