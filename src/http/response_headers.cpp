#include "http/response_headers.hpp"

namespace peregrine::http {

void add_security_headers(Response& res) {
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
}

std::string_view allowed_origin(const std::vector<std::string>& allowed, const RawRequest& req) {
  const auto it = req.find(bhttp::field::origin);
  if (it == req.end()) return {};
  const std::string_view origin = it->value();
  for (const auto& a : allowed) {
    if (a == origin) return origin;
  }
  return {};
}

bool is_preflight(const RawRequest& req) {
  return req.method() == bhttp::verb::options &&
         req.count(bhttp::field::access_control_request_method) != 0;
}

Response preflight_response(const RawRequest& req) {
  Response res(bhttp::status::no_content, req.version());
  res.keep_alive(req.keep_alive());
  res.set(bhttp::field::access_control_allow_methods, "GET, POST, PUT, PATCH, DELETE, OPTIONS");
  res.set(bhttp::field::access_control_allow_headers,
          "Authorization, Content-Type, X-Device-Token, X-Peregrine-Tenant");
  res.set(bhttp::field::access_control_max_age, "600");
  return res;
}

void add_cors_headers(Response& res, std::string_view origin) {
  res.set(bhttp::field::access_control_allow_origin, origin);
  res.set(bhttp::field::access_control_expose_headers, "Retry-After, WWW-Authenticate");
}

}  // namespace peregrine::http
