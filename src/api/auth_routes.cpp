// Login, refresh-token rotation, logout. Password checks and token-family
// bookkeeping run on the query pool (argon2id costs ~50 ms of CPU: never on
// the loop); every login attempt, good or bad, lands in the audit log.

#include <peregrine/api/context.hpp>
#include <peregrine/auth/authenticator.hpp>
#include <peregrine/auth/user.hpp>
#include <peregrine/storage/session_repository.hpp>

#include "api/auth_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxPasswordBytes = 1024;

json token_body(const auth::TokenSigner& signer, const auth::User& u, const std::string& refresh) {
  const std::string access = signer.issue({u.id, u.tenant, u.role, u.email});
  return {{"access_token", access},
          {"refresh_token", refresh},
          {"token_type", "Bearer"},
          {"expires_in", signer.ttl().count()}};
}

awaitable<http::Response> login(Context& ctx, const auth::TokenSigner& signer,
                                http::Request& req) {
  const json body = body_object(req);
  std::string email = *string_field(body, "email", true);
  std::string password = *string_field(body, "password", true);
  if (email.size() > 254 || password.size() > kMaxPasswordBytes) {
    throw auth::unauthorized("invalid email or password", false);
  }
  const core::Micros now = signer.clock().now_us();
  storage::AuditEntry audit = audit_by(req, std::nullopt, "", "");
  const std::optional<storage::Session> s = co_await ctx.repos.sessions.login(
      std::move(email), std::move(password), now, std::move(audit));
  if (!s) throw auth::unauthorized("invalid email or password", false);
  co_return http::json_response(req.raw, 200, token_body(signer, s->user, s->refresh_token));
}

awaitable<http::Response> refresh(Context& ctx, const auth::TokenSigner& signer,
                                  http::Request& req) {
  const json body = body_object(req);
  std::string token = *string_field(body, "refresh_token", true);
  const core::Micros now = signer.clock().now_us();
  storage::AuditEntry audit = audit_by(req, std::nullopt, "", "");
  const storage::Refreshed r =
      co_await ctx.repos.sessions.refresh(std::move(token), now, std::move(audit));
  switch (r.verdict) {
    case auth::RefreshVerdict::rotate:
      co_return http::json_response(req.raw, 200, token_body(signer, *r.user, r.refresh_token));
    case auth::RefreshVerdict::reused:
      throw auth::unauthorized("refresh token reused: every session of this login is revoked",
                               true);
    case auth::RefreshVerdict::expired:
      throw auth::unauthorized("refresh token expired", true);
    default:
      throw auth::unauthorized("refresh token invalid or revoked", true);
  }
}

awaitable<http::Response> logout(Context& ctx, http::Request& req) {
  const json body = body_object(req);
  std::string token = *string_field(body, "refresh_token", true);
  storage::AuditEntry audit = audit_by(req, std::nullopt, "", "");
  co_await ctx.repos.sessions.logout(std::move(token), std::move(audit));
  // Unknown tokens answer the same: logout is idempotent and reveals nothing.
  co_return http::text_response(req.raw, 204, "", "application/json");
}

awaitable<http::Response> me(Context&, http::Request& req) {
  const http::Principal& p = principal(req);
  co_return http::json_response(
      req.raw, 200,
      {{"id", p.user_id},
       {"email", p.email},
       {"tenant_id", p.tenant},
       {"role", auth::to_string(auth::role_of(p))}});
}

// The route table itself, so tests (the authorization matrix) and operators
// can see every route's access level as the server enforces it.
awaitable<http::Response> list_routes(const http::Router& router, http::Request& req) {
  json items = json::array();
  for (const http::Route& r : router.routes()) {
    const auto method = bhttp::to_string(r.method);
    items.push_back({{"method", std::string(method.data(), method.size())},
                     {"pattern", r.pattern},
                     {"access", auth::to_string(r.access)}});
  }
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}, {"next", nullptr}});
}

}  // namespace

void add_auth_routes(http::Router& router, Context& ctx, const auth::TokenSigner& signer) {
  const auto& s = signer;
  router.add(bhttp::verb::post, "/api/v1/auth/login", http::Access::public_,
             [&ctx, &s](http::Request& req) { return login(ctx, s, req); });
  router.add(bhttp::verb::post, "/api/v1/auth/refresh", http::Access::public_,
             [&ctx, &s](http::Request& req) { return refresh(ctx, s, req); });
  router.add(bhttp::verb::post, "/api/v1/auth/logout", http::Access::public_,
             [&ctx](http::Request& req) { return logout(ctx, req); });
  router.add(bhttp::verb::get, "/api/v1/auth/me", http::Access::viewer,
             [&ctx](http::Request& req) { return me(ctx, req); });
  const http::Router& table = router;
  router.add(bhttp::verb::get, "/api/v1/routes", http::Access::superadmin,
             [&table](http::Request& req) { return list_routes(table, req); });
}

}  // namespace peregrine::api
