#include "health/http/endpoints.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <exception>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "health/http/internal/metrics.h"
#include "health/http/internal/negotiation.h"
#include "health/http/internal/statusz.h"
#include "health/http/internal/utf8.h"
#include "health/report.h"

namespace vigil {
namespace http {
namespace {

using internal::Format;

constexpr absl::string_view kAllow = "GET, HEAD, OPTIONS";

// What a path names.
struct Route {
  enum class Kind {
    kNotFound,
    kMetrics,
    kGroup,
    kCheck,
    kUnknownCheck,
    kStatusPage,
    kHistory,
    kEvents,
  };
  Kind kind = Kind::kNotFound;
  // The registry group ("readiness", "all", "db").
  std::string group;
  // How answers name it: "readyz", "readyz/postgres".
  std::string label;
  std::string check;
};

// Text for a text/plain; charset=utf-8 line: valid UTF-8 (invalid bytes
// become U+FFFD) without control characters (each becomes a space).
std::string Sanitize(absl::string_view s) {
  std::string out = internal::SanitizeUtf8(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string CheckLine(const CheckSnapshot& c, bool details) {
  const Status s = c.result.status;
  const std::string reason =
      details ? Sanitize(c.result.message) : "reason withheld";
  const std::string name = Sanitize(c.name);
  std::string line;
  if (s == Status::kHealthy) {
    line = absl::StrCat("[+]", name, " ok");
  } else if (s == Status::kDegraded) {
    line = absl::StrCat("[+]", name, " degraded");
    if (!reason.empty()) absl::StrAppend(&line, ": ", reason);
  } else {
    line = absl::StrCat("[-]", name, " failed");
    if (!c.critical) line += " (non-critical)";
    if (s == Status::kUnknown) {
      line += ": not evaluated yet";
    } else if (!reason.empty()) {
      absl::StrAppend(&line, ": ", reason);
    }
  }
  return line + "\n";
}

std::string UnknownExcludesLine(const std::vector<std::string>& unknown) {
  std::vector<std::string> quoted;
  for (const std::string& u : unknown) {
    quoted.push_back(absl::StrCat("\"", Sanitize(u), "\""));
  }
  return absl::StrCat("warn: some health checks cannot be excluded: ",
                      "no matches for ", absl::StrJoin(quoted, ","), "\n");
}

// Why a group fails, in one line, names and fixed reasons only.
std::string FailureSummary(const Snapshot& snap, const GroupSnapshot& g,
                           const absl::flat_hash_set<std::string>& exclude) {
  if (!g.reason.empty()) return Sanitize(g.reason);
  std::vector<std::string> failing;
  for (const CheckSnapshot& c : snap.checks) {
    if (!c.InGroup(g.name) || exclude.contains(c.name)) continue;
    if (c.critical && !IsPassing(c.result.status)) {
      failing.push_back(Sanitize(c.name));
    }
  }
  return absl::StrJoin(failing, ", ");
}

bool BearerMatches(absl::string_view authorization, absl::string_view token) {
  absl::string_view a = absl::StripAsciiWhitespace(authorization);
  constexpr absl::string_view kScheme = "bearer";
  if (a.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(a.substr(0, kScheme.size()), kScheme) ||
      a[kScheme.size()] != ' ') {
    return false;
  }
  absl::string_view given =
      absl::StripLeadingAsciiWhitespace(a.substr(kScheme.size()));
  // Constant time in the token's length.
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i) {
    const char g = i < given.size() ? given[i] : 0;
    diff |= static_cast<unsigned char>(g ^ token[i]);
  }
  return diff == 0;
}

bool IsValidPath(absl::string_view p) {
  if (p.empty()) return true;
  if (p.size() < 2 || p[0] != '/') return false;
  for (const char c : p.substr(1)) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' &&
        c != '~') {
      return false;
    }
  }
  return true;
}

HttpResponse WithStandardHeaders(HttpResponse r) {
  r.headers.reserve(r.headers.size() + 3);
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace

absl::StatusOr<DetailsPolicy> ParseDetailsPolicy(absl::string_view text) {
  if (text == "always") return DetailsPolicy::kAlways;
  if (text == "loopback_or_token") return DetailsPolicy::kLoopbackOrToken;
  if (text == "never") return DetailsPolicy::kNever;
  return absl::InvalidArgumentError(
      absl::StrCat("details: \"", text,
                   "\" is not one of always, loopback_or_token, never"));
}

absl::string_view DetailsPolicyName(DetailsPolicy policy) {
  switch (policy) {
    case DetailsPolicy::kAlways:
      return "always";
    case DetailsPolicy::kLoopbackOrToken:
      return "loopback_or_token";
    case DetailsPolicy::kNever:
      return "never";
  }
  return "never";
}

absl::string_view HttpRequest::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

bool HttpRequest::HasQuery(absl::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return true;
  }
  return false;
}

std::vector<std::string> HttpRequest::QueryValues(
    absl::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return WithStandardHeaders(std::move(r));
}

bool IsLoopbackAddress(absl::string_view address) {
  std::string a(absl::StripSuffix(absl::StripPrefix(address, "["), "]"));
  if (const size_t zone = a.find('%'); zone != std::string::npos) {
    a.resize(zone);
  }
  in_addr v4;
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, a.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

bool DetailsAllowed(const EndpointsOptions& options,
                    absl::string_view remote_address,
                    absl::string_view authorization) {
  switch (options.details) {
    case DetailsPolicy::kAlways:
      return true;
    case DetailsPolicy::kNever:
      return false;
    case DetailsPolicy::kLoopbackOrToken:
      break;
  }
  if (!options.bearer_token.empty() &&
      BearerMatches(authorization, options.bearer_token)) {
    return true;
  }
  return options.is_local_address ? options.is_local_address(remote_address)
                                  : IsLoopbackAddress(remote_address);
}

// The body of HealthEndpoints, kept out of the header.
class EndpointsImpl {
 public:
  EndpointsImpl(const HealthEndpoints& e, const Snapshot& snap,
                const HttpRequest& req)
      : e_(e), options_(e.options()), snap_(snap), req_(req) {}

  HttpResponse Answer() {
    const Route route = Resolve();
    switch (route.kind) {
      case Route::Kind::kNotFound:
        return HttpResponse::Text(404, "not found\n");
      case Route::Kind::kUnknownCheck:
        return HttpResponse::Text(
            404, absl::StrCat("unknown check \"", Sanitize(route.check),
                              "\" in ", route.label, "\n"));
      default:
        break;
    }
    if (HttpResponse r; !MethodAllowed(r)) return r;
    const bool details = DetailsAllowed(options_, req_.remote_address,
                                        req_.Header("Authorization"));
    if (route.kind == Route::Kind::kMetrics) {
      HttpResponse r = HttpResponse::Text(200, e_.RenderMetrics(details));
      r.content_type = std::string(kPrometheusContentType);
      return r;
    }
    if (route.kind == Route::Kind::kStatusPage) return StatusPage(details);
    if (route.kind == Route::Kind::kEvents) return EventsAnswer();
    absl::StatusOr<Format> format = ChooseFormat();
    if (!format.ok()) {
      return HttpResponse::Text(
          406, absl::StrCat("unsupported format \"",
                            Sanitize(req_.QueryValues("format").front()),
                            "\"; supported formats: ",
                            internal::kSupportedFormats, "\n"));
    }
    if (route.kind == Route::Kind::kHistory) {
      return HistoryAnswer(*format, details);
    }
    return route.kind == Route::Kind::kGroup
               ? GroupAnswer(route, *format, details)
               : CheckAnswer(route, *format, details);
  }

 private:
  HttpResponse StatusPage(bool details) const {
    internal::StatusPageOptions po;
    po.details = details;
    po.refresh_seconds = options_.statusz_refresh_seconds;
    po.self_url = options_.paths.statusz.substr(1);
    if (options_.history != nullptr) {
      po.events_url = absl::StrCat(po.self_url, "/events");
    }
    HttpResponse r = HttpResponse::Text(
        200, internal::RenderStatusPage(snap_, e_.registry()->service(),
                                        options_.history,
                                        e_.registry()->clock()->Now(), po));
    r.content_type = "text/html; charset=utf-8";
    return r;
  }

  // Streams are written by the probe server itself; a transport that hands
  // the request here cannot stream. It gets a valid, empty event stream, so
  // a page's EventSource ends without a console error and polls instead.
  HttpResponse EventsAnswer() const {
    if (options_.history == nullptr) {
      return HttpResponse::Text(404, "no history is kept\n");
    }
    HttpResponse r = HttpResponse::Text(
        200, ": this transport does not stream; poll <statusz>/history\n\n");
    r.content_type = "text/event-stream";
    return r;
  }

  // Parses ?since= (RFC 3339, or a duration back from now) and ?after=.
  bool ParseHistoryQuery(HistoryQuery& q, std::string& error) const {
    if (req_.HasQuery("check")) q.subject = req_.QueryValues("check").front();
    if (req_.HasQuery("after") &&
        !absl::SimpleAtoi(req_.QueryValues("after").front(), &q.after)) {
      error = "after: must be a sequence number";
      return false;
    }
    if (req_.HasQuery("since")) {
      const std::string since = req_.QueryValues("since").front();
      absl::Duration back;
      std::string parse_error;
      if (absl::ParseDuration(since, &back)) {
        q.since = e_.registry()->clock()->Now() - back;
      } else if (!absl::ParseTime(absl::RFC3339_full, since, &q.since,
                                  &parse_error)) {
        error = "since: must be an RFC 3339 time or a duration like 10m";
        return false;
      }
    }
    return true;
  }

  HttpResponse HistoryAnswer(Format format, bool details) const {
    if (options_.history == nullptr) {
      return HttpResponse::Text(404, "no history is kept\n");
    }
    HistoryQuery q;
    q.include_details = details;
    std::string error;
    if (!ParseHistoryQuery(q, error)) {
      return HttpResponse::Text(400, Sanitize(error) + "\n");
    }
    v1::HealthHistory h = ToHealthHistory(*options_.history, q);
    // Messages are any bytes: JSON and proto3 need UTF-8.
    internal::SanitizeUtf8Fields(&h);
    HttpResponse r;
    if (format == Format::kProtobuf) {
      r = HttpResponse::Text(200, h.SerializeAsString());
    } else {
      format = Format::kJson;
      absl::StatusOr<std::string> json = ToJson(h);
      if (!json.ok()) return HttpResponse::Text(500, "internal error\n");
      r = HttpResponse::Text(200, *std::move(json));
    }
    r.content_type = std::string(internal::ContentType(format));
    return r;
  }

  // Maps the path's first segment to a group, or "" if none.
  std::string GroupOf(absl::string_view segment) const {
    const EndpointPaths& p = options_.paths;
    if (!p.livez.empty() && segment == p.livez) return std::string(kLiveness);
    if (!p.readyz.empty() && segment == p.readyz) {
      return std::string(kReadiness);
    }
    if (!p.startupz.empty() && segment == p.startupz) {
      return std::string(kStartup);
    }
    if (!p.healthz.empty() && segment == p.healthz) {
      return std::string(kAllGroup);
    }
    if (!p.custom_groups || segment.size() < 3 || segment.back() != 'z') {
      return "";
    }
    const absl::string_view g = segment.substr(1, segment.size() - 2);
    if (g == kLiveness || g == kReadiness || g == kStartup || g == kAllGroup) {
      return "";
    }
    return snap_.FindGroup(g) != nullptr ? std::string(g) : "";
  }

  Route Resolve() const {
    Route r;
    const absl::string_view path = req_.path;
    if (!options_.paths.metrics.empty() && path == options_.paths.metrics) {
      r.kind = Route::Kind::kMetrics;
      return r;
    }
    if (path.empty() || path[0] != '/') return r;
    if (const std::string& z = options_.paths.statusz; !z.empty()) {
      if (path == z) {
        r.kind = Route::Kind::kStatusPage;
        return r;
      }
      if (absl::StartsWith(path, z) && path.substr(z.size()) == "/history") {
        r.kind = Route::Kind::kHistory;
        return r;
      }
      if (absl::StartsWith(path, z) && path.substr(z.size()) == "/events") {
        r.kind = Route::Kind::kEvents;
        return r;
      }
    }
    const size_t slash = path.find('/', 1);
    const absl::string_view segment = path.substr(0, slash);
    r.group = GroupOf(segment);
    if (r.group.empty()) return r;
    r.label = std::string(segment.substr(1));
    if (slash == absl::string_view::npos) {
      r.kind = Route::Kind::kGroup;
      return r;
    }
    r.check = std::string(path.substr(slash + 1));
    const CheckSnapshot* c = snap_.FindCheck(r.check);
    if (c == nullptr || !c->InGroup(r.group)) {
      r.kind = Route::Kind::kUnknownCheck;
      return r;
    }
    r.kind = Route::Kind::kCheck;
    absl::StrAppend(&r.label, "/", r.check);
    return r;
  }

  // False with `r` set to the answer when the method is not GET or HEAD.
  bool MethodAllowed(HttpResponse& r) const {
    if (req_.method == "GET" || req_.method == "HEAD") return true;
    if (req_.method == "OPTIONS") {
      r = HttpResponse::Text(204, "");
    } else {
      r = HttpResponse::Text(
          405, absl::StrCat("method not allowed; allowed: ", kAllow, "\n"));
    }
    r.headers.emplace_back("Allow", std::string(kAllow));
    return false;
  }

  absl::StatusOr<Format> ChooseFormat() const {
    if (req_.HasQuery("format")) {
      return internal::ParseFormatParam(req_.QueryValues("format").front());
    }
    return internal::FormatFromAccept(req_.Header("Accept"));
  }

  HttpResponse GroupAnswer(const Route& route, Format format, bool details) {
    const std::vector<std::string> excluded = req_.QueryValues("exclude");
    const absl::flat_hash_set<std::string> exclude(excluded.begin(),
                                                   excluded.end());
    const GroupSnapshot g = snap_.AggregateGroup(route.group, exclude);
    std::vector<std::string> unknown;
    for (const std::string& name : excluded) {
      const CheckSnapshot* c = snap_.FindCheck(name);
      const bool known = c != nullptr && c->InGroup(route.group);
      if (!known &&
          std::find(unknown.begin(), unknown.end(), name) == unknown.end()) {
        unknown.push_back(name);
      }
    }
    HttpResponse r;
    if (format == Format::kText) {
      r = HttpResponse::Text(0, GroupText(route, g, exclude, unknown, details));
    } else {
      std::vector<const CheckSnapshot*> members;
      for (const CheckSnapshot& c : snap_.checks) {
        if (c.InGroup(route.group) && !exclude.contains(c.name)) {
          members.push_back(&c);
        }
      }
      std::vector<GroupSnapshot> groups;
      if (route.group == kAllGroup) {
        for (const GroupSnapshot& each : snap_.groups) {
          groups.push_back(snap_.AggregateGroup(each.name, exclude));
        }
      } else {
        groups.push_back(g);
      }
      r = ReportAnswer(members, std::move(groups), g.status, format, details);
    }
    r.status = IsPassing(g.status) ? 200 : 503;
    if (!unknown.empty()) {
      std::string line = UnknownExcludesLine(unknown);
      line.pop_back();
      r.headers.emplace_back("Vigil-Warning", line);
    }
    return r;
  }

  std::string GroupText(const Route& route, const GroupSnapshot& g,
                        const absl::flat_hash_set<std::string>& exclude,
                        const std::vector<std::string>& unknown,
                        bool details) const {
    const bool passing = IsPassing(g.status);
    std::string out;
    if (req_.HasQuery("verbose")) {
      for (const CheckSnapshot& c : snap_.checks) {
        if (!c.InGroup(route.group)) continue;
        out += exclude.contains(c.name)
                   ? absl::StrCat("[+]", Sanitize(c.name), " excluded: ok\n")
                   : CheckLine(c, details);
      }
      if (!g.reason.empty()) {
        absl::StrAppend(&out, "[-]", Sanitize(g.name),
                        " failed: ", Sanitize(g.reason), "\n");
      }
      if (!unknown.empty()) out += UnknownExcludesLine(unknown);
      absl::StrAppend(&out, route.label, " check ",
                      passing ? "passed" : "failed", "\n");
      return out;
    }
    if (!unknown.empty()) out += UnknownExcludesLine(unknown);
    if (passing) return out + "ok\n";
    const std::string why = FailureSummary(snap_, g, exclude);
    absl::StrAppend(&out, route.label, " check failed", why.empty() ? "" : ": ",
                    why, "\n");
    return out;
  }

  HttpResponse CheckAnswer(const Route& route, Format format, bool details) {
    const CheckSnapshot& c = *snap_.FindCheck(route.check);
    const bool passing = IsPassing(c.result.status);
    HttpResponse r;
    if (format == Format::kText) {
      std::string body;
      if (req_.HasQuery("verbose")) {
        body = absl::StrCat(CheckLine(c, details), route.label, " check ",
                            passing ? "passed" : "failed", "\n");
      } else if (passing) {
        body = "ok\n";
      } else {
        body = absl::StrCat(
            route.label, " check failed: ", StatusName(c.result.status), "\n");
      }
      r = HttpResponse::Text(0, std::move(body));
    } else {
      r = ReportAnswer({&c}, {}, c.result.status, format, details);
    }
    r.status = passing ? 200 : 503;
    return r;
  }

  // The HealthReport of `checks` and `groups`, with `status` on top.
  HttpResponse ReportAnswer(const std::vector<const CheckSnapshot*>& checks,
                            std::vector<GroupSnapshot> groups, Status status,
                            Format format, bool details) const {
    Snapshot part;
    part.time = snap_.time;
    part.generation = snap_.generation;
    part.startup_complete = snap_.startup_complete;
    part.shutting_down = snap_.shutting_down;
    for (const CheckSnapshot* c : checks) part.checks.push_back(*c);
    for (GroupSnapshot& g : groups) part.groups.push_back(std::move(g));
    ReportOptions ro;
    ro.include_details = details;
    v1::HealthReport report =
        ToHealthReport(part, e_.registry()->service(), ro);
    report.set_status(ToProto(status));
    // Names, messages and details are any bytes: JSON and proto3 need UTF-8
    // (one invalid byte made the JSON printer fail: a 500).
    internal::SanitizeUtf8Fields(&report);
    HttpResponse r;
    if (format == Format::kJson) {
      absl::StatusOr<std::string> json = ToJson(report);
      if (!json.ok()) return HttpResponse::Text(500, "internal error\n");
      r = HttpResponse::Text(0, *std::move(json));
    } else {
      r = HttpResponse::Text(0, report.SerializeAsString());
    }
    r.content_type = std::string(internal::ContentType(format));
    return r;
  }

  const HealthEndpoints& e_;
  const EndpointsOptions& options_;
  const Snapshot& snap_;
  const HttpRequest& req_;
};

absl::StatusOr<std::unique_ptr<HealthEndpoints>> HealthEndpoints::Create(
    HealthRegistry* registry, EndpointsOptions options) {
  if (registry == nullptr) {
    return absl::InvalidArgumentError("registry: must not be null");
  }
  const EndpointPaths& p = options.paths;
  const std::pair<absl::string_view, const std::string*> paths[] = {
      {"paths.livez", &p.livez},       {"paths.readyz", &p.readyz},
      {"paths.startupz", &p.startupz}, {"paths.healthz", &p.healthz},
      {"paths.metrics", &p.metrics},   {"paths.statusz", &p.statusz},
  };
  absl::flat_hash_set<std::string> seen;
  for (const auto& [field, value] : paths) {
    if (!IsValidPath(*value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", *value,
                       "\" must be \"/\" and one path segment, or empty"));
    }
    if (!value->empty() && !seen.insert(*value).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", *value, "\" is used twice"));
    }
  }
  return std::unique_ptr<HealthEndpoints>(
      new HealthEndpoints(registry, std::move(options)));
}

