#include "health/http/mount.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace vigil {
namespace http {
namespace internal {

HttpRequest FromHttplib(const httplib::Request& req, absl::string_view prefix) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path.substr(std::min(prefix.size(), req.path.size()));
  for (const auto& [k, v] : req.params) r.query.emplace_back(k, v);
  for (const auto& [k, v] : req.headers) r.headers.emplace_back(k, v);
  r.remote_address = req.remote_addr;
  return r;
}

void ToHttplib(const HttpResponse& response, httplib::Response* res) {
  res->status = response.status;
  for (const auto& [k, v] : response.headers) res->set_header(k, v);
  if (response.status != 204) {
    res->set_content(response.body, response.content_type);
  }
}

}  // namespace internal

namespace {

// Escapes regex metacharacters (paths hold no others).
std::string RegexQuote(absl::string_view s) {
  std::string out;
  for (const char c : s) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

}  // namespace

absl::Status MountHealthEndpoints(HealthEndpoints* endpoints,
                                  httplib::Server* server,
                                  const MountOptions& options) {
  if (endpoints == nullptr || server == nullptr) {
    return absl::InvalidArgumentError("endpoints, server: must not be null");
  }
  const std::string& prefix = options.path_prefix;
  if (!prefix.empty() &&
      (prefix[0] != '/' || prefix.back() == '/' ||
       prefix.find_first_of("?# \t\r\n") != std::string::npos)) {
    return absl::InvalidArgumentError(
        "path_prefix: must be empty or start with '/' and not end with '/'");
  }
  const EndpointPaths& p = endpoints->options().paths;
  const std::string quoted = RegexQuote(prefix);
  std::vector<std::string> patterns;
  for (const std::string* group_path :
       {&p.livez, &p.readyz, &p.startupz, &p.healthz}) {
    if (group_path->empty()) continue;
    patterns.push_back(absl::StrCat(quoted, RegexQuote(*group_path), "(/.*)?"));
  }
  if (!p.metrics.empty()) {
    patterns.push_back(absl::StrCat(quoted, RegexQuote(p.metrics)));
  }
  if (!p.statusz.empty()) {
    patterns.push_back(absl::StrCat(quoted, RegexQuote(p.statusz), "(/.*)?"));
  }
  if (p.custom_groups) {
    patterns.push_back(absl::StrCat(quoted, "/[A-Za-z0-9_.~-]+z(/.*)?"));
  }
  httplib::Server::Handler handler =
      [endpoints, prefix](const httplib::Request& req, httplib::Response& res) {
        internal::ToHttplib(
            endpoints->Handle(internal::FromHttplib(req, prefix)), &res);
      };
  for (const std::string& pattern : patterns) {
    server->Get(pattern, handler);
    server->Post(pattern, handler);
    server->Put(pattern, handler);
    server->Patch(pattern, handler);
    server->Delete(pattern, handler);
    server->Options(pattern, handler);
  }
  return absl::OkStatus();
}

}  // namespace http
}  // namespace vigil
