// Tenants, managed by superadmins only. The default tenant (1) and tenants
// that still own users or devices cannot be deleted (409).

#include <pqxx/pqxx>

#include <peregrine/api/context.hpp>
#include <peregrine/auth/store.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
using storage::Scope;

namespace {

json tenant_json(const pqxx::row& r) {
  return {{"id", r[0].as<std::int64_t>()}, {"name", r[1].as<std::string>()}};
}

std::string checked_name(const json& body) {
  std::string name = *string_field(body, "name", true);
  if (name.empty() || name.size() > 200) {
    throw http::Problem(422, "Unprocessable Entity", "'name' must have 1 to 200 characters");
  }
  return name;
}

awaitable<http::Response> list_tenants(Context& ctx, http::Request& req) {
  const std::size_t limit = limit_param(req);
  const std::int64_t after = int_cursor(req).value_or(0);
  json items = co_await ctx.pool.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    json out = json::array();
    for (const auto& r : w.exec_params("SELECT id, name FROM tenants WHERE id > $1 ORDER BY id LIMIT $2",
                                       after, limit + 1)) {
      out.push_back(tenant_json(r));
    }
    return out;
  });
  const json next = take_page(items, limit);
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}, {"next", next}});
}

awaitable<http::Response> get_tenant(Context& ctx, http::Request& req) {
  const std::int64_t id = id_param(req);
  json t = co_await ctx.pool.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params("SELECT id, name FROM tenants WHERE id = $1", id);
    return r.empty() ? json() : tenant_json(r[0]);
  });
  if (t.is_null()) throw http::Problem(404, "Not Found", "no such tenant");
  co_return http::json_response(req.raw, 200, t);
}

awaitable<http::Response> create_tenant(Context& ctx, http::Request& req) {
  const std::string name = checked_name(body_object(req));
  const auth::AuditEntry base = audit_by(req, std::nullopt, "tenant.create", "", {{"name", name}});
  json t;
  try {
    t = co_await ctx.pool.run(Scope::all(), [&](pqxx::connection& c) {
      pqxx::work w(c);
      const auto r = w.exec_params("INSERT INTO tenants (name) VALUES ($1) RETURNING id, name", name);
      auth::AuditEntry e = base;
      e.target = "tenant:" + r[0][0].as<std::string>();
      auth::write_audit(w, e);
      w.commit();
      return tenant_json(r[0]);
    });
  } catch (const pqxx::unique_violation&) {
    throw http::Problem(409, "Conflict", "a tenant with this name exists");
  }
  co_return http::json_response(req.raw, 201, t);
}

awaitable<http::Response> patch_tenant(Context& ctx, http::Request& req) {
  const std::int64_t id = id_param(req);
  const std::string name = checked_name(body_object(req));
  const auth::AuditEntry base = audit_by(req, std::nullopt, "tenant.update",
                                         "tenant:" + std::to_string(id), {{"name", name}});
  json t;
  try {
    t = co_await ctx.pool.run(Scope::all(), [&](pqxx::connection& c) {
      pqxx::work w(c);
      const auto r = w.exec_params("UPDATE tenants SET name = $1 WHERE id = $2 RETURNING id, name",
                                   name, id);
      if (r.empty()) return json();
      auth::write_audit(w, base);
      w.commit();
      return tenant_json(r[0]);
    });
  } catch (const pqxx::unique_violation&) {
    throw http::Problem(409, "Conflict", "a tenant with this name exists");
  }
  if (t.is_null()) throw http::Problem(404, "Not Found", "no such tenant");
  co_return http::json_response(req.raw, 200, t);
}

awaitable<http::Response> delete_tenant(Context& ctx, http::Request& req) {
  const std::int64_t id = id_param(req);
  if (id == core::kDefaultTenant) throw http::Problem(409, "Conflict", "the default tenant stays");
  const auth::AuditEntry base = audit_by(req, std::nullopt, "tenant.delete",
                                         "tenant:" + std::to_string(id));
  bool found = false;
  try {
    found = co_await ctx.pool.run(Scope::all(), [&](pqxx::connection& c) {
      pqxx::work w(c);
      const auto r = w.exec_params("DELETE FROM tenants WHERE id = $1", id);
      if (r.affected_rows() == 0) return false;
      auth::write_audit(w, base);
      w.commit();
      return true;
    });
  } catch (const pqxx::foreign_key_violation&) {
    throw http::Problem(409, "Conflict", "the tenant still has users or devices");
  }
  if (!found) throw http::Problem(404, "Not Found", "no such tenant");
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
