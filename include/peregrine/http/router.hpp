#pragma once
/// Routes HTTP requests to handlers by method and path pattern
/// (`/api/v1/devices/{id}`). Handlers are coroutines on the event loop; they
/// may await work on the query pool. A handler reports errors by throwing
/// http::Problem (turned into application/problem+json); any other exception
/// becomes a 500 with nothing of its text leaked. Every route is declared in
/// one table with its access level so authentication can wrap every route.

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
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
struct Problem : std::runtime_error {
  Problem(unsigned status, std::string title, std::string detail)
      : std::runtime_error(detail), status(status), title(std::move(title)) {}
  unsigned status;
  std::string title;
};

struct Request {
  const RawRequest& raw;
  std::string_view path;                                     ///< without query string
  std::unordered_map<std::string, std::string> params;       ///< from `{name}` segments
  std::unordered_map<std::string, std::string> query;        ///< decoded `?a=b`
  boost::asio::ip::tcp::endpoint remote;
  std::string_view route;                                    ///< the matched pattern (metric label)

  /// Query parameter or nullopt.
  std::optional<std::string_view> q(const std::string& name) const;
  /// Body parsed as JSON; throws Problem 400 naming the parse error.
  nlohmann::json json() const;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

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
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
};

/// Response helpers (all set Content-Length and keep-alive from `req`).
Response json_response(const RawRequest& req, unsigned status, const nlohmann::json& body);
Response problem_response(const RawRequest& req, unsigned status, std::string_view title,
                          std::string_view detail);
Response text_response(const RawRequest& req, unsigned status, std::string body,
                       std::string_view content_type);

}  // namespace peregrine::http
