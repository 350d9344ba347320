#include "api/auth_support.hpp"

#include <charconv>

#include <peregrine/api/context.hpp>

#include "api/params.hpp"

namespace peregrine::api {

namespace {

std::optional<std::int64_t> parse_positive(std::string_view s) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

const http::Principal& principal(const http::Request& req) {
  if (!req.principal) throw http::Problem(401, "Unauthorized", "authentication required");
  return *req.principal;
}

bool is_superadmin(const http::Principal& p) {
  return p.role == static_cast<int>(auth::Role::superadmin);
}

core::TenantId caller_tenant(const http::Request& req) {
  const http::Principal& p = principal(req);
  if (is_superadmin(p)) {
    const auto it = req.raw.find("X-Peregrine-Tenant");
    if (it != req.raw.end()) {
      const auto t = parse_positive(it->value());
      if (!t) throw http::Problem(400, "Bad Request", "X-Peregrine-Tenant must be a tenant id");
      return *t;
    }
  }
  return p.tenant;
}

std::string remote_of(const http::Request& req) {
  return req.remote.address().to_string() + ":" + std::to_string(req.remote.port());
}

storage::AuditEntry audit_by(const http::Request& req, std::optional<std::int64_t> tenant,
                          std::string action, std::string target, nlohmann::json detail) {
  storage::AuditEntry e;
  e.tenant = tenant;
  if (req.principal) {
    e.actor_id = req.principal->user_id;
    e.actor_email = req.principal->email;
  }
  e.action = std::move(action);
  e.target = std::move(target);
  e.detail = std::move(detail);
  e.remote = remote_of(req);
  return e;
}

nlohmann::json body_object(const http::Request& req) {
  nlohmann::json body = req.json();
  if (!body.is_object()) throw http::Problem(400, "Bad Request", "body must be a JSON object");
  return body;
}

std::optional<std::string> string_field(const nlohmann::json& body, const char* key,
                                        bool required) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) throw http::Problem(400, "Bad Request", std::string("'") + key + "' is required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    throw http::Problem(400, "Bad Request", std::string("'") + key + "' must be a string");
  }
  return it->get<std::string>();
}

std::int64_t id_param(const http::Request& req) {
  const auto it = req.params.find("id");
  const auto v = it == req.params.end() ? std::nullopt : parse_positive(it->second);
  if (!v) throw http::Problem(404, "Not Found", "no such resource");
  return *v;
}

std::size_t limit_param(const http::Request& req) { return parse_limit(req, 100, 1000); }

std::optional<std::int64_t> int_query(const http::Request& req, const std::string& name) {
  const auto c = req.q(name);
  if (!c || c->empty()) return std::nullopt;
  const auto v = parse_positive(*c);
  if (!v) throw http::Problem(400, "Bad Request", "'" + name + "' must be a positive integer");
  return v;
}

std::optional<std::int64_t> int_cursor(const http::Request& req) { return int_query(req, "cursor"); }

}  // namespace peregrine::api
