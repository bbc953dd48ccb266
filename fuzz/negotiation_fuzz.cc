// Fuzzes content negotiation (health/http/internal/negotiation.h): the
// Accept header and the ?format= value.
//
// Properties: any Accept header gives one of the three formats (probes must
// not fail over a header); ?format= is case-insensitive and accepts only
// what it documents; an Accept list that is the input followed by a range
// An Accept list of junk with q=0 followed by one format's media type gives
// that format, or text when the junk is malformed (the whole header is then
// ignored) or names the same media type with a higher precedence.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "health/http/internal/negotiation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vigil::http::internal::Format;
  const absl::string_view in(reinterpret_cast<const char*>(data), size);

  const Format f = vigil::http::internal::FormatFromAccept(in);
  FUZZ_CHECK(f == Format::kText || f == Format::kJson ||
             f == Format::kProtobuf);
  FUZZ_CHECK(!vigil::http::internal::ContentType(f).empty());

  const auto param = vigil::http::internal::ParseFormatParam(in);
  const auto upper =
      vigil::http::internal::ParseFormatParam(absl::AsciiStrToUpper(in));
  FUZZ_CHECK(param.ok() == upper.ok());
  if (param.ok()) {
    FUZZ_CHECK(*param == *upper);
    FUZZ_CHECK(size <= 8);  // "protobuf" is the longest name.
  }

  // Each format is chosen when its own media type is the only acceptable
  // one, whatever junk precedes it with q=0; a malformed list gives text.
  const std::string junk = std::string(in.substr(0, in.find_first_of(",;")));
  for (const Format want : {Format::kText, Format::kJson, Format::kProtobuf}) {
    std::string media(vigil::http::internal::ContentType(want));
    media = media.substr(0, media.find(';'));
    FUZZ_CHECK(vigil::http::internal::FormatFromAccept(media) == want);
    const Format got =
        vigil::http::internal::FormatFromAccept(junk + ";q=0, " + media);
    FUZZ_CHECK(got == want || got == Format::kText);
  }
  return 0;
}
