#include "examples/sidecar/config.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "examples/sidecar/process_check.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "health/checks/file_freshness.h"
#include "health/checks/http.h"
#include "health/checks/tcp.h"
#include "health/checks/tls_cert.h"

namespace vigil_sidecar {
namespace {

namespace pb = ::google::protobuf;
namespace v1 = ::vigil::sidecar::v1;
using Tree = pb::TextFormat::ParseInfoTree;

// Where a field came from, for messages: the file and the parse tree of the
// message being read (both empty for configs built from flags).
struct Where {
  const std::string* file = nullptr;
  const Tree* tree = nullptr;
  std::string path;  // "http[0].check"

  // "file:line: path.field: " (or "path.field: " without a file).
  std::string Prefix(const pb::Message& m, const std::string& field,
                     int index = -1) const {
    std::string name = path.empty() ? field : absl::StrCat(path, ".", field);
    if (index >= 0) absl::StrAppend(&name, "[", index, "]");
    if (file == nullptr || tree == nullptr) return absl::StrCat(name, ": ");
    const pb::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(field);
    int line = -1;
    if (f != nullptr) line = tree->GetLocation(f, index).line;
    if (line < 0) return absl::StrCat(*file, ": ", name, ": ");
    return absl::StrCat(*file, ":", line + 1, ": ", name, ": ");
  }

  Where Nested(const pb::Message& m, const std::string& field,
               int index = -1) const {
    Where w = *this;
    w.path = path.empty() ? field : absl::StrCat(path, ".", field);
    if (index >= 0) absl::StrAppend(&w.path, "[", index, "]");
    if (tree != nullptr) {
      const pb::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(field);
      w.tree = f == nullptr ? nullptr : tree->GetTreeForNested(f, index);
    }
    return w;
  }

