// Tenants, managed by superadmins only. The default tenant (1) and tenants
// that still own users or devices cannot be deleted (409). A tenant's own
// retention shortens the server's for its rows (storage/rollups.hpp).

#include <peregrine/api/context.hpp>
#include <peregrine/storage/tenant_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

json tenant_json(const storage::Tenant& t) {
  const auto days = [](int d) { return d > 0 ? json(d) : json(nullptr); };  // null: the server's
  return {{"id", t.id},
          {"name", t.name},
          {"retention",
           {{"raw_days", days(t.retention.raw_days)},
            {"rollup_1m_days", days(t.retention.rollup_1m_days)},
            {"rollup_1h_days", days(t.retention.rollup_1h_days)}}}};
}

/// `{"raw_days", "rollup_1m_days", "rollup_1h_days"}`: whole days, or null for the server's.
storage::TenantRetention checked_retention(const json& r) {
  if (!r.is_object()) unprocessable("'retention' must be an object of raw_days, rollup_1m_days, rollup_1h_days");
  storage::TenantRetention out;
  for (const auto& [key, value] : r.items()) {
    int* field = key == "raw_days"         ? &out.raw_days
                 : key == "rollup_1m_days" ? &out.rollup_1m_days
                 : key == "rollup_1h_days" ? &out.rollup_1h_days
                                           : nullptr;
    if (!field) unprocessable("'retention." + key + "' is not a retention level (raw_days, rollup_1m_days, rollup_1h_days)");
    if (value.is_null()) continue;
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > 36500)
      unprocessable("'retention." + key + "' must be whole days from 1 to 36500, or null for the server's");
    *field = value.get<int>();
  }
  return out;
}

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
  const json body = body_object(req);
  std::optional<std::string> name;
  std::optional<storage::TenantRetention> retention;
  if (body.contains("name")) name = checked_name(body);
  if (body.contains("retention")) retention = checked_retention(body["retention"]);
  if (!name && !retention) unprocessable("give 'name' or 'retention'");
  storage::AuditEntry audit = audit_by(req, std::nullopt, "tenant.update", "tenant:" + std::to_string(id), body);
  const storage::Tenant t =
      take(co_await ctx.repos.tenants.update(id, std::move(name), std::move(retention), std::move(audit)));
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
