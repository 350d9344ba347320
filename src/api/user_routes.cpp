// Users: an admin manages the users of its own tenant and cannot reach above
// its role; a superadmin manages anyone. Another tenant's user answers 404
// (no existence leak). Every change is audited in the same transaction.

#include <peregrine/api/context.hpp>
#include <peregrine/auth/authenticator.hpp>
#include <peregrine/auth/user.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/user_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::size_t kMinPassword = 8;
constexpr std::size_t kMaxPassword = 1024;
constexpr core::Micros kMicrosPerSecond = 1'000'000;

// `created_at` has whole seconds: `2026-11-22T08:00:00Z`.
std::string whole_seconds(core::Micros us) {
  const core::Micros below = ((us % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond;
  std::string s = core::format_rfc3339(us - below);
  s.erase(19, 4);  // ".000"
  return s;
}

json user_json(const storage::UserRecord& r) {
  return {{"id", r.user.id},
          {"tenant_id", r.user.tenant},
          {"email", r.user.email},
          {"role", auth::to_string(r.user.role)},
          {"created_at", whole_seconds(r.created_us)}};
}

// Users' problem details (docs/api.md) name no field.
template <class T>
T take_detail(storage::Outcome<T>&& o) {
  return take(std::move(o), false);
}

template <class T>
T take_reached(storage::UserWrite<T>&& w) {
  if (w.above_caller) throw auth::forbidden("cannot change a user above your role");
  return take_detail(std::move(w.outcome));
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

std::string checked_email(const std::string& text) {
  auto email = auth::normalize_email(text);
  if (!email) throw http::Problem(422, "Unprocessable Entity", "'email' is not an email address");
  return std::move(*email);
}

// The tenant filter of the caller: none for a superadmin.
std::optional<std::int64_t> scope(const http::Principal& p) {
  return is_superadmin(p) ? std::nullopt : std::optional<std::int64_t>(p.tenant);
}

storage::Reach reach_of(const http::Principal& p) { return {scope(p), auth::role_of(p)}; }

awaitable<http::Response> list_users(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  std::optional<std::int64_t> tenant = scope(p);
  if (!tenant) tenant = int_query(req, "tenant_id");
  const auto page =
      co_await ctx.repos.users.list(tenant, {limit_param(req), int_cursor(req).value_or(0)});
  co_return http::json_response(req.raw, 200, page_json(page, user_json));
}

awaitable<http::Response> get_user(Context& ctx, http::Request& req) {
  const std::int64_t id = id_param(req);
  const auto u = take_detail(co_await ctx.repos.users.get(id, scope(principal(req))));
  co_return http::json_response(req.raw, 200, user_json(u));
}

awaitable<http::Response> create_user(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  const json body = body_object(req);
  storage::NewUser user;
  user.email = checked_email(*string_field(body, "email", true));
  user.password = checked_password(*string_field(body, "password", true));
  user.role = checked_role(string_field(body, "role", false).value_or("viewer"), p);
  user.tenant = p.tenant;
  if (const auto t = body.find("tenant_id"); t != body.end() && !t->is_null()) {
    if (!t->is_number_integer() || t->get<std::int64_t>() <= 0) {
      throw http::Problem(400, "Bad Request", "'tenant_id' must be a tenant id");
    }
    if (!is_superadmin(p) && t->get<std::int64_t>() != p.tenant) {
      throw auth::forbidden("only a superadmin may create users in another tenant");
    }
    user.tenant = t->get<std::int64_t>();
  }
  storage::AuditEntry audit =
      audit_by(req, user.tenant, "user.create", "",
               {{"email", user.email}, {"role", auth::to_string(user.role)}});
  const auto u = take_detail(co_await ctx.repos.users.create(std::move(user), std::move(audit)));
  co_return http::json_response(req.raw, 201, user_json(u));
}

awaitable<http::Response> patch_user(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  storage::UserChange change;
  if (const auto r = string_field(body, "role", false)) change.role = checked_role(*r, p);
  if (const auto pw = string_field(body, "password", false)) {
    change.password = checked_password(*pw);
  }
  if (const auto e = string_field(body, "email", false)) change.email = checked_email(*e);
  storage::AuditEntry audit =
      audit_by(req, std::nullopt, "user.update", "user:" + std::to_string(id),
               {{"role", change.role ? json(auth::to_string(*change.role)) : json()},
                {"email", change.email ? json(*change.email) : json()},
                {"password_changed", change.password.has_value()}});
  const auto u = take_reached(
      co_await ctx.repos.users.update(id, reach_of(p), std::move(change), std::move(audit)));
  co_return http::json_response(req.raw, 200, user_json(u));
}

awaitable<http::Response> delete_user(Context& ctx, http::Request& req) {
  const http::Principal& p = principal(req);
  const std::int64_t id = id_param(req);
  if (id == p.user_id) throw http::Problem(409, "Conflict", "you cannot delete yourself");
  storage::AuditEntry audit =
      audit_by(req, std::nullopt, "user.delete", "user:" + std::to_string(id));
  take_reached(co_await ctx.repos.users.remove(id, reach_of(p), std::move(audit)));
  co_return http::text_response(req.raw, 204, "", "application/json");
}

}  // namespace

void add_user_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/users", http::Access::admin, bind(ctx, list_users));
  router.add(bhttp::verb::post, "/api/v1/users", http::Access::admin, bind(ctx, create_user));
  router.add(bhttp::verb::get, "/api/v1/users/{id}", http::Access::admin, bind(ctx, get_user));
  router.add(bhttp::verb::patch, "/api/v1/users/{id}", http::Access::admin, bind(ctx, patch_user));
  router.add(bhttp::verb::delete_, "/api/v1/users/{id}", http::Access::admin,
             bind(ctx, delete_user));
}

}  // namespace peregrine::api