  absl::Status Error(const pb::Message& m, const std::string& field,
                     const std::string& why, int index = -1) const {
    return absl::InvalidArgumentError(
        absl::StrCat(Prefix(m, field, index), why));
  }
};

absl::Status ParseDuration(const Where& w, const pb::Message& m,
                           const std::string& field, const std::string& text,
                           absl::Duration* out) {
  if (text.empty()) return absl::OkStatus();
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return w.Error(m, field,
                   absl::StrCat("bad duration \"", text,
                                "\" (want e.g. \"200ms\", \"5s\", \"1h\")"));
  }
  *out = d;
  return absl::OkStatus();
}

// Applies `s` over `defaults` over `base`.
absl::Status ApplySettings(const Where& w, const v1::CheckSettings& defaults,
                           const v1::CheckSettings& s,
                           vigil::CheckOptions* base) {
  for (const v1::CheckSettings* layer : {&defaults, &s}) {
    const Where lw =
        layer == &s ? w : Where{w.file, nullptr, "defaults"};  // no line
    if (absl::Status st = ParseDuration(lw, *layer, "interval",
                                        layer->interval(), &base->interval);
        !st.ok()) {
      return st;
    }
    if (absl::Status st = ParseDuration(lw, *layer, "timeout", layer->timeout(),
                                        &base->timeout);
        !st.ok()) {
      return st;
    }
    if (layer->failure_threshold() < 0) {
      return lw.Error(*layer, "failure_threshold", "must be >= 1");
    }
    if (layer->failure_threshold() > 0) {
      base->failure_threshold = layer->failure_threshold();
    }
    if (layer->success_threshold() < 0) {
      return lw.Error(*layer, "success_threshold", "must be >= 1");
    }
    if (layer->success_threshold() > 0) {
      base->success_threshold = layer->success_threshold();
    }
    if (layer->has_critical()) base->critical = layer->critical();
    if (layer->groups_size() > 0) {
      base->groups.assign(layer->groups().begin(), layer->groups().end());
    }
  }
  return absl::OkStatus();
}

// Wraps a check constructor's own InvalidArgument ("url: ...") with the
// entry's location.
absl::Status Wrap(const Where& w, const pb::Message& parent,
                  const std::string& field, int index, const absl::Status& s) {
  return absl::InvalidArgumentError(
      absl::StrCat(w.Prefix(parent, field, index), s.message()));
}

// The probe server's settings: address, port, drain_delay, details, token,
// and the validity of `defaults` on their own.
absl::Status BuildServer(const SidecarConfig& c, const Where& w,
                         SidecarPlan* plan) {
  if (!c.address().empty()) plan->address = c.address();
  if (c.port() < 0 || c.port() > 65535) {
    return w.Error(c, "port", "must be in 0..65535");
  }
  if (c.port() != 0) plan->port = c.port();
  if (absl::Status s = ParseDuration(w, c, "drain_delay", c.drain_delay(),
                                     &plan->drain_delay);
      !s.ok()) {
    return s;
  }
  if (!c.details().empty()) {
    auto d = vigil::http::ParseDetailsPolicy(c.details());
    if (!d.ok())
      return w.Error(c, "details", std::string(d.status().message()));
    plan->details = *d;
  }
  plan->token = c.token();
  vigil::CheckOptions probe;
  return ApplySettings(w.Nested(c, "defaults"), v1::CheckSettings(),
                       c.defaults(), &probe);
}

// One check per target entry. Each takes the entry `i` of its repeated
// field; errors name the entry (file:line: http[0].check.timeout: ...).

absl::StatusOr<vigil::Check> HttpTargetCheck(const SidecarConfig& c,
                                             const Where& w, int i) {
  const v1::HttpTarget& t = c.http(i);
  const Where tw = w.Nested(c, "http", i);
  vigil::checks::HttpCheckOptions o;
  o.url = t.url();
  o.name = t.name();
  if (t.min_status() != 0) o.min_status = t.min_status();
  if (t.max_status() != 0) o.max_status = t.max_status();
  o.expected_body = t.expected_body();
  o.verify_tls = !t.insecure();
  o.ca_file = t.ca_file();
  if (absl::Status s = ApplySettings(tw.Nested(t, "check"), c.defaults(),
                                     t.check(), &o.check);
      !s.ok()) {
    return s;
  }
  if (o.name.empty()) o.name = absl::StrCat("http:", t.url());
  auto check = vigil::checks::HttpCheck(o);
  if (!check.ok()) return Wrap(w, c, "http", i, check.status());
  return check;
}

absl::StatusOr<vigil::Check> TcpTargetCheck(const SidecarConfig& c,
                                            const Where& w, int i) {
  const v1::TcpTarget& t = c.tcp(i);
  const Where tw = w.Nested(c, "tcp", i);
  vigil::checks::TcpCheckOptions o;
  o.address = t.address();
  o.name = t.name().empty() ? absl::StrCat("tcp:", t.address()) : t.name();
  if (absl::Status s = ApplySettings(tw.Nested(t, "check"), c.defaults(),
                                     t.check(), &o.check);
      !s.ok()) {
    return s;
  }
  auto check = vigil::checks::TcpCheck(o);
  if (!check.ok()) return Wrap(w, c, "tcp", i, check.status());
  return check;
}

absl::StatusOr<vigil::Check> ProcessTargetCheck(const SidecarConfig& c,
                                                const Where& w, int i) {
  const v1::ProcessTarget& t = c.process(i);
  const Where tw = w.Nested(c, "process", i);
  ProcessCheckOptions o;
  o.pid = t.pid();
  o.pidfile = t.pidfile();
  o.name = t.name();
  if (!c.pressure().proc_root().empty()) o.proc_root = c.pressure().proc_root();
  if (absl::Status s = ApplySettings(tw.Nested(t, "check"), c.defaults(),
                                     t.check(), &o.check);
      !s.ok()) {
    return s;
  }
  auto check = ProcessCheck(o);
  if (!check.ok()) return Wrap(w, c, "process", i, check.status());
  return check;
}

absl::StatusOr<vigil::Check> FileTargetCheck(const SidecarConfig& c,
                                             const Where& w, int i) {
  const v1::FileFreshnessTarget& t = c.file(i);
  const Where tw = w.Nested(c, "file", i);
  vigil::checks::FileFreshnessCheckOptions o;
  o.directory = t.directory();
  if (!t.pattern().empty()) o.pattern = t.pattern();
  if (absl::Status s = ParseDuration(tw, t, "max_age", t.max_age(), &o.max_age);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ParseDuration(tw, t, "warn_age", t.warn_age(), &o.warn_age);
      !s.ok()) {
    return s;
  }
  if (t.min_size() != 0) o.min_size = t.min_size();
  o.name = t.name().empty() ? absl::StrCat("file:", t.directory()) : t.name();
  if (absl::Status s = ApplySettings(tw.Nested(t, "check"), c.defaults(),
                                     t.check(), &o.check);
      !s.ok()) {
    return s;
  }
  auto check = vigil::checks::FileFreshnessCheck(o);
  if (!check.ok()) return Wrap(w, c, "file", i, check.status());
  return check;
}

absl::StatusOr<vigil::Check> CertificateTargetCheck(const SidecarConfig& c,
                                                    const Where& w, int i) {
  const v1::CertificateTarget& t = c.certificate(i);
  const Where tw = w.Nested(c, "certificate", i);
  vigil::checks::TlsCertCheckOptions o;
  o.pem_file = t.pem_file();
  o.address = t.address();
  o.server_name = t.server_name();
  if (absl::Status s =
          ParseDuration(tw, t, "warn_before", t.warn_before(), &o.warn_before);
      !s.ok()) {
    return s;
  }
  o.verify_chain = !t.skip_verify();
  o.ca_file = t.ca_file();
  o.name = !t.name().empty()       ? t.name()
           : !t.pem_file().empty() ? absl::StrCat("cert:", t.pem_file())
                                   : absl::StrCat("cert:", t.address());
  if (absl::Status s = ApplySettings(tw.Nested(t, "check"), c.defaults(),
                                     t.check(), &o.check);
      !s.ok()) {
    return s;
  }
  auto check = vigil::checks::TlsCertCheck(o);
  if (!check.ok()) return Wrap(w, c, "certificate", i, check.status());
  return check;
}

// Every target's check, in the order http, tcp, process, file, certificate
// (the first error wins).
absl::Status BuildChecks(const SidecarConfig& c, const Where& w,
                         SidecarPlan* plan) {
  using Make =
      absl::StatusOr<vigil::Check> (*)(const SidecarConfig&, const Where&, int);
  const std::pair<int, Make> kinds[] = {
      {c.http_size(), HttpTargetCheck},
      {c.tcp_size(), TcpTargetCheck},
      {c.process_size(), ProcessTargetCheck},
      {c.file_size(), FileTargetCheck},
      {c.certificate_size(), CertificateTargetCheck},
  };
  for (const auto& [count, make] : kinds) {
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<vigil::Check> check = make(c, w, i);
      if (!check.ok()) return check.status();
      plan->checks.push_back(*std::move(check));
    }
  }
  return absl::OkStatus();
}

