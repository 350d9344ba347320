#pragma once
/// Routes HTTP requests to handlers by method and path pattern
/// (`/api/v1/devices/{id}`). Handlers are coroutines on the event loop; they
/// may await work on the query pool. A handler reports errors by throwing
/// http::Problem (turned into application/problem+json); any other exception
/// becomes a 500 with nothing of its text leaked. Every route is declared in
/// one table with its access level so authentication can wrap every route.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

namespace peregrine::http {

namespace bhttp = boost::beast::http;
using RawRequest = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

/// Who may call a route. Authentication (its own issue) enforces this.
enum class Access { public_, viewer, operator_, admin, superadmin, device };

/// An error a handler reports to the client (RFC 7807 problem+json).
/// `headers` go on the response (`WWW-Authenticate`, `Retry-After`).
struct Problem : std::runtime_error {
  Problem(unsigned status, std::string title, std::string detail)
      : std::runtime_error(detail), status(status), title(std::move(title)) {}
  unsigned status;
  std::string title;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The authenticated user behind a request (set by the Guard before the
/// handler runs). `role` is auth::Role's value; http knows no auth types.
struct Principal {
  std::int64_t user_id = 0;
  std::int64_t tenant = 0;
  int role = 0;
  std::string email;
};

/// A response body made piece by piece after the head is sent (chunked
/// transfer encoding), for bodies too large to hold: each call returns the
/// next piece, an empty string ends the body. Called on the loop, one call
/// at a time, the next only once the last piece is written (so a slow client
/// slows the producer, and memory stays flat). An exception after the head
/// has gone out cannot become a problem response: the server logs it and
/// closes the connection without the last chunk, so the client sees a
/// truncated body, never a complete-looking one.
using BodyStream = std::function<boost::asio::awaitable<std::string>()>;

struct Request {
  const RawRequest& raw;
  std::string_view path;                                     ///< without query string
  std::unordered_map<std::string, std::string> params;       ///< from `{name}` segments
  std::unordered_map<std::string, std::string> query;        ///< decoded `?a=b`
  boost::asio::ip::tcp::endpoint remote;
  std::string_view route;                                    ///< the matched pattern (metric label)
  std::optional<Principal> principal;                        ///< set by the Guard for user routes
  /// Set by a handler whose Response is only the head (status, headers):
  /// the body comes from here instead (see BodyStream).
  BodyStream stream;

  /// Query parameter or nullopt.
  std::optional<std::string_view> q(const std::string& name) const;
  /// Body parsed as JSON; throws Problem 400 naming the parse error.
  nlohmann::json json() const;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

/// Runs before every route's handler with the route's declared Access:
/// authenticates (fills `principal`) and rate-limits, or throws Problem.
using Guard = std::function<boost::asio::awaitable<void>(Request&, Access)>;

struct Route {
  bhttp::verb method;
  std::string pattern;
  Access access;
  Handler handler;
};

class Router {
 public:
  void add(bhttp::verb method, std::string pattern, Access access, Handler handler);
  /// Matching route and fills `params`; nullptr if none. `method_mismatch` is
  /// set when the path matched some route with another method (405).
  const Route* match(bhttp::verb method, std::string_view path,
                     std::unordered_map<std::string, std::string>& params,
                     bool& method_mismatch) const;
  /// Methods of the routes whose pattern matches `path`, comma-separated
  /// (the `Allow` header of a 405); empty if none.
  std::string allowed_methods(std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;  // per route, split at '/'
};

/// `%XX` and `+` decoded; nullopt if a `%` escape is malformed.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);
/// `a=1&b=x%20y` → {a:1, b:"x y"}; malformed pairs are skipped, last one wins.
std::unordered_map<std::string, std::string> parse_query(std::string_view query);

/// Response helpers (all set Content-Length and keep-alive from `req`). The
/// server adds the security headers (nosniff, no-referrer, DENY) to every response.
Response json_response(const RawRequest& req, unsigned status, const nlohmann::json& body);
Response problem_response(const RawRequest& req, unsigned status, std::string_view title,
                          std::string_view detail);
Response text_response(const RawRequest& req, unsigned status, std::string body,
                       std::string_view content_type);

}  // namespace peregrine::http
