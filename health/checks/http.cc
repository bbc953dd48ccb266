#include "health/checks/http.h"

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "health/checks/internal/http_client.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/result_util.h"
#include "health/checks/internal/stream.h"

namespace vigil {
namespace checks {
namespace {

struct HttpState {
  HttpCheckOptions options;
  internal::Url url;
  std::shared_ptr<internal::TlsContext> tls;
  internal::Redactor redactor;
  Clock* clock = nullptr;
  internal::Resolver resolver;
};

std::string Quote(absl::string_view s, size_t max = 80) {
  if (s.size() > max) return absl::StrCat("\"", s.substr(0, max), "...\"");
  return absl::StrCat("\"", s, "\"");
}

CheckResult RunHttp(HttpState& s, const CheckContext& ctx) {
  const HttpCheckOptions& o = s.options;
  const internal::IoDeadline deadline = internal::IoDeadline::ForRun(
      s.clock, ctx.start, ctx.deadline, o.check.timeout);
  const absl::Time begin = s.clock->Now();
  auto fail = [&](const absl::Status& st, std::string address) {
    CheckResult r = internal::FailureResult(st);
    r.details["url"] = s.url.Display();
    if (!address.empty()) r.details["address"] = address;
    s.redactor.ScrubResult(&r);
    return r;
  };

  internal::HttpRequest req;
  req.method = o.method == HttpMethod::kHead ? "HEAD" : "GET";
  req.host_header = s.url.HostHeader();
  req.target = s.url.target;
  req.headers = o.request_headers;
  internal::HttpFetchResult fetched = internal::HttpFetch(
      s.resolver, s.url, s.tls.get(), internal::ToAf(o.family), req,
      o.max_body_bytes, deadline);
  const absl::Duration latency = s.clock->Now() - begin;
  const std::string& address = fetched.address;
  if (!fetched.response.ok()) return fail(fetched.response.status(), address);
  const internal::HttpResponse* resp = &*fetched.response;

  CheckResult r;
  const int code = resp->status_code;
  if (code < o.min_status || code > o.max_status) {
    r = CheckResult::Unhealthy(absl::StrCat(
        "HTTP ", code, " (expected ", o.min_status, "-", o.max_status, ")"));
    r.details["reason"] = "status";
  } else if (!o.expected_body.empty() &&
             !absl::StrContains(resp->body, o.expected_body)) {
    r = CheckResult::Unhealthy(absl::StrCat(
        "HTTP ", code, " but the body does not contain ",
        Quote(o.expected_body),
        resp->body_truncated
            ? absl::StrCat(" (searched the first ", o.max_body_bytes, " bytes)")
            : ""));
    r.details["reason"] = "body";
  } else if (!o.expected_header.empty()) {
    const std::optional<std::string> value = resp->Header(o.expected_header);
    if (!value.has_value()) {
      r = CheckResult::Unhealthy(absl::StrCat(
          "HTTP ", code, " but no response header ", o.expected_header));
      r.details["reason"] = "header";
    } else if (!o.expected_header_value.empty() &&
               !absl::StrContains(*value, o.expected_header_value)) {
      r = CheckResult::Unhealthy(absl::StrCat(
          "HTTP ", code, " but header ", o.expected_header, ": ", Quote(*value),
          " does not contain ", Quote(o.expected_header_value)));
      r.details["reason"] = "header";
    }
  }
  if (r.status == Status::kUnknown) {
    r = CheckResult::Healthy(
        absl::StrCat("HTTP ", code, " in ", internal::FormatLatency(latency)));
  }
  internal::SetLatency(&r, latency);
  r.details["status_code"] = absl::StrCat(code);
  r.details["url"] = s.url.Display();
  r.details["address"] = address;
  r.details["body_bytes"] = absl::StrCat(resp->body.size());
  s.redactor.ScrubResult(&r);
  return r;
}

}  // namespace

absl::StatusOr<Check> HttpCheck(HttpCheckOptions options) {
  if (options.url.empty()) {
    return absl::InvalidArgumentError("url: must be set");
  }
  absl::StatusOr<internal::Url> url = internal::ParseUrl(options.url, "url");
  if (!url.ok()) return url.status();
  if (options.min_status < 100 || options.max_status > 999 ||
      options.min_status > options.max_status) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_status/max_status: need 100 <= min_status <= max_status <= 999, "
        "got ",
        options.min_status, "-", options.max_status));
  }
  if (options.method == HttpMethod::kHead && !options.expected_body.empty()) {
    return absl::InvalidArgumentError(
        "expected_body: a HEAD response has no body; use GET");
  }
  if (!options.expected_header.empty() &&
      !internal::ValidHeaderName(options.expected_header)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected_header: not a valid header name: ",
                     Quote(options.expected_header)));
  }
  if (options.expected_header.empty() &&
      !options.expected_header_value.empty()) {
    return absl::InvalidArgumentError(
        "expected_header_value: set expected_header too");
  }
  auto state = std::make_shared<HttpState>();
  for (const auto& [k, v] : options.request_headers) {
    if (!internal::ValidHeaderName(k)) {
      return absl::InvalidArgumentError(
          absl::StrCat("request_headers: not a valid header name: ", Quote(k)));
    }
    if (!internal::ValidHeaderValue(v)) {
      // The value may be a secret: do not echo it.
      return absl::InvalidArgumentError(absl::StrCat(
          "request_headers: the value of ", k, " contains CR, LF or NUL"));
    }
    state->redactor.Add(v);
  }
  if (options.max_body_bytes < 1) {
    return absl::InvalidArgumentError("max_body_bytes: must be >= 1");
  }
  if (url->https) {
    absl::StatusOr<std::shared_ptr<internal::TlsContext>> tls =
        internal::TlsContext::Create(options.verify_tls, options.ca_file,
                                     "ca_file");
    if (!tls.ok()) return tls.status();
    state->tls = *std::move(tls);
  } else if (!options.ca_file.empty()) {
    return absl::InvalidArgumentError("ca_file: only meaningful for https://");
  }
  state->url = *url;
  state->clock = options.clock != nullptr ? options.clock : Clock::Real();

  Check check;
  check.name = options.name.empty()
                   ? internal::SanitizeCheckName(url->Display())
                   : options.name;
  check.options = options.check;
  state->options = std::move(options);
  check.function = [state](const CheckContext& ctx) {
    return RunHttp(*state, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace checks
}  // namespace vigil
