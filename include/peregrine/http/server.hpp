#pragma once
/// The HTTP listener: accepts connections on the event loop and runs one
/// coroutine per connection (Beast), with read timeouts, header and body
/// limits. Requests go to the Router; `GET /ws` upgrades are handed to the
/// upgrade handler; anything else under no route is served from the web root.
/// Counts `peregrine_http_requests_total{method,route,status}` and
/// `peregrine_http_request_seconds`. Loop thread only.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <peregrine/http/router.hpp>
#include <peregrine/metrics/registry.hpp>

namespace peregrine::http {

struct ServerOptions {
  std::string addr = "0.0.0.0:8080";  ///< host:port; port 0 picks a free one
  std::string web_root = "web";
  std::size_t body_limit = 1 << 20;
  /// Connections served at once; one more is answered 503 (Retry-After: 1)
  /// and closed, counted in peregrine_http_connections_refused_total.
  std::size_t max_connections = 4096;
  /// Origins (`https://ops.example.org`) whose pages may call the API: their
  /// requests get `Access-Control-Allow-Origin`, their preflight `OPTIONS`
  /// is answered 204 by the server. Other origins get no CORS headers.
  std::vector<std::string> cors_origins;
  /// PEM certificate chain and key: when both are set, every connection is
  /// HTTPS (and WebSocket upgrades WSS); plain HTTP is not served.
  std::string tls_cert;
  std::string tls_key;
};

/// Takes over the socket of a WebSocket upgrade request.
using UpgradeHandler = std::function<void(boost::asio::ip::tcp::socket, RawRequest)>;
/// The same over TLS: the stream after its handshake (http/tls.hpp).
struct TlsSocket;
using TlsUpgradeHandler = std::function<void(std::shared_ptr<TlsSocket>, RawRequest)>;

class Server {
 public:
  Server(boost::asio::io_context& ioc, ServerOptions opts, const Router& router,
         metrics::Registry& metrics);
  ~Server();

  void set_upgrade_handler(UpgradeHandler h);
  void set_tls_upgrade_handler(TlsUpgradeHandler h);
  /// Checks every routed request before its handler (authentication).
  void set_guard(Guard g);
  /// Binds and starts accepting. Throws if the address cannot be bound or
  /// the TLS certificate or key cannot be loaded, and
  /// std::logic_error when a route declares an Access outside the enum or
  /// needs a caller while no guard is set (no route runs unchecked).
  void start();
  /// Stops accepting and closes idle connections.
  void stop();
  /// The bound port (useful with port 0).
  unsigned short port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace peregrine::http
