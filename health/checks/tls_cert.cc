#include "health/checks/tls_cert.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <time.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "health/checks/internal/net.h"
#include "health/checks/internal/result_util.h"
#include "health/checks/internal/stream.h"

namespace vigil {
namespace checks {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using Chain = std::vector<X509Ptr>;

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", internal::ErrnoText(errno)));
  }
  std::string data;
  data.resize(kMaxPemBytes + 1);
  in.read(&data[0], static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("error reading ", path));
  }
  if (data.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is larger than 1 MiB: not a certificate file"));
  }
  return data;
}

// Every CERTIFICATE block of `pem`, in order. Other blocks (keys) are
// skipped. Errors: no certificate at all, or a malformed block.
absl::StatusOr<Chain> ParsePem(const std::string& pem) {
  Chain chain;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (true) {
    ERR_clear_error();
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (x != nullptr) {
      chain.emplace_back(x);
      continue;
    }
    const unsigned long e = ERR_peek_last_error();
    const bool at_end = ERR_GET_LIB(e) == ERR_LIB_PEM &&
                        ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    std::string reason = internal::OpenSslErrorText();
    BIO_free(bio);
    if (at_end && !chain.empty()) return chain;
    if (at_end) {
      return absl::InvalidArgumentError("no PEM certificate found");
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed PEM certificate #", chain.size() + 1, ": ", reason));
  }
}

absl::Time AsnTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

std::string NameText(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// "5 days", "36h", "20m".
std::string Span(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = -d;
  if (d >= absl::Hours(48)) {
    const int64_t days = absl::ToInt64Hours(d) / 24;
    return absl::StrCat(days, " days");
  }
  if (d >= absl::Hours(1)) return absl::StrCat(absl::ToInt64Hours(d), "h");
  return absl::StrCat(std::max<int64_t>(absl::ToInt64Minutes(d), 0), "m");
}

struct TlsCertState {
  TlsCertCheckOptions options;
  bool remote = false;
  internal::HostPort target;
  std::string server_name;
  // The trust store. A ca_file is loaded when the check is built; the
  // system's default store (about 30 ms to load) by the first Verify(),
  // under store_once, so that building a check costs nothing.
  std::shared_ptr<X509_STORE> store;
  bool default_store = false;
  mutable absl::once_flag store_once;
  std::shared_ptr<internal::TlsContext> tls;
  Clock* clock = nullptr;
  internal::Resolver resolver;
};

// Verifies `chain` at `now`; empty string when it verifies, else the
// reason.
std::string Verify(const TlsCertState& s, const Chain& chain, absl::Time now) {
  if (s.default_store) {
    absl::call_once(s.store_once, [&s] {
      X509_STORE_set_default_paths(s.store.get());
      ERR_clear_error();
    });
  }
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) {
    sk_X509_push(untrusted, chain[i].get());
  }
  std::string error;
  if (X509_STORE_CTX_init(ctx, s.store.get(), chain[0].get(), untrusted) != 1) {
    error = absl::StrCat("cannot verify: ", internal::OpenSslErrorText());
  } else {
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
    if (!s.server_name.empty()) {
      if (internal::IsIpLiteral(s.server_name)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, s.server_name.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, s.server_name.c_str(), 0);
      }
    }
    if (X509_verify_cert(ctx) != 1) {
      const int err = X509_STORE_CTX_get_error(ctx);
      error = X509_verify_cert_error_string(err);
      const int depth = X509_STORE_CTX_get_error_depth(ctx);
      if (err == X509_V_ERR_HOSTNAME_MISMATCH ||
          err == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        absl::StrAppend(&error, " (expected ", s.server_name, ")");
      } else if (depth > 0 && static_cast<size_t>(depth) < chain.size()) {
        absl::StrAppend(&error, " (at ",
                        NameText(X509_get_subject_name(chain[depth].get())),
                        ")");
      }
    }
  }
  sk_X509_free(untrusted);  // Does not free the certificates.
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  return error;
}

