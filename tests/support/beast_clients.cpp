// The only translation unit of the test support that includes Beast.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

#include "support/http_client.hpp"

namespace peregrine::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

nlohmann::json HttpResponse::json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string HttpResponse::header(const std::string& lowercase_name) const {
  const auto it = headers.find(lowercase_name);
  return it == headers.end() ? "" : it->second;
}

HttpResponse HttpClient::get(const std::string& target, std::chrono::milliseconds timeout) const {
  return request("GET", target, "", "", timeout);
}

HttpResponse HttpClient::post(const std::string& target, const std::string& body,
                              const std::string& content_type,
                              std::chrono::milliseconds timeout) const {
  return request("POST", target, body, content_type, timeout);
}

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type,
                                 std::chrono::milliseconds timeout) const {
  HttpResponse out;
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::error_code ec;
  const auto step = [&](auto&& start) {
    stream.expires_after(timeout);
    start();
    ioc.restart();
    ioc.run();
    return !ec;
  };
  const tcp::endpoint ep{asio::ip::make_address(host_), static_cast<unsigned short>(port_)};
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  req.set(bhttp::field::connection, "close");
  if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
  if (!bearer_.empty()) req.set(bhttp::field::authorization, "Bearer " + bearer_);
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  const bool ok =
      step([&] { stream.async_connect(ep, [&](beast::error_code e) { ec = e; }); }) &&
      step([&] { bhttp::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; }); }) &&
      step([&] {
        bhttp::async_read(stream, buf, parser, [&](beast::error_code e, std::size_t) { ec = e; });
      });
  if (!ok) {
    out.error = method + " " + target + ": " + ec.message();
    return out;
  }
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

HttpResponse HttpClient::get_streamed(const std::string& target,
                                      const std::function<void(std::string_view)>& on_body,
                                      std::chrono::milliseconds timeout) const {
  HttpResponse out;
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::error_code ec;
  const auto step = [&](auto&& start) {
    stream.expires_after(timeout);
    start();
    ioc.restart();
    ioc.run();
    return !ec;
  };
  const tcp::endpoint ep{asio::ip::make_address(host_), static_cast<unsigned short>(port_)};
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  req.set(bhttp::field::connection, "close");
  if (!bearer_.empty()) req.set(bhttp::field::authorization, "Bearer " + bearer_);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  const bool ok =
      step([&] { stream.async_connect(ep, [&](beast::error_code e) { ec = e; }); }) &&
      step([&] { bhttp::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; }); }) &&
      step([&] { bhttp::async_read_header(stream, buf, parser, [&](beast::error_code e, std::size_t) { ec = e; }); });
  if (!ok) {
    out.error = "GET " + target + ": " + ec.message();
    return out;
  }
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[name] = std::string(f.value());
  }
  std::vector<char> piece(64 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    step([&] { bhttp::async_read(stream, buf, parser, [&](beast::error_code e, std::size_t) { ec = e; }); });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      out.error = "GET " + target + " body: " + ec.message();
      return out;
    }
    on_body(std::string_view(piece.data(), piece.size() - parser.get().body().size));
  }
  return out;
}

struct WsClient::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buf;
  bool reading = false;       // an async_read is outstanding
  bool closed = false;
  std::optional<std::string> ready;  // a frame read while nobody was waiting

  void start_read() {
    reading = true;
    ws.async_read(buf, [this](beast::error_code ec, std::size_t) {
      reading = false;
      if (ec) {
        closed = true;
        return;
      }
      ready = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
    });
  }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}

WsClient::~WsClient() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().close(ec);
  impl_->ioc.restart();
  impl_->ioc.run_for(std::chrono::seconds(1));
}

void WsClient::connect(const std::string& host, int port, const std::string& target,
                       std::chrono::milliseconds timeout) {
  auto& lowest = beast::get_lowest_layer(impl_->ws);
  beast::error_code ec;
  const tcp::endpoint ep{asio::ip::make_address(host), static_cast<unsigned short>(port)};
  lowest.expires_after(timeout);
  lowest.async_connect(ep, [&](beast::error_code e) { ec = e; });
  impl_->ioc.restart();
  impl_->ioc.run();
  if (ec) throw std::runtime_error("ws connect: " + ec.message());
  lowest.expires_after(timeout);
  impl_->ws.async_handshake(host + ":" + std::to_string(port), target,
                            [&](beast::error_code e) { ec = e; });
  impl_->ioc.restart();
  impl_->ioc.run();
  if (ec) throw std::runtime_error("ws handshake: " + ec.message());
  lowest.expires_never();
  impl_->ws.text(true);
}

void WsClient::send(const std::string& text, std::chrono::milliseconds timeout) {
  bool done = false;
  beast::error_code ec;
  impl_->ws.async_write(asio::buffer(text), [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  impl_->ioc.restart();
  while (!done && std::chrono::steady_clock::now() < deadline)
    impl_->ioc.run_one_until(deadline);
  if (!done) throw std::runtime_error("ws write timed out");
  if (ec) throw std::runtime_error("ws write: " + ec.message());
}

std::optional<std::string> WsClient::read(std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  if (!s.ready && !s.reading && !s.closed) s.start_read();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  s.ioc.restart();
  while (!s.ready && !s.closed && std::chrono::steady_clock::now() < deadline)
    s.ioc.run_one_until(deadline);
  std::optional<std::string> out;
  out.swap(s.ready);
  return out;
}

std::optional<nlohmann::json> WsClient::read_json(std::chrono::milliseconds timeout) {
  auto text = read(timeout);
  if (!text) return std::nullopt;
  return nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
}

bool WsClient::closed() const noexcept { return impl_->closed; }

}  // namespace peregrine::test
