#include "health/http/internal/negotiation.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

struct MediaRange {
  std::string type;
  std::string subtype;
  double q = 1.0;
};

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (absl::ascii_isalnum(c)) continue;
    if (absl::string_view("!#$%&'*+-.^_`|~").find(c) == absl::string_view::npos)
      return false;
  }
  return true;
}

// "0", "0.5", "1", "1.000": a qvalue per RFC 9110 (leniently parsed).
std::optional<double> ParseQ(absl::string_view s) {
  double q;
  if (s.empty() || s.size() > 5 || !absl::SimpleAtod(s, &q)) return {};
  if (!(q >= 0.0 && q <= 1.0)) return {};
  return q;
}

std::optional<MediaRange> ParseRange(absl::string_view element) {
  std::vector<absl::string_view> parts = absl::StrSplit(element, ';');
  absl::string_view media = absl::StripAsciiWhitespace(parts[0]);
  std::vector<absl::string_view> ts = absl::StrSplit(media, '/');
  if (ts.size() != 2 || !IsToken(ts[0]) || !IsToken(ts[1])) return {};
  MediaRange r;
  r.type = absl::AsciiStrToLower(ts[0]);
  r.subtype = absl::AsciiStrToLower(ts[1]);
  if (r.type == "*" && r.subtype != "*") return {};
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
    const size_t eq = p.find('=');
    if (eq == absl::string_view::npos) return {};
    absl::string_view name = absl::StripAsciiWhitespace(p.substr(0, eq));
    if (!IsToken(name)) return {};
    if (absl::AsciiStrToLower(name) != "q") continue;
    std::optional<double> q =
        ParseQ(absl::StripAsciiWhitespace(p.substr(eq + 1)));
    if (!q) return {};
    r.q = *q;
  }
  return r;
}

// How specifically `range` names `type/subtype`: 2 exact, 1 type/*, 0 */*,
// -1 no match.
int Specificity(const MediaRange& range, absl::string_view type,
                absl::string_view subtype) {
  if (range.type == "*") return 0;
  if (range.type != type) return -1;
  if (range.subtype == "*") return 1;
  return range.subtype == subtype ? 2 : -1;
}

struct Candidate {
  Format format;
  std::vector<absl::string_view> media_types;
};

const std::vector<Candidate>& Candidates() {
  static const auto* candidates = new std::vector<Candidate>{
      {Format::kText, {"text/plain"}},
      {Format::kJson, {"application/json"}},
      {Format::kProtobuf,
       {"application/x-protobuf", "application/protobuf",
        "application/vnd.google.protobuf"}},
  };
  return *candidates;
}

// Ordering key for a candidate's best match: higher is better.
struct Score {
  double q = -1;
  int specificity = -1;
  int position = 0;  // negated index: earlier wins

  bool operator>(const Score& o) const {
    if (q != o.q) return q > o.q;
    if (specificity != o.specificity) return specificity > o.specificity;
    return position > o.position;
  }
};

Score ScoreOf(const Candidate& c, const std::vector<MediaRange>& ranges) {
  Score best;
  for (absl::string_view media : c.media_types) {
    const size_t slash = media.find('/');
    const absl::string_view type = media.substr(0, slash);
    const absl::string_view subtype = media.substr(slash + 1);
    // The most specific range matching this media type decides its q.
    int spec = -1;
    int index = 0;
    for (int i = 0; i < static_cast<int>(ranges.size()); ++i) {
      const int s = Specificity(ranges[i], type, subtype);
      if (s > spec) {
        spec = s;
        index = i;
      }
    }
    if (spec < 0) continue;
    Score score{ranges[index].q, spec, -index};
    if (score > best) best = score;
  }
  return best;
}

}  // namespace

absl::string_view ContentType(Format format) {
  switch (format) {
    case Format::kText:
      return "text/plain; charset=utf-8";
    case Format::kJson:
      return "application/json";
    case Format::kProtobuf:
      return "application/x-protobuf";
  }
  return "text/plain; charset=utf-8";
}

absl::StatusOr<Format> ParseFormatParam(absl::string_view value) {
  const std::string v = absl::AsciiStrToLower(value);
  if (v == "text" || v == "txt" || v == "plain") return Format::kText;
  if (v == "json") return Format::kJson;
  if (v == "protobuf" || v == "proto" || v == "pb") return Format::kProtobuf;
  return absl::NotFoundError("unknown format");
}

Format FormatFromAccept(absl::string_view accept) {
  std::vector<MediaRange> ranges;
  for (absl::string_view element : absl::StrSplit(accept, ',')) {
    if (absl::StripAsciiWhitespace(element).empty()) continue;
    std::optional<MediaRange> r = ParseRange(element);
    if (!r) return Format::kText;  // Malformed: fall back.
    ranges.push_back(std::move(*r));
  }
  if (ranges.empty()) return Format::kText;
  Format chosen = Format::kText;
  Score best;
  for (const Candidate& c : Candidates()) {
    const Score s = ScoreOf(c, ranges);
    if (s.q > 0 && s > best) {
      best = s;
      chosen = c.format;
    }
  }
  return chosen;
}

}  // namespace internal
}  // namespace http
}  // namespace vigil