// The host pressure detectors' settings.
absl::Status BuildPressure(const SidecarConfig& c, const Where& w,
                           SidecarPlan* plan) {
  const v1::Pressure& p = c.pressure();
  const Where pw = w.Nested(c, "pressure");
  plan->pressure = !p.disable();
  if (p.disk_paths_size() > 0) {
    plan->pressure_options.disk_paths.assign(p.disk_paths().begin(),
                                             p.disk_paths().end());
  }
  if (!p.proc_root().empty()) {
    plan->pressure_options.source.root = p.proc_root();
  }
  if (p.pid() < 0) return pw.Error(p, "pid", "must be >= 0");
  plan->pressure_options.source.pid = p.pid();
  plan->pressure_options.source.cgroup_dir = p.cgroup_dir();
  if (absl::Status s = plan->pressure_options.source.Validate("source");
      !s.ok()) {
    return pw.Error(p, "proc_root", std::string(s.message()));
  }
  return absl::OkStatus();
}

// Names must be unique across the checks.
absl::Status CheckUniqueNames(const SidecarPlan& plan, const Where& w) {
  for (size_t i = 0; i < plan.checks.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (plan.checks[i].name == plan.checks[j].name) {
        return absl::InvalidArgumentError(absl::StrCat(
            w.file != nullptr ? absl::StrCat(*w.file, ": ") : "",
            "name: duplicate check name \"", plan.checks[i].name, "\""));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SidecarPlan> Build(const SidecarConfig& c, const Where& w) {
  SidecarPlan plan;
  plan.config = c;
  if (absl::Status s = BuildServer(c, w, &plan); !s.ok()) return s;
  if (absl::Status s = BuildChecks(c, w, &plan); !s.ok()) return s;
  if (absl::Status s = BuildPressure(c, w, &plan); !s.ok()) return s;
  if (absl::Status s = CheckUniqueNames(plan, w); !s.ok()) return s;
  return plan;
}

class Collector : public pb::io::ErrorCollector {
 public:
  explicit Collector(const std::string& file) : file_(file) {}
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      first_ =
          absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message);
    }
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  const std::string& file_;
  std::string first_;
};

}  // namespace

absl::StatusOr<SidecarPlan> ParseConfig(const std::string& text,
                                        const std::string& file_name) {
  SidecarConfig config;
  Tree tree;
  Collector errors(file_name);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(
        errors.first().empty() ? absl::StrCat(file_name, ": parse error")
                               : errors.first());
  }
  Where w;
  w.file = &file_name;
  w.tree = &tree;
  return Build(config, w);
}

absl::StatusOr<SidecarPlan> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

absl::StatusOr<SidecarPlan> BuildPlan(const SidecarConfig& config) {
  return Build(config, Where{});
}

}  // namespace vigil_sidecar