CheckResult Evaluate(const TlsCertState& s, const Chain& chain) {
  const TlsCertCheckOptions& o = s.options;
  // Certificate validity is wall time: compare it with wall time.
  const absl::Time now = s.clock->WallNow();
  X509* leaf = chain[0].get();
  const absl::Time leaf_not_before = AsnTime(X509_get0_notBefore(leaf));
  const absl::Time leaf_not_after = AsnTime(X509_get0_notAfter(leaf));
  size_t soonest = 0;
  absl::Time soonest_not_after = leaf_not_after;
  for (size_t i = 1; i < chain.size(); ++i) {
    const absl::Time t = AsnTime(X509_get0_notAfter(chain[i].get()));
    if (t < soonest_not_after) {
      soonest = i;
      soonest_not_after = t;
    }
  }
  const absl::Duration left = soonest_not_after - now;
  const std::string subject = NameText(X509_get_subject_name(leaf));
  const std::string which =
      soonest == 0
          ? "certificate"
          : absl::StrCat("chain certificate ",
                         NameText(X509_get_subject_name(chain[soonest].get())));

  CheckResult r;
  if (now < leaf_not_before) {
    r = CheckResult::Unhealthy(absl::StrCat("certificate not valid before ",
                                            Rfc3339(leaf_not_before)));
    r.details["reason"] = "not_yet_valid";
  } else if (left <= absl::ZeroDuration()) {
    r = CheckResult::Unhealthy(absl::StrCat(which, " expired ", Span(left),
                                            " ago (not after ",
                                            Rfc3339(soonest_not_after), ")"));
    r.details["reason"] = "expired";
  } else if (std::string error = o.verify_chain ? Verify(s, chain, now) : "";
             !error.empty()) {
    r = CheckResult::Unhealthy(absl::StrCat("chain does not verify: ", error));
    r.details["reason"] = "verify";
  } else {
    std::string msg =
        absl::StrCat(which, " expires in ", Span(left), " (not after ",
                     Rfc3339(soonest_not_after), ")");
    r = left < o.warn_before ? CheckResult::Degraded(std::move(msg))
                             : CheckResult::Healthy(std::move(msg));
    if (r.status == Status::kDegraded) r.details["reason"] = "expiring";
  }
  const double days = absl::ToDoubleHours(left) / 24.0;
  r.observed_value = days;
  r.observed_unit = "days";
  r.warn_threshold = absl::ToDoubleHours(o.warn_before) / 24.0;
  r.critical_threshold = 0;
  r.details["subject"] = subject;
  r.details["issuer"] = NameText(X509_get_issuer_name(leaf));
  r.details["not_after"] = Rfc3339(leaf_not_after);
  r.details["days_left"] = absl::StrCat(static_cast<int64_t>(days));
  r.details["chain_length"] = absl::StrCat(chain.size());
  r.details["expiring"] = NameText(X509_get_subject_name(chain[soonest].get()));
  return r;
}

