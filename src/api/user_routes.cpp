// Users: an admin manages the users of its own tenant and cannot reach above
// its role; a superadmin manages anyone. Another tenant's user answers 404
// (no existence leak). Every change is audited in the same transaction.

#include <pqxx/pqxx>

#include <peregrine/api/context.hpp>
#include <peregrine/auth/authenticator.hpp>
#include <peregrine/auth/secrets.hpp>
#include <peregrine/auth/store.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
using storage::Scope;

namespace {

constexpr const char* kUserColumns =
    "id, tenant_id, email, role, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
constexpr std::size_t kMinPassword = 8;
constexpr std::size_t kMaxPassword = 1024;

json user_json(const pqxx::row& r) {
  return {{"id", r[0].as<std::int64_t>()},
          {"tenant_id", r[1].as<std::int64_t>()},
          {"email", r[2].as<std::string>()},
          {"role", r[3].as<std::string>()},
          {"created_at", r[4].as<std::string>()}};
}

std::string checked_password(const std::string& pw) {
  if (pw.size() < kMinPassword || pw.size() > kMaxPassword) {
    throw http::Problem(422, "Unprocessable Entity", "password must have 8 to 1024 characters");
  }
  return pw;
}

auth::Role checked_role(const std::string& text, const http::Principal& caller) {
  const auto role = auth::parse_role(text);
  if (!role) {
    throw http::Problem(422, "Unprocessable Entity",
                        "role must be viewer, operator, admin or superadmin");
  }
  if (static_cast<int>(*role) > caller.role) {
    throw auth::forbidden("cannot grant a role above your own");
  }
  return *role;
}

// The tenant filter of the caller: none for a superadmin.
std::optional<std::int64_t> scope(const http::Principal& p) {
  return is_superadmin(p) ? std::nullopt : std::optional<std::int64_t>(p.tenant);
}

awaitable<http::Response> list_users(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  std::optional<std::int64_t> tenant = scope(p);
  if (!tenant) tenant = int_query(req, "tenant_id");
  const std::size_t limit = limit_param(req);
  const std::int64_t after = int_cursor(req).value_or(0);
  json items = co_await ctx.pool.run(db_scope(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto rows = w.exec_params(
        std::string("SELECT ") + kUserColumns +
            " FROM users WHERE id > $1 AND ($2::bigint = 0 OR tenant_id = $2) ORDER BY id LIMIT $3",
        after, tenant.value_or(0), limit + 1);
    json out = json::array();
    for (const auto& r : rows) out.push_back(user_json(r));
    return out;
  });
  const json next = take_page(items, limit);
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}, {"next", next}});
}

awaitable<http::Response> get_user(Context& ctx, http::Request& req) {
  const std::int64_t id = id_param(req);
  const auto tenant = scope(principal(req));
  json u = co_await ctx.pool.run(db_scope(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(std::string("SELECT ") + kUserColumns +
                                     " FROM users WHERE id = $1 AND ($2::bigint = 0 OR tenant_id = $2)",
                                 id, tenant.value_or(0));
    return r.empty() ? json() : user_json(r[0]);
  });
  if (u.is_null()) throw http::Problem(404, "Not Found", "no such user");
  co_return http::json_response(req.raw, 200, u);
}

awaitable<http::Response> create_user(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  const json body = body_object(req);
  const auto email = auth::normalize_email(*string_field(body, "email", true));
  if (!email) throw http::Problem(422, "Unprocessable Entity", "'email' is not an email address");
  const std::string password = checked_password(*string_field(body, "password", true));
  const auth::Role role = checked_role(string_field(body, "role", false).value_or("viewer"), p);
  std::int64_t tenant = p.tenant;
  if (const auto t = body.find("tenant_id"); t != body.end() && !t->is_null()) {
    if (!t->is_number_integer() || t->get<std::int64_t>() <= 0) {
      throw http::Problem(400, "Bad Request", "'tenant_id' must be a tenant id");
    }
    if (!is_superadmin(p) && t->get<std::int64_t>() != p.tenant) {
      throw auth::forbidden("only a superadmin may create users in another tenant");
    }
    tenant = t->get<std::int64_t>();
  }
  auth::AuditEntry entry = audit_by(req, tenant, "user.create", "",
                                    {{"email", *email}, {"role", auth::to_string(role)}});
  json u;
  try {
    u = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
      const auto hash = auth::hash_password(password);
      if (!hash) throw std::runtime_error("password hashing failed");
      pqxx::work w(c);
      const auto r = w.exec_params(
          std::string("INSERT INTO users (tenant_id, email, role, password_hash) VALUES "
                      "($1, $2, $3, $4) RETURNING ") + kUserColumns,
          tenant, *email, std::string(auth::to_string(role)), *hash);
      entry.target = "user:" + r[0][0].as<std::string>();
      auth::write_audit(w, entry);
      w.commit();
      return user_json(r[0]);
    });
  } catch (const pqxx::unique_violation&) {
    throw http::Problem(409, "Conflict", "a user with this email exists in this tenant");
  } catch (const pqxx::foreign_key_violation&) {
    throw http::Problem(422, "Unprocessable Entity", "no such tenant");
  }
  co_return http::json_response(req.raw, 201, u);
}

