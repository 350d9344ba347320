// Tenants, managed by superadmins only. The default tenant (1) and tenants
// that still own users or devices cannot be deleted (409).

#include <peregrine/api/context.hpp>
#include <peregrine/storage/tenant_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

json tenant_json(const storage::Tenant& t) { return {{"id", t.id}, {"name", t.name}}; }

std::string checked_name(const json& body) {
  std::string name = *string_field(body, "name", true);
  if (name.empty() || name.size() > 200) {
    throw http::Problem(422, "Unprocessable Entity", "'name' must have 1 to 200 characters");
  }
  return name;
}

awaitable<http::Response> list_tenants(Context& ctx, http::Request& req) {
  const auto page =
      co_await ctx.repos.tenants.list({limit_param(req), int_cursor(req).value_or(0)});
  co_return http::json_response(req.raw, 200, page_json(page, tenant_json));
}

awaitable<http::Response> get_tenant(Context& ctx, http::Request& req) {
  const storage::Tenant t = take(co_await ctx.repos.tenants.get(id_param(req)));
  co_return http::json_response(req.raw, 200, tenant_json(t));
}

awaitable<http::Response> create_tenant(Context& ctx, http::Request& req) {
  std::string name = checked_name(body_object(req));
  storage::AuditEntry audit = audit_by(req, std::nullopt, "tenant.create", "", {{"name", name}});
  const storage::Tenant t = take(co_await ctx.repos.tenants.create(std::move(name), std::move(audit)));
  co_return http::json_response(req.raw, 201, tenant_json(t));
}

awaitable<http::Response> patch_tenant(Context& ctx, http::Request& req) {
  const std::int64_t id = id_param(req);
  std::string name = checked_name(body_object(req));
  storage::AuditEntry audit =
      audit_by(req, std::nullopt, "tenant.update", "tenant:" + std::to_string(id), {{"name", name}});
  const storage::Tenant t =
      take(co_await ctx.repos.tenants.rename(id, std::move(name), std::move(audit)));
  co_return http::json_response(req.raw, 200, tenant_json(t));
}

awaitable<http::Response> delete_tenant(Context& ctx, http::Request& req) {
  const std::int64_t id = id_param(req);
  if (id == core::kDefaultTenant) throw http::Problem(409, "Conflict", "the default tenant stays");
  storage::AuditEntry audit =
      audit_by(req, std::nullopt, "tenant.delete", "tenant:" + std::to_string(id));
  take(co_await ctx.repos.tenants.remove(id, std::move(audit)));
  co_return http::text_response(req.raw, 204, "", "application/json");
}

}  // namespace

void add_tenant_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/tenants", http::Access::superadmin, bind(ctx, list_tenants));
  router.add(bhttp::verb::post, "/api/v1/tenants", http::Access::superadmin, bind(ctx, create_tenant));
  router.add(bhttp::verb::get, "/api/v1/tenants/{id}", http::Access::superadmin, bind(ctx, get_tenant));
  router.add(bhttp::verb::patch, "/api/v1/tenants/{id}", http::Access::superadmin, bind(ctx, patch_tenant));
  router.add(bhttp::verb::delete_, "/api/v1/tenants/{id}", http::Access::superadmin,
             bind(ctx, delete_tenant));
}

}  // namespace peregrine::api