CheckResult RunTlsCert(TlsCertState& s, const CheckContext& ctx) {
  const TlsCertCheckOptions& o = s.options;
  Chain chain;
  if (!s.remote) {
    absl::StatusOr<std::string> data = ReadSmallFile(o.pem_file);
    if (!data.ok()) {
      CheckResult r =
          CheckResult::Unhealthy(std::string(data.status().message()));
      r.details["reason"] = "unreadable";
      r.details["file"] = o.pem_file;
      return r;
    }
    absl::StatusOr<Chain> parsed = ParsePem(*data);
    if (!parsed.ok()) {
      CheckResult r = CheckResult::Unhealthy(
          absl::StrCat(o.pem_file, ": ", parsed.status().message()));
      r.details["reason"] = "malformed";
      r.details["file"] = o.pem_file;
      return r;
    }
    chain = *std::move(parsed);
  } else {
    const internal::IoDeadline deadline = internal::IoDeadline::ForRun(
        s.clock, ctx.start, ctx.deadline, o.check.timeout);
    const std::string display =
        internal::FormatHostPort(s.target.host, s.target.port);
    absl::StatusOr<internal::Connected> c =
        internal::Dial(s.resolver, s.target.host, s.target.port,
                       internal::ToAf(o.family), deadline);
    if (!c.ok()) {
      CheckResult r = internal::FailureResult(c.status());
      r.details["target"] = display;
      return r;
    }
    absl::StatusOr<std::unique_ptr<internal::TlsStream>> tls =
        internal::TlsStream::Handshake(std::move(c->fd), *s.tls, s.server_name,
                                       deadline);
    if (!tls.ok()) {
      CheckResult r = internal::FailureResult(tls.status());
      r.details["target"] = display;
      return r;
    }
    STACK_OF(X509)* presented = SSL_get_peer_cert_chain((*tls)->ssl());
    for (int i = 0; presented != nullptr && i < sk_X509_num(presented); ++i) {
      X509* x = sk_X509_value(presented, i);
      X509_up_ref(x);
      chain.emplace_back(x);
    }
    if (chain.empty()) {
      CheckResult r =
          CheckResult::Unhealthy("the server presented no certificate");
      r.details["reason"] = "no_certificate";
      r.details["target"] = display;
      return r;
    }
  }
  CheckResult r = Evaluate(s, chain);
  if (s.remote) {
    r.details["target"] =
        internal::FormatHostPort(s.target.host, s.target.port);
  } else {
    r.details["file"] = o.pem_file;
  }
  return r;
}

}  // namespace

absl::StatusOr<Check> TlsCertCheck(TlsCertCheckOptions options) {
  if (options.pem_file.empty() == options.address.empty()) {
    return absl::InvalidArgumentError(
        "pem_file/address: set exactly one of them");
  }
  if (options.warn_before < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("warn_before: must be >= 0");
  }
  auto state = std::make_shared<TlsCertState>();
  state->clock = options.clock != nullptr ? options.clock : Clock::Real();
  state->remote = !options.address.empty();
  if (state->remote) {
    absl::StatusOr<internal::HostPort> hp =
        internal::ParseHostPort(options.address, "address");
    if (!hp.ok()) return hp.status();
    state->target = *hp;
    state->server_name =
        options.server_name.empty() ? hp->host : options.server_name;
    absl::StatusOr<std::shared_ptr<internal::TlsContext>> tls =
        internal::TlsContext::Create(/*verify=*/false, "", "ca_file");
    if (!tls.ok()) return tls.status();
    state->tls = *std::move(tls);
  } else {
    state->server_name = options.server_name;
    absl::StatusOr<std::string> data = ReadSmallFile(options.pem_file);
    if (!data.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pem_file: ", data.status().message()));
    }
    absl::StatusOr<Chain> parsed = ParsePem(*data);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pem_file: ", options.pem_file, ": ", parsed.status().message()));
    }
  }
  if (!state->server_name.empty()) {
    if (absl::Status s =
            internal::ValidateHost(state->server_name, "server_name");
        !s.ok()) {
      return s;
    }
  }
  X509_STORE* store = X509_STORE_new();
  state->store = std::shared_ptr<X509_STORE>(store, StoreFree());
  if (options.ca_file.empty()) {
    state->default_store = true;  // Loaded by the first Verify().
  } else if (X509_STORE_load_file(store, options.ca_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ca_file: cannot load CA certificates from \"",
                     options.ca_file, "\": ", internal::OpenSslErrorText()));
  }
  ERR_clear_error();

  Check check;
  if (!options.name.empty()) {
    check.name = options.name;
  } else if (state->remote) {
    check.name = internal::SanitizeCheckName(absl::StrCat(
        "tls:",
        internal::FormatHostPort(state->target.host, state->target.port)));
  } else {
    check.name = internal::SanitizeCheckName(
        absl::StrCat("tls:", internal::KeepTail(options.pem_file, 120)));
  }
  check.options = options.check;
  state->options = std::move(options);
  check.function = [state](const CheckContext& ctx) {
    return RunTlsCert(*state, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace checks
}  // namespace vigil
