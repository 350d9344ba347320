// libFuzzer target: any bytes as an HTTP/1.1 request, through what the
// server does before a handler's own logic: Beast's request_parser with the
// server's limits, the rejection of Transfer-Encoding + Content-Length, the
// Router (the server's route patterns and access levels), the query string,
// authentication of the Authorization / X-Device-Token headers (pinned-HS256
// JWT verification) and the JSON body. Nothing may crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <peregrine/auth/authenticator.hpp>
#include <peregrine/auth/token_signer.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/http/router.hpp>

namespace {

namespace bhttp = boost::beast::http;
using peregrine::http::Access;

// The route table of the server (src/api, src/app): patterns and access.
peregrine::http::Router make_router() {
  struct Def {
    bhttp::verb method;
    const char* pattern;
    Access access;
  };
  static const Def defs[] = {
      {bhttp::verb::get, "/livez", Access::public_},
      {bhttp::verb::get, "/readyz", Access::public_},
      {bhttp::verb::get, "/metrics", Access::public_},
      {bhttp::verb::post, "/api/v1/auth/login", Access::public_},
      {bhttp::verb::post, "/api/v1/auth/refresh", Access::public_},
      {bhttp::verb::get, "/api/v1/auth/me", Access::viewer},
      {bhttp::verb::get, "/api/v1/devices", Access::viewer},
      {bhttp::verb::post, "/api/v1/devices", Access::admin},
      {bhttp::verb::get, "/api/v1/devices/{id}", Access::viewer},
      {bhttp::verb::get, "/api/v1/devices/{id}/readings", Access::viewer},
      {bhttp::verb::post, "/api/v1/devices/{id}/telemetry", Access::device},
      {bhttp::verb::post, "/api/v1/devices/{id}/token", Access::admin},
      {bhttp::verb::post, "/api/v1/devices/bulk", Access::admin},
      {bhttp::verb::get, "/api/v1/devices/{id}/commands/{cid}", Access::viewer},
      {bhttp::verb::post, "/api/v1/groups/{id}/commands", Access::operator_},
      {bhttp::verb::post, "/api/v1/alerts/{id}/ack", Access::operator_},
      {bhttp::verb::get, "/api/v1/rules/{id}", Access::viewer},
      {bhttp::verb::patch, "/api/v1/users/{id}", Access::admin},
      {bhttp::verb::get, "/api/v1/tenants", Access::superadmin},
  };
  peregrine::http::Router router;
  for (const auto& d : defs) router.add(d.method, d.pattern, d.access, nullptr);
  return router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const peregrine::core::ManualClock clock(1'700'000'000'000'000);
  static const peregrine::auth::TokenSigner signer("fuzz-secret", clock);
  static const peregrine::auth::Authenticator authenticator(signer);
  static const peregrine::http::Router router = make_router();

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& raw = parser.get();
  if (raw.count(bhttp::field::transfer_encoding) && raw.count(bhttp::field::content_length)) {
    return 0;  // the server refuses these (400) before routing
  }

  const std::string_view target = raw.target();
  const auto qmark = target.find('?');
  peregrine::http::Request req{raw, target.substr(0, qmark), {}, {}, {}, {}, std::nullopt};
  if (qmark != std::string_view::npos) req.query = peregrine::http::parse_query(target.substr(qmark + 1));
  bool mismatch = false;
  const auto* route = router.match(raw.method(), req.path, req.params, mismatch);
  if (route == nullptr) {
    (void)router.allowed_methods(req.path);
    return 0;
  }
  try {
    req.principal = authenticator.authenticate(raw, route->access);
    (void)req.json();
  } catch (const peregrine::http::Problem& p) {
    if (p.status < 400 || p.status > 499) __builtin_trap();
  }
  return 0;
}
