// Device groups: CRUD and membership. A membership change is committed to
// PostgreSQL first, then applied to the registry and the rules engine on
// the loop, so a group-scoped rule applies to a device from its next
// reading after it joined, and no longer after it left.

#include <peregrine/api/context.hpp>
#include <peregrine/core/ids.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/group_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

json group_json(const storage::GroupRow& g) {
  return {{"id", g.id},
          {"name", g.name},
          {"description", g.description},
          {"device_count", g.device_count},
          {"created_at", core::format_rfc3339(g.created_at)}};
}

json group_with_members(const storage::GroupRow& g) {
  json j = group_json(g);
  j["device_ids"] = g.device_ids;
  return j;
}

/// An array of device ids (at most 10,000), or Problem 422 naming `key`.
std::optional<std::vector<std::string>> device_list(const json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  bool ok = it->is_array() && it->size() <= 10'000;
  std::vector<std::string> out;
  if (ok) {
    for (const auto& id : *it) {
      ok = ok && id.is_string() && core::valid_device_id(id.get_ref<const std::string&>());
      if (ok) out.push_back(id.get<std::string>());
    }
  }
  if (!ok)
    throw http::Problem(422, "Unprocessable Entity",
                        std::string("'") + key + "' must be an array of at most 10000 device ids");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void check_name(const std::optional<std::string>& name, const std::optional<std::string>& description) {
  if (name && (name->empty() || name->size() > 200))
    throw http::Problem(422, "Unprocessable Entity", "'name' must be 1 to 200 characters");
  if (description && description->size() > 2000)
    throw http::Problem(422, "Unprocessable Entity", "'description' must be at most 2000 characters");
}

awaitable<http::Response> list_groups(Context& ctx, http::Request& req) {
  const storage::PageRequest<std::int64_t> page{limit_param(req), int_cursor(req).value_or(0)};
  const auto groups = co_await ctx.repos.groups.list(caller_tenant(req), page);
  co_return http::json_response(req.raw, 200, page_json(groups, group_json));
}

awaitable<http::Response> get_group(Context& ctx, http::Request& req) {
  const storage::GroupRow g = take(co_await ctx.repos.groups.get(caller_tenant(req), id_param(req)));
  co_return http::json_response(req.raw, 200, group_with_members(g));
}

awaitable<http::Response> create_group(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  storage::NewGroup g;
  g.name = *string_field(body, "name", true);
  g.description = string_field(body, "description", false).value_or("");
  check_name(g.name, g.description);
  if (auto ids = device_list(body, "device_ids")) g.device_ids = std::move(*ids);
  storage::AuditEntry audit = audit_by(req, tenant, "group.create", "", {{"name", g.name}});
  const storage::Membership m =
      take(co_await ctx.repos.groups.create(tenant, std::move(g), std::move(audit)));
  apply_membership(ctx, m.group.id, m.joined, m.left);
  co_return http::json_response(req.raw, 201, group_with_members(m.group));
}

awaitable<http::Response> patch_group(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  storage::GroupPatch p;
  p.name = string_field(body, "name", false);
  p.description = string_field(body, "description", false);
  check_name(p.name, p.description);
  p.device_ids = device_list(body, "device_ids");
  p.add = device_list(body, "add").value_or(std::vector<std::string>{});
  p.remove = device_list(body, "remove").value_or(std::vector<std::string>{});
  if (!p.name && !p.description && !p.device_ids && p.add.empty() && p.remove.empty())
    throw http::Problem(422, "Unprocessable Entity",
                        "nothing to change: give name, description, device_ids, add or remove");
  storage::AuditEntry audit = audit_by(req, tenant, "group.update", "group:" + std::to_string(id), body);
  const storage::Membership m =
      take(co_await ctx.repos.groups.update(tenant, id, std::move(p), std::move(audit)));
  apply_membership(ctx, id, m.joined, m.left);
  co_return http::json_response(req.raw, 200, group_with_members(m.group));
}

awaitable<http::Response> delete_group(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  storage::AuditEntry audit = audit_by(req, tenant, "group.delete", "group:" + std::to_string(id));
  const storage::Membership m = take(co_await ctx.repos.groups.remove(tenant, id, std::move(audit)));
  apply_membership(ctx, id, {}, m.left);
  co_return http::text_response(req.raw, 204, "", "application/json");
}

}  // namespace

void add_group_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/groups", http::Access::viewer, bind(ctx, list_groups));
  router.add(bhttp::verb::post, "/api/v1/groups", http::Access::admin, bind(ctx, create_group));
  router.add(bhttp::verb::get, "/api/v1/groups/{id}", http::Access::viewer, bind(ctx, get_group));
  router.add(bhttp::verb::patch, "/api/v1/groups/{id}", http::Access::admin, bind(ctx, patch_group));
  router.add(bhttp::verb::delete_, "/api/v1/groups/{id}", http::Access::admin, bind(ctx, delete_group));
}

}  // namespace peregrine::api