// Loads the target within the caller's reach: 404 outside its tenant, 403
// when the target's role is above the caller's.
auth::User reachable_user(pqxx::work& w, std::int64_t id, const http::Principal& p) {
  const auto r = w.exec_params(
      "SELECT id, tenant_id, role, email FROM users WHERE id = $1 AND ($2::bigint = 0 OR tenant_id = $2) "
      "FOR UPDATE",
      id, scope(p).value_or(0));
  if (r.empty()) throw http::Problem(404, "Not Found", "no such user");
  auth::User u{r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>(),
               auth::parse_role(r[0][2].as<std::string>()).value_or(auth::Role::superadmin),
               r[0][3].as<std::string>()};
  if (static_cast<int>(u.role) > p.role) throw auth::forbidden("cannot change a user above your role");
  return u;
}

awaitable<http::Response> patch_user(Context& ctx, http::Request& req) {
  const http::Principal p = principal(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  std::optional<std::string> role;
  if (const auto r = string_field(body, "role", false)) role = std::string(auth::to_string(checked_role(*r, p)));
  std::optional<std::string> password;
  if (const auto pw = string_field(body, "password", false)) password = checked_password(*pw);
  std::optional<std::string> email;
  if (const auto e = string_field(body, "email", false)) {
    email = auth::normalize_email(*e);
    if (!email) throw http::Problem(422, "Unprocessable Entity", "'email' is not an email address");
  }
  const auth::AuditEntry base = audit_by(req, std::nullopt, "user.update", "user:" + std::to_string(id),
                                         {{"role", role ? json(*role) : json()},
                                          {"email", email ? json(*email) : json()},
                                          {"password_changed", password.has_value()}});
  json u;
  try {
    u = co_await ctx.pool.run(db_scope(scope(p)), [&](pqxx::connection& c) {
      pqxx::work w(c);
      const auth::User target = reachable_user(w, id, p);
      if (role) w.exec_params("UPDATE users SET role = $1, updated_at = now() WHERE id = $2", *role, id);
      if (email) w.exec_params("UPDATE users SET email = $1, updated_at = now() WHERE id = $2", *email, id);
      if (password) {
        const auto hash = auth::hash_password(*password);
        if (!hash) throw std::runtime_error("password hashing failed");
        w.exec_params("UPDATE users SET password_hash = $1, updated_at = now() WHERE id = $2", *hash, id);
      }
      // New role or password: sessions issued under the old ones end.
      if (role || password) auth::revoke_user_tokens(w, id);
      auth::AuditEntry e = base;
      e.tenant = target.tenant;
      auth::write_audit(w, e);
      const auto r = w.exec_params(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = $1", id);
      w.commit();
      return user_json(r[0]);
    });
  } catch (const pqxx::unique_violation&) {
    throw http::Problem(409, "Conflict", "a user with this email exists in this tenant");
  }
  co_return http::json_response(req.raw, 200, u);
}

awaitable<http::Response> delete_user(Context& ctx, http::Request& req) {
  const http::Principal p = principal(req);
  const std::int64_t id = id_param(req);
  if (id == p.user_id) throw http::Problem(409, "Conflict", "you cannot delete yourself");
  const auth::AuditEntry base = audit_by(req, std::nullopt, "user.delete", "user:" + std::to_string(id));
  co_await ctx.pool.run(db_scope(scope(p)), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auth::User target = reachable_user(w, id, p);
    w.exec_params("DELETE FROM users WHERE id = $1", id);
    auth::AuditEntry e = base;
    e.tenant = target.tenant;
    e.detail = {{"email", target.email}};
    auth::write_audit(w, e);
    w.commit();
    return true;
  });
  co_return http::text_response(req.raw, 204, "", "application/json");
}

}  // namespace

void add_user_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/users", http::Access::admin, bind(ctx, list_users));
  router.add(bhttp::verb::post, "/api/v1/users", http::Access::admin, bind(ctx, create_user));
  router.add(bhttp::verb::get, "/api/v1/users/{id}", http::Access::admin, bind(ctx, get_user));
  router.add(bhttp::verb::patch, "/api/v1/users/{id}", http::Access::admin, bind(ctx, patch_user));
  router.add(bhttp::verb::delete_, "/api/v1/users/{id}", http::Access::admin, bind(ctx, delete_user));
}

}  // namespace peregrine::api
