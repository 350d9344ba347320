#include <peregrine/http/server.hpp>
#include <peregrine/http/tls.hpp>

#include <array>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include <peregrine/core/errors.hpp>

#include "http/response_headers.hpp"
#include "http/static_files.hpp"

namespace peregrine::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kIdleTimeout = 30s;    // between requests, and for a body or a write
constexpr auto kHeaderTimeout = 10s;  // from the first byte to the end of the header
constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kLingerBytes = 1 << 20;

// What stop() needs of a connection: its TCP layer and whether it is idle.
struct Connection {
  beast::tcp_stream* lowest = nullptr;
  bool idle = true;
};

tcp::endpoint resolve_addr(asio::io_context& ioc, const std::string& addr) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("http addr needs host:port: " + addr);
  std::string host = addr.substr(0, colon);
  const std::string port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, port, tcp::resolver::passive);
  if (results.empty()) throw std::invalid_argument("http addr does not resolve: " + addr);
  return results.begin()->endpoint();
}

std::string_view method_label(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: case bhttp::verb::head: case bhttp::verb::post:
    case bhttp::verb::put: case bhttp::verb::patch: case bhttp::verb::delete_:
    case bhttp::verb::options:
      return bhttp::to_string(v);
    default:
      return "other";
  }
}

// A parse error of the request itself, as opposed to the peer going away.
bool is_malformed(const beast::error_code& ec) {
  return ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

bool is_ws_upgrade(const RawRequest& req, std::string_view path) {
  return req.method() == bhttp::verb::get && path == "/ws" &&
         beast::websocket::is_upgrade(req);
}

struct ServerCore {
  ServerCore(asio::io_context& ioc, ServerOptions o, const Router& r, metrics::Registry& m)
      : ioc(ioc),
        opts(std::move(o)),
        router(r),
        metrics(m),
        files(opts.web_root),
        acceptor(ioc),
        latency(m.histogram("peregrine_http_request_seconds", "HTTP request latency",
                            metrics::exponential_buckets(0.0005, 2, 14))),
        open_gauge(m.gauge("peregrine_http_connections", "HTTP connections being served")),
        refused(m.counter("peregrine_http_connections_refused_total",
                          "HTTP connections answered 503 and closed: over PEREGRINE_HTTP_MAX_CONNECTIONS")) {}

  void count(bhttp::verb method, std::string_view route, unsigned status, double seconds) {
    const auto m = method_label(method);
    std::string key;
    key.reserve(m.size() + route.size() + 8);
    key.append(m).append(1, '\0').append(route).append(1, '\0').append(std::to_string(status));
    auto& slot = counters[key];
    if (slot == nullptr) {
      slot = &metrics.counter("peregrine_http_requests_total", "HTTP requests",
                              {{"method", std::string(m)},
                               {"route", std::string(route)},
                               {"status", std::to_string(status)}});
    }
    slot->inc();
    latency.observe(seconds);
  }

  asio::io_context& ioc;
  ServerOptions opts;
  const Router& router;
  metrics::Registry& metrics;
  StaticFiles files;
  tcp::acceptor acceptor;
  UpgradeHandler upgrade;
  TlsUpgradeHandler tls_upgrade;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP
  Guard guard;
  bool stopping = false;
  std::unordered_set<Connection*> connections;
  metrics::Histogram& latency;
  metrics::Gauge& open_gauge;
  metrics::Counter& refused;
  std::unordered_map<std::string, metrics::Counter*> counters;
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

awaitable<Response> dispatch(ServerCore& impl, const RawRequest& req, tcp::endpoint remote,
                             std::string_view& route_label, BodyStream& stream) {
  const std::string_view target = req.target();
  const auto qmark = target.find('?');
  const auto path = target.substr(0, qmark);
  Request r{req, path, {}, {}, remote, {}, std::nullopt, {}};
  if (qmark != std::string_view::npos) r.query = parse_query(target.substr(qmark + 1));

  bool mismatch = false;
  if (const Route* route = impl.router.match(req.method(), path, r.params, mismatch)) {
    route_label = route->pattern;
    r.route = route->pattern;
    unsigned status = 0;
    std::string title, detail;
    std::vector<std::pair<std::string, std::string>> headers;
    try {
      if (impl.guard) co_await impl.guard(r, route->access);
      Response res = co_await route->handler(r);
      stream = std::move(r.stream);
      co_return res;
    } catch (const Problem& p) {
      status = p.status;
      title = p.title;
      detail = p.what();
      headers = p.headers;
    } catch (const core::Overloaded& o) {
      status = 503;
      title = "Service Unavailable";
      detail = o.what();
      headers.emplace_back("Retry-After", std::to_string(o.retry_after_s()));
    } catch (const std::exception& e) {
      spdlog::error("http {} {}: handler failed: {}", req.method_string(), route->pattern,
                    e.what());
      status = 500;
      title = "Internal Server Error";
      detail = "the server could not complete the request";
    }
    Response res = problem_response(req, status, title, detail);
    for (const auto& [name, value] : headers) res.set(name, value);
    co_return res;
  }

  route_label = "unmatched";
  if (mismatch) {
    auto res = problem_response(req, 405, "Method Not Allowed",
                                "this path does not accept " + std::string(req.method_string()));
    res.set(bhttp::field::allow, impl.router.allowed_methods(path));
    co_return res;
  }
  const bool get_or_head =
      req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;
  if (!get_or_head || path.starts_with("/api/") || path == "/api") {
    co_return problem_response(req, 404, "Not Found", "no such resource");
  }
  route_label = "static";
  auto file = impl.files.lookup(path);
  if (file.status != 200) {
    co_return problem_response(req, file.status,
                               file.status == 403 ? "Forbidden" : "Not Found",
                               file.status == 403 ? "path refused" : "no such file");
  }
  const auto size = file.body.size();
  Response res = text_response(req, 200, std::move(file.body), file.content_type);
  if (file.no_cache) res.set(bhttp::field::cache_control, "no-cache");
  if (req.method() == bhttp::verb::head) {
    res.body().clear();
    res.content_length(size);
  }
  co_return res;
}

// Answers a request that could not be parsed, then closes without resetting
// the connection: unread request bytes would make the kernel send RST, and
// the client could lose the response.
template <class Stream>
awaitable<void> reject_and_close(ServerCore& impl, Stream& stream, unsigned status,
                                 std::string_view title, std::string_view detail,
                                 Clock::time_point started) {
  RawRequest dummy;
  dummy.version(11);
  dummy.keep_alive(false);
  auto res = problem_response(dummy, status, title, detail);
  add_security_headers(res);
  beast::error_code ec;
  impl.count(bhttp::verb::unknown, "unmatched", status, seconds_since(started));
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(kHeaderTimeout);
  co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;
  lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
  lowest.expires_after(2s);
  std::array<char, 4096> sink;
  for (std::size_t drained = 0; drained < kLingerBytes;) {
    const auto n = co_await lowest.async_read_some(asio::buffer(sink),
                                                  asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    drained += n;
  }
}

bool can_upgrade(const ServerCore& impl, const beast::tcp_stream&) {
  return static_cast<bool>(impl.upgrade);
}
bool can_upgrade(const ServerCore& impl, const TlsStream&) {
  return static_cast<bool>(impl.tls_upgrade);
}
void hand_over(ServerCore& impl, beast::tcp_stream& stream, RawRequest req) {
  impl.upgrade(stream.release_socket(), std::move(req));
}
void hand_over(ServerCore& impl, TlsStream& stream, RawRequest req) {
  impl.tls_upgrade(std::make_shared<TlsSocket>(TlsSocket{std::move(stream)}), std::move(req));
}

// After the last response: TCP half-close, or TLS close_notify first.
awaitable<void> end_stream(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  co_return;
}
awaitable<void> end_stream(TlsStream& stream) {
  beast::error_code ec;
  beast::get_lowest_layer(stream).expires_after(2s);
  co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
}

// The head of `res`, then `body`'s pieces as chunks. False when the
// connection must close: the client went away, or the producer failed after
// the head was sent (then no last chunk, so the body is visibly truncated).
template <class Stream>
awaitable<bool> write_streamed(Stream& stream, Response& res, BodyStream& body, std::string_view route) {
  auto& lowest = beast::get_lowest_layer(stream);
  bhttp::response<bhttp::empty_body> head{std::move(res.base())};
  head.erase(bhttp::field::content_length);
  head.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> sr{head};
  beast::error_code ec;
  lowest.expires_after(kIdleTimeout);
  co_await bhttp::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return false;
  for (;;) {
    std::string piece;
    try {
      piece = co_await body();
    } catch (const std::exception& e) {
      spdlog::error("http {}: streamed body failed after the head was sent: {}", route, e.what());
      co_return false;
    }
    lowest.expires_after(kIdleTimeout);
    if (piece.empty()) {
      co_await asio::async_write(stream, bhttp::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
      co_return !ec;
    }
    co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(piece)),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) co_return false;
  }
}

template <class Stream>
awaitable<void> serve_requests(ServerCore& impl, Stream& stream, Connection& conn) {
  beast::error_code ec;
  auto& lowest = beast::get_lowest_layer(stream);
  const auto remote = lowest.socket().remote_endpoint(ec);
  beast::flat_buffer buffer;
  for (;;) {
    conn.idle = true;
    if (impl.stopping) co_return;
    if (buffer.size() == 0) {
      lowest.expires_after(kIdleTimeout);
      const auto n = co_await stream.async_read_some(
          buffer.prepare(kHeaderLimit), asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      buffer.commit(n);
    }
    conn.idle = false;
    const auto started = Clock::now();

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(impl.opts.body_limit);
    lowest.expires_after(kHeaderTimeout);
    co_await bhttp::async_read_header(stream, buffer, parser,
                                      asio::redirect_error(use_awaitable, ec));
    if (!ec) {
      const auto& head = parser.get();
      if (head.count(bhttp::field::transfer_encoding) && head.count(bhttp::field::content_length)) {
        co_await reject_and_close(impl, stream, 400, "Bad Request",
                                  "both Transfer-Encoding and Content-Length", started);
        co_return;
      }
      const std::string_view target = head.target();
      if (can_upgrade(impl, stream) && is_ws_upgrade(head, target.substr(0, target.find('?')))) {
        impl.count(bhttp::verb::get, "/ws", 101, seconds_since(started));
        hand_over(impl, stream, parser.release());
        co_return;
      }
      lowest.expires_after(kIdleTimeout);
      co_await bhttp::async_read(stream, buffer, parser,
                                 asio::redirect_error(use_awaitable, ec));
    }
    if (ec == bhttp::error::body_limit) {
      co_await reject_and_close(impl, stream, 413, "Payload Too Large",
                                "request body exceeds " + std::to_string(impl.opts.body_limit) +
                                    " bytes",
                                started);
      co_return;
    }
    if (ec == bhttp::error::header_limit) {
      co_await reject_and_close(impl, stream, 431, "Request Header Fields Too Large",
                                "request header exceeds 16 KiB", started);
      co_return;
    }
    if (is_malformed(ec)) {
      co_await reject_and_close(impl, stream, 400, "Bad Request", "malformed HTTP request", started);
      co_return;
    }
    if (ec) co_return;  // timeout, reset, or the peer went away mid-request

    RawRequest req = parser.release();
    std::string_view route_label;
    const std::string_view origin = allowed_origin(impl.opts.cors_origins, req);
    Response res;
    BodyStream body;
    if (!origin.empty() && is_preflight(req)) {
      route_label = "preflight";
      res = preflight_response(req);
    } else {
      res = co_await dispatch(impl, req, remote, route_label, body);
    }
    if (!origin.empty()) add_cors_headers(res, origin);
    if (!impl.opts.cors_origins.empty()) res.set(bhttp::field::vary, "Origin");
    if (impl.stopping) res.keep_alive(false);
    add_security_headers(res);
    // Counted before the write so the figure is the server's time to answer.
    impl.count(req.method(), route_label, res.result_int(), seconds_since(started));
    const bool keep_alive = res.keep_alive();  // write_streamed moves the head out of res
    if (body) {
      if (!co_await write_streamed(stream, res, body, route_label)) co_return;
    } else {
      lowest.expires_after(kIdleTimeout);
      co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
    }
    if (!keep_alive) {
      co_await end_stream(stream);
      co_return;
    }
  }
}

// Over the cap: a fixed 503 written straight to the socket (no parsing, no
// TLS handshake: the point is to spend nothing on it), then closed.
awaitable<void> refuse(tcp::socket socket) {
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
      "Content-Length: 0\r\n\r\n";
  beast::error_code ec;
  co_await asio::async_write(socket, asio::buffer(kBusy.data(), kBusy.size()),
                             asio::redirect_error(use_awaitable, ec));
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

awaitable<void> serve(std::shared_ptr<ServerCore> impl, tcp::socket socket) {
  Connection conn;
  impl->connections.insert(&conn);
  impl->open_gauge.set(static_cast<double>(impl->connections.size()));
  try {
    if (impl->tls) {
      TlsStream stream(std::move(socket), *impl->tls);
      conn.lowest = &beast::get_lowest_layer(stream);
      conn.lowest->expires_after(kHeaderTimeout);
      beast::error_code ec;
      co_await stream.async_handshake(asio::ssl::stream_base::server,
                                      asio::redirect_error(use_awaitable, ec));
      // A failed handshake (plain HTTP to the TLS port, scanners) just ends.
      if (!ec) co_await serve_requests(*impl, stream, conn);
    } else {
      beast::tcp_stream stream(std::move(socket));
      conn.lowest = &stream;
      co_await serve_requests(*impl, stream, conn);
    }
  } catch (const std::exception& e) {
    spdlog::warn("http connection failed: {}", e.what());
  }
  impl->connections.erase(&conn);
  impl->open_gauge.set(static_cast<double>(impl->connections.size()));
}

awaitable<void> accept_loop(std::shared_ptr<ServerCore> impl) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket =
        co_await impl->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (impl->stopping || !impl->acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on the error.
      spdlog::warn("http accept failed: {}", ec.message());
      asio::steady_timer pause(impl->ioc, 100ms);
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (impl->connections.size() >= impl->opts.max_connections) {
      impl->refused.inc();
      asio::co_spawn(impl->ioc, refuse(std::move(socket)), asio::detached);
      continue;
    }
    asio::co_spawn(impl->ioc, serve(impl, std::move(socket)), asio::detached);
  }
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_server_tls(const std::string& cert_file,
                                                    const std::string& key_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  beast::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) throw std::runtime_error("TLS certificate " + cert_file + ": " + ec.message());
  ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("TLS key " + key_file + ": " + ec.message());
  return ctx;
}

struct Server::Impl : ServerCore {
  using ServerCore::ServerCore;
};

Server::Server(asio::io_context& ioc, ServerOptions opts, const Router& router,
               metrics::Registry& metrics)
    : impl_(std::make_shared<Impl>(ioc, std::move(opts), router, metrics)) {}

Server::~Server() { stop(); }

void Server::set_upgrade_handler(UpgradeHandler h) { impl_->upgrade = std::move(h); }

void Server::set_tls_upgrade_handler(TlsUpgradeHandler h) { impl_->tls_upgrade = std::move(h); }

void Server::set_guard(Guard g) { impl_->guard = std::move(g); }

void Server::start() {
  for (const Route& route : impl_->router.routes()) {
    const auto level = static_cast<int>(route.access);
    if (level < static_cast<int>(Access::public_) || level > static_cast<int>(Access::device)) {
      throw std::logic_error("route " + route.pattern + " declares no valid access level");
    }
    if (route.access != Access::public_ && !impl_->guard) {
      throw std::logic_error("route " + route.pattern + " needs a caller but no guard is set");
    }
  }
  if (!impl_->opts.tls_cert.empty() || !impl_->opts.tls_key.empty()) {
    impl_->tls = make_server_tls(impl_->opts.tls_cert, impl_->opts.tls_key);
  }
  const auto endpoint = resolve_addr(impl_->ioc, impl_->opts.addr);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->stopping = false;
  spdlog::info("{} listening on {}:{}", impl_->tls ? "https" : "http",
               endpoint.address().to_string(), port());
  asio::co_spawn(impl_->ioc, accept_loop(std::shared_ptr<ServerCore>(impl_)), asio::detached);
}

void Server::stop() {
  impl_->stopping = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  for (Connection* conn : impl_->connections) {
    if (conn->idle && conn->lowest != nullptr) conn->lowest->socket().close(ec);
  }
}

unsigned short Server::port() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace peregrine::http
