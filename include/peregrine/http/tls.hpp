#pragma once
/// HTTPS/WSS streams. Only the Beast translation units that speak TLS
/// (src/http/server.cpp, src/realtime/ws_session.cpp) include this header:
/// it pulls in Asio's OpenSSL layer.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace peregrine::http {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// A TLS connection after its handshake, handed to the WebSocket upgrade
/// handler (see TlsUpgradeHandler in server.hpp).
struct TlsSocket {
  TlsStream stream;
};

/// A server context with `cert_file` (PEM chain) and `key_file` (PEM key),
/// TLS 1.2 or newer. Throws std::runtime_error naming the file that failed.
std::shared_ptr<boost::asio::ssl::context> make_server_tls(const std::string& cert_file,
                                                           const std::string& key_file);

}  // namespace peregrine::http
