// Internal: byte streams over a connected socket, plain or TLS (OpenSSL).
//
// Every operation is bounded by an IoDeadline. TLS writes never raise
// SIGPIPE (it is blocked on the calling thread for the call, and a pending
// one is consumed). Not thread-safe: one stream is used by one check run.

#ifndef VIGIL_HEALTH_CHECKS_INTERNAL_STREAM_H_
#define VIGIL_HEALTH_CHECKS_INTERNAL_STREAM_H_

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "health/checks/internal/net.h"

namespace vigil {
namespace checks {
namespace internal {

// A connected byte stream.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual absl::Status WriteAll(absl::string_view data,
                                const IoDeadline& deadline) = 0;
  // Reads at most `n` bytes; returns 0 at end of stream.
  virtual absl::StatusOr<size_t> ReadSome(char* buf, size_t n,
                                          const IoDeadline& deadline) = 0;
};

// A plain TCP stream over an owned socket.
class PlainStream final : public Stream {
 public:
  explicit PlainStream(Fd fd) : fd_(std::move(fd)) {}
  absl::Status WriteAll(absl::string_view data,
                        const IoDeadline& deadline) override;
  absl::StatusOr<size_t> ReadSome(char* buf, size_t n,
                                  const IoDeadline& deadline) override;
  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
};

// The last OpenSSL error of this thread as text, and clears the queue.
std::string OpenSslErrorText();

// An SSL_CTX for client connections, built on first use so that creating
// one (when a check is built) costs nothing: loading the system's trust
// store takes about 30 ms, and a check that is built but never run, or
// only validated, should not pay it. A `ca_file` is still loaded by
// Create(), so a bad file is a configuration error. Thread-safe:
// shareable across threads; the first Get() builds the context under
// absl::call_once, and OpenSSL's SSL_CTX is safe for concurrent SSL_new.
class TlsContext {
 public:
  // `verify`: verify the peer's chain and name during the handshake.
  // `ca_file`: PEM file of trusted CAs, loaded now; empty = the system's
  // default store, loaded by the first Get(). InvalidArgument naming
  // `ca_field` if the file cannot be loaded.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(
      bool verify, const std::string& ca_file, absl::string_view ca_field);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The context, built on the first call (the same one afterwards); an
  // error, the same on every call, if OpenSSL cannot build it.
  absl::StatusOr<SSL_CTX*> Get() const;
  bool verify() const { return verify_; }

 private:
  TlsContext(bool verify, std::string ca_file)
      : verify_(verify), ca_file_(std::move(ca_file)) {}
  // Builds ctx_ or sets status_; runs once, under once_.
  void Build() const;

  const bool verify_;
  const std::string ca_file_;
  mutable absl::once_flag once_;
  // Written once by Build(), read-only afterwards.
  mutable SSL_CTX* ctx_ = nullptr;
  mutable absl::Status status_;
};

// A TLS client stream. Owns its socket and SSL object.
class TlsStream final : public Stream {
 public:
  // Performs the handshake on `fd` with SNI `server_name` (a DNS name; IP
  // literals send no SNI) and, when the context verifies, checks the chain
  // and that the certificate matches `server_name` (name or IP). Errors:
  // kTlsVerify with the X.509 reason ("certificate has expired",
  // "hostname mismatch", "self-signed certificate in certificate chain"),
  // kTlsHandshake, kTimedOut, kReset.
  static absl::StatusOr<std::unique_ptr<TlsStream>> Handshake(
      Fd fd, const TlsContext& ctx, const std::string& server_name,
      const IoDeadline& deadline);
  ~TlsStream() override;

  absl::Status WriteAll(absl::string_view data,
                        const IoDeadline& deadline) override;
  absl::StatusOr<size_t> ReadSome(char* buf, size_t n,
                                  const IoDeadline& deadline) override;

  SSL* ssl() const { return ssl_; }

 private:
  TlsStream(Fd fd, SSL* ssl) : fd_(std::move(fd)), ssl_(ssl) {}
  // Runs `op` until it succeeds, waiting for the socket as OpenSSL asks.
  // Returns op's positive result, 0 at clean EOF, or an error.
  template <typename Op>
  absl::StatusOr<int> Drive(Op op, const IoDeadline& deadline,
                            absl::string_view what);

  Fd fd_;
  SSL* ssl_;
};

}  // namespace internal
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_INTERNAL_STREAM_H_
