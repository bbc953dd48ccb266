#include "health/checks/internal/stream.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace vigil {
namespace checks {
namespace internal {
namespace {

// Blocks SIGPIPE on this thread for the object's lifetime; a SIGPIPE raised
// meanwhile by a write to a closed socket is consumed, not delivered. (The
// technique libpq uses: OpenSSL writes with write(2), which has no
// MSG_NOSIGNAL.)
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, SIGPIPE);
        const timespec zero = {0, 0};
        sigtimedwait(&only, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace

std::string OpenSslErrorText() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : absl::StrCat("error ", e);
  }
  return out.empty() ? "unknown TLS error" : out;
}

// --- PlainStream
// --------------------------------------------------------------

absl::Status PlainStream::WriteAll(absl::string_view data,
                                   const IoDeadline& deadline) {
  return SendAll(fd_.get(), data, deadline);
}

absl::StatusOr<size_t> PlainStream::ReadSome(char* buf, size_t n,
                                             const IoDeadline& deadline) {
  return RecvSome(fd_.get(), buf, n, deadline);
}

// --- TlsContext
// ---------------------------------------------------------------

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(
    bool verify, const std::string& ca_file, absl::string_view ca_field) {
  std::shared_ptr<TlsContext> out(new TlsContext(verify, ca_file));
  if (!ca_file.empty()) {
    // A configured file is part of the configuration: check it now.
    if (absl::StatusOr<SSL_CTX*> ctx = out->Get(); !ctx.ok()) {
      const absl::Status& s = ctx.status();
      return absl::Status(s.code(), absl::StrCat(ca_field, ": ", s.message()));
    }
  }
  return out;
}

absl::StatusOr<SSL_CTX*> TlsContext::Get() const {
  absl::call_once(once_, [this] { Build(); });
  if (!status_.ok()) return status_;
  return ctx_;
}

void TlsContext::Build() const {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    status_ = absl::InternalError(
        absl::StrCat("cannot create a TLS context: ", OpenSslErrorText()));
    return;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (ca_file_.empty()) {
    SSL_CTX_set_default_verify_paths(ctx);
  } else if (SSL_CTX_load_verify_locations(ctx, ca_file_.c_str(), nullptr) !=
             1) {
    status_ = absl::InvalidArgumentError(
        absl::StrCat("cannot load CA certificates from \"", ca_file_,
                     "\": ", OpenSslErrorText()));
    SSL_CTX_free(ctx);
    return;
  }
  SSL_CTX_set_verify(ctx, verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  ERR_clear_error();
  ctx_ = ctx;
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

// --- TlsStream
// ----------------------------------------------------------------

template <typename Op>
absl::StatusOr<int> TlsStream::Drive(Op op, const IoDeadline& deadline,
                                     absl::string_view what) {
  while (true) {
    ERR_clear_error();
    errno = 0;
    int rc;
    int saved_errno;
    {
      ScopedSigpipeBlock block;
      rc = op();
      saved_errno = errno;
    }
    if (rc > 0) return rc;
    const int err = SSL_get_error(ssl_, rc);
    switch (err) {
      case SSL_ERROR_WANT_READ:
        if (absl::Status s = WaitFd(fd_.get(), POLLIN, deadline, what);
            !s.ok()) {
          return s;
        }
        continue;
      case SSL_ERROR_WANT_WRITE:
        if (absl::Status s = WaitFd(fd_.get(), POLLOUT, deadline, what);
            !s.ok()) {
          return s;
        }
        continue;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (saved_errno == 0) return 0;  // EOF without close_notify.
        return WithKind(
            absl::UnavailableError(absl::StrCat(
                absl::AsciiStrToLower(ErrnoText(saved_errno)), " ", what)),
            ClassifyConnectErrno(saved_errno) == FailureKind::kOther
                ? FailureKind::kOther
                : FailureKind::kReset);
      default: {
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK) {
          ERR_clear_error();
          return WithKind(absl::UnavailableError(absl::StrCat(
                              "TLS certificate verification failed: ",
                              X509_verify_cert_error_string(verify))),
                          FailureKind::kTlsVerify);
        }
        return WithKind(absl::UnavailableError(absl::StrCat(
                            "TLS error ", what, ": ", OpenSslErrorText())),
                        FailureKind::kTlsHandshake);
      }
    }
  }
}

absl::StatusOr<std::unique_ptr<TlsStream>> TlsStream::Handshake(
    Fd fd, const TlsContext& ctx, const std::string& server_name,
    const IoDeadline& deadline) {
  absl::StatusOr<SSL_CTX*> ssl_ctx = ctx.Get();
  if (!ssl_ctx.ok()) return ssl_ctx.status();
  ERR_clear_error();
  SSL* ssl = SSL_new(*ssl_ctx);
  if (ssl == nullptr) {
    return absl::InternalError(absl::StrCat("SSL_new: ", OpenSslErrorText()));
  }
  const int raw_fd = fd.get();
  std::unique_ptr<TlsStream> stream(new TlsStream(std::move(fd), ssl));
  SSL_set_fd(ssl, raw_fd);
  const bool is_ip = IsIpLiteral(server_name);
  if (!server_name.empty() && !is_ip) {
    SSL_set_tlsext_host_name(ssl, server_name.c_str());
  }
  if (ctx.verify() && !server_name.empty()) {
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str());
    } else {
      SSL_set1_host(ssl, server_name.c_str());
    }
  }
  SSL_set_connect_state(ssl);
  absl::StatusOr<int> rc = stream->Drive([ssl] { return SSL_connect(ssl); },
                                         deadline, "during the TLS handshake");
  if (!rc.ok()) return rc.status();
  if (*rc == 0) {
    return WithKind(
        absl::UnavailableError("connection closed during the TLS handshake"),
        FailureKind::kTlsHandshake);
  }
  return stream;
}

TlsStream::~TlsStream() {
  {
    ScopedSigpipeBlock block;
    SSL_shutdown(ssl_);  // Best effort close_notify; non-blocking.
  }
  SSL_free(ssl_);
  ERR_clear_error();
}

absl::Status TlsStream::WriteAll(absl::string_view data,
                                 const IoDeadline& deadline) {
  while (!data.empty()) {
    absl::StatusOr<int> n = Drive(
        [&] {
          return SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        },
        deadline, "sending");
    if (!n.ok()) return n.status();
    if (*n == 0) {
      return WithKind(absl::UnavailableError("connection closed while sending"),
                      FailureKind::kReset);
    }
    data.remove_prefix(static_cast<size_t>(*n));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> TlsStream::ReadSome(char* buf, size_t n,
                                           const IoDeadline& deadline) {
  absl::StatusOr<int> r =
      Drive([&] { return SSL_read(ssl_, buf, static_cast<int>(n)); }, deadline,
            "waiting for a reply");
  if (!r.ok()) return r.status();
  return static_cast<size_t>(*r);
}

}  // namespace internal
}  // namespace checks
}  // namespace vigil
