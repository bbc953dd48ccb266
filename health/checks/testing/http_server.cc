#include "health/checks/testing/http_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"
#include "health/testing/wait_for.h"

namespace vigil {
namespace checks {
namespace testing {

using ::vigil::testing::WaitFor;

namespace {

// Loads a PEM chain (leaf first) and key into `ctx`.
bool LoadChain(SSL_CTX* ctx, const std::string& chain_pem,
               const std::string& key_pem) {
  BIO* bio =
      BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size()));
  bool first = true;
  bool ok = true;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (first) {
      ok = ok && SSL_CTX_use_certificate(ctx, cert) == 1;
      X509_free(cert);
      first = false;
    } else {
      ok = ok && SSL_CTX_add0_chain_cert(ctx, cert) == 1;  // Takes ownership.
    }
  }
  BIO_free(bio);
  ERR_clear_error();
  if (first) return false;
  BIO* kbio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
  BIO_free(kbio);
  if (key == nullptr) return false;
  ok = ok && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  return ok && SSL_CTX_check_private_key(ctx) == 1;
}

int SelectBySni(SSL* ssl, int*, void* arg) {
  auto* by_name = static_cast<std::map<std::string, SSL_CTX*>*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  auto it = by_name->find(name);
  if (it != by_name->end()) SSL_set_SSL_CTX(ssl, it->second);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestHttpServer>> TestHttpServer::Start(
    const Routes& routes, TestHttpServerOptions options) {
  std::unique_ptr<TestHttpServer> s(new TestHttpServer());
  s->host_ = options.host;
  s->https_ = !options.cert_chain_pem.empty();
  if (s->https_) {
    for (const auto& [name, pems] : options.sni) {
      SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
      if (!LoadChain(ctx, pems.first, pems.second)) {
        SSL_CTX_free(ctx);
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load the certificate for SNI ", name));
      }
      s->sni_ctx_[name] = ctx;
    }
    auto* sni = &s->sni_ctx_;
    auto server =
        std::make_unique<httplib::SSLServer>([&options, sni](SSL_CTX& ctx) {
          if (!LoadChain(&ctx, options.cert_chain_pem, options.key_pem)) {
            return false;
          }
          if (!sni->empty()) {
            SSL_CTX_set_tlsext_servername_callback(&ctx, SelectBySni);
            SSL_CTX_set_tlsext_servername_arg(&ctx, sni);
          }
          return true;
        });
    if (!server->is_valid()) {
      return absl::InvalidArgumentError("cannot load the server certificate");
    }
    s->server_ = std::move(server);
  } else {
    s->server_ = std::make_unique<httplib::Server>();
  }
  s->server_->set_tcp_nodelay(true);
  s->server_->set_keep_alive_max_count(1);
  routes(*s->server_);
  s->port_ = s->server_->bind_to_any_port(s->host_);
  if (s->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind an HTTP server on ", s->host_));
  }
  httplib::Server* raw = s->server_.get();
  s->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  if (!WaitFor([raw] { return raw->is_running(); }, absl::Seconds(10))) {
    return absl::UnavailableError("HTTP server did not start");
  }
  return s;
}

TestHttpServer::~TestHttpServer() {
  Stop();
  for (auto& [name, ctx] : sni_ctx_) SSL_CTX_free(ctx);
}

void TestHttpServer::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string TestHttpServer::address() const {
  if (host_.find(':') != std::string::npos) {
    return absl::StrCat("[", host_, "]:", port_);
  }
  return absl::StrCat(host_, ":", port_);
}

std::string TestHttpServer::Url(const std::string& path) const {
  return absl::StrCat(https_ ? "https://" : "http://", address(), path);
}

}  // namespace testing
}  // namespace checks
}  // namespace vigil