HealthEndpoints::HealthEndpoints(HealthRegistry* registry,
                                 EndpointsOptions options)
    : registry_(registry),
      options_(std::move(options)),
      collectors_(std::make_shared<const Collectors>()) {}

HttpResponse HealthEndpoints::Handle(const HttpRequest& request) const {
  std::shared_ptr<const Snapshot> snap = registry_->snapshot();
  return Handle(request, *snap);
}

HttpResponse HealthEndpoints::Handle(const HttpRequest& request,
                                     const Snapshot& snapshot) const {
  try {
    return EndpointsImpl(*this, snapshot, request).Answer();
  } catch (const std::exception&) {
    // Out of memory and the like: answer, never propagate.
    return HttpResponse::Text(500, "internal error\n");
  }
}

std::string HealthEndpoints::RenderMetrics(bool details) const {
  PrometheusWriter writer;
  std::shared_ptr<const Snapshot> snap = registry_->snapshot();
  internal::HealthMetricsOptions mo;
  mo.details = details;
  mo.vigil_version = options_.vigil_version;
  internal::WriteHealthMetrics(*snap, registry_->service(),
                               registry_->clock()->Now(), mo, writer);
  std::shared_ptr<const Collectors> collectors;
  {
    MutexLock lock(&mu_);
    collectors = collectors_;
  }
  for (const auto& [id, collect] : *collectors) {
    try {
      collect(writer, details);
    } catch (const std::exception& e) {
      writer.AddError(absl::StrCat("collector ", id, " threw: ", e.what()));
    } catch (...) {
      writer.AddError(absl::StrCat("collector ", id, " threw"));
    }
  }
  std::string out = writer.text();
  for (const std::string& error : writer.errors()) {
    absl::StrAppend(&out, "# vigil: ", Sanitize(error), "\n");
  }
  return out;
}

uint64_t HealthEndpoints::AddMetricsCollector(MetricsCollector collector) {
  MutexLock lock(&mu_);
  auto next = std::make_shared<Collectors>(*collectors_);
  const uint64_t id = next_id_++;
  next->emplace_back(id, std::move(collector));
  collectors_ = std::move(next);
  return id;
}

void HealthEndpoints::RemoveMetricsCollector(uint64_t id) {
  MutexLock lock(&mu_);
  auto next = std::make_shared<Collectors>(*collectors_);
  next->erase(std::remove_if(next->begin(), next->end(),
                             [id](const auto& c) { return c.first == id; }),
              next->end());
  collectors_ = std::move(next);
}

}  // namespace http
}  // namespace vigil
