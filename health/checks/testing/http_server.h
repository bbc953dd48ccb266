// TestHttpServer: a real cpp-httplib HTTP or HTTPS server on loopback, on a
// port picked by the kernel, serving on its own thread until destroyed.
//
//   auto server = TestHttpServer::Start([](httplib::Server& s) {
//     s.Get("/healthz", [](const httplib::Request&, httplib::Response& r) {
//       r.set_content("ok", "text/plain");
//     });
//   });
//   std::string url = (*server)->Url("/healthz");  //
//   http://127.0.0.1:PORT/healthz
//
// HTTPS: set `cert_chain_pem` (leaf first, then intermediates) and
// `key_pem`; `sni` adds certificates chosen by the client's SNI name.

#ifndef VIGIL_HEALTH_CHECKS_TESTING_HTTP_SERVER_H_
#define VIGIL_HEALTH_CHECKS_TESTING_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "httplib.h"

namespace vigil {
namespace checks {
namespace testing {

struct TestHttpServerOptions {
  // "127.0.0.1" or "::1".
  std::string host = "127.0.0.1";
  // HTTPS when set.
  std::string cert_chain_pem;
  std::string key_pem;
  // Extra certificates by SNI server name: name -> {chain PEM, key PEM}.
  std::map<std::string, std::pair<std::string, std::string>> sni;
};

class TestHttpServer {
 public:
  using Routes = std::function<void(httplib::Server&)>;

  // Binds host:0, starts serving, and waits until it runs.
  static absl::StatusOr<std::unique_ptr<TestHttpServer>> Start(
      const Routes& routes, TestHttpServerOptions options = {});
  // Stops the server and joins its thread.
  ~TestHttpServer();

  int port() const { return port_; }
  bool https() const { return https_; }
  // "http(s)://127.0.0.1:PORT<path>" ("[::1]" for IPv6).
  std::string Url(const std::string& path = "/") const;
  // "127.0.0.1:PORT".
  std::string address() const;

  void Stop();

 private:
  TestHttpServer() = default;
  std::string host_;
  int port_ = 0;
  bool https_ = false;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  // SSL_CTXs for SNI names (owned).
  std::map<std::string, SSL_CTX*> sni_ctx_;
};

}  // namespace testing
}  // namespace checks
}  // namespace vigil

#endif  // VIGIL_HEALTH_CHECKS_TESTING_HTTP_SERVER_H_
