// Device endpoints: reads, edits and deletion (creation and credentials are
// in device_credential_routes.cpp). Metadata comes from PostgreSQL (on the query
// pool); presence, last_seen and seq_gaps are overlaid from the in-memory
// registry on the loop, because it is ahead of what the writer has persisted.

#include <peregrine/api/context.hpp>

#include <algorithm>
#include <peregrine/core/ids.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/device_repository.hpp>

#include "api/auth_support.hpp"
#include "api/params.hpp"
#include "api/device_fields.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

/// Newer presence and seq bookkeeping from the loop's registry.
void overlay_live(const devices::Registry& registry, json& d) {
  const devices::Device* dev = registry.find(d["id"].get_ref<const std::string&>());
  if (!dev) return;
  d["online"] = dev->rec.online;
  d["seq_gaps"] = dev->rec.seq_gaps;
  if (dev->rec.last_seen) d["last_seen"] = core::format_rfc3339(*dev->rec.last_seen);
}

awaitable<http::Response> list_devices(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::size_t limit = parse_limit(req, 100, 1000);
  const std::string cursor{req.q("cursor").value_or("")};
  const std::string type{req.q("type").value_or("")};
  const std::string text{req.q("q").value_or("")};
  const std::optional<BBox> bbox = parse_bbox(req);
  const std::optional<std::int64_t> group = int_query(req, "group");

  storage::DeviceFilter filter{type, text, std::nullopt, group};
  if (bbox) filter.bbox = {bbox->min_lon, bbox->min_lat, bbox->max_lon, bbox->max_lat};
  // Named, not a braced temporary in the co_await expression: GCC 12 would
  // destroy that twice (STYLE.md, "Async code").
  storage::PageRequest<std::string> request{limit, cursor};
  const auto page = co_await ctx.repos.devices.list(tenant, std::move(filter), std::move(request));
  json out = page_json(page, device_json);
  for (json& d : out["items"]) overlay_live(ctx.registry, d);
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> get_device(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.registry, req);
  const std::string id = dev.rec.id;
  const core::TenantId tenant = dev.rec.tenant;
  auto row = co_await ctx.repos.devices.get(tenant, id);
  json d = row.ok() ? device_json(row.value()) : json();
  if (d.is_null()) {
    // Auto-provisioned a moment ago and not yet written: answer from memory.
    d = {{"id", id}, {"name", id}, {"type", ""}, {"group_ids", json::array()},
         {"location", nullptr}, {"metadata", json::object()}};
  }
  overlay_live(ctx.registry, d);
  co_return http::json_response(req.raw, 200, d);
}

awaitable<http::Response> get_state(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.registry, req);
  const std::string id = dev.rec.id;
  json state;
  try {
    state = co_await ctx.state.read(id);
  } catch (const std::runtime_error& e) {
    throw http::Problem(503, "Service Unavailable", std::string("live state unavailable: ") + e.what());
  }
  state["device"] = id;
  co_return http::json_response(req.raw, 200, state);
}

awaitable<http::Response> get_readings(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx.registry, req);
  const auto metric = req.q("metric");
  if (!metric || !core::valid_metric_name(*metric))
    throw http::Problem(400, "Bad Request", "query parameter 'metric' is required: [A-Za-z0-9_]{1,64}");
  const TimeRange range = parse_range(req);
  const std::size_t limit = parse_limit(req, 1000, 100000);
  const std::string id = dev.rec.id;
  const std::string m{*metric};
  const core::TenantId tenant = dev.rec.tenant;

  const std::vector<storage::ReadingPoint> rows = co_await ctx.repos.devices.readings(
      tenant, id, m, range.from_us, range.to_us, limit + 1);
  json points = json::array();
  for (const auto& p : rows) points.push_back({{"ts", p.ts}, {"value", p.value}});

  json next = nullptr;
  if (points.size() > limit) {
    points.erase(points.end() - 1);
    next = core::format_rfc3339(points.back()["ts"].get<std::int64_t>() + 1);
  }
  for (json& p : points) p["ts"] = core::format_rfc3339(p["ts"].get<std::int64_t>());
  co_return http::json_response(
      req.raw, 200,
      {{"device", id}, {"metric", m}, {"points", std::move(points)}, {"next", next}});
}

awaitable<http::Response> patch_device(Context& ctx, http::Request& req) {
  const std::string id = require_device(ctx.registry, req).rec.id;
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  const std::optional<std::string> name = string_field(body, "name", false);
  const std::optional<std::string> type = string_field(body, "type", false);
  check_name_type(name, type);
  const auto location = parse_location(body);
  const std::optional<json> metadata = parse_metadata(body);
  const std::optional<std::vector<std::int64_t>> group_ids = parse_group_ids(body);
  if (!name && !type && !location && !metadata && !group_ids)
    throw http::Problem(422, "Unprocessable Entity",
                        "nothing to change: give name, type, location, metadata or group_ids");
  storage::AuditEntry audit = audit_by(req, tenant, "device.update", "device:" + id, body);
  storage::DevicePatch patch{name, type, location, metadata, group_ids};
  const storage::DeviceRow row =
      take(co_await ctx.repos.devices.update(tenant, id, std::move(patch), std::move(audit)));
  json d = device_json(row);
  if (devices::Device* dev = ctx.registry.find(id)) {
    if (name) dev->rec.name = *name;
    if (type) dev->rec.type = *type;
  }
  if (group_ids) apply_groups(ctx, id, row.group_ids);
  overlay_live(ctx.registry, d);
  co_return http::json_response(req.raw, 200, d);
}

awaitable<http::Response> delete_device(Context& ctx, http::Request& req) {
  const std::string id = require_device(ctx.registry, req).rec.id;
  const core::TenantId tenant = caller_tenant(req);
  storage::AuditEntry audit = audit_by(req, tenant, "device.delete", "device:" + id);
  take(co_await ctx.repos.devices.remove(tenant, id, std::move(audit)));
  // The device's broker login goes with it.
  co_await sync_broker_accounts(ctx);
  // Its series rows went with it (ON DELETE CASCADE), so its readings leave
  // the `readings` view; a device publishing again is provisioned anew.
  if (ctx.remove_device) ctx.remove_device(id);
  co_return http::text_response(req.raw, 204, "", "application/json");
}

}  // namespace

void apply_groups(Context& ctx, std::string_view device, std::vector<std::int64_t> groups) {
  devices::Device* dev = ctx.registry.find(device);
  if (!dev || dev->rec.group_ids == groups) return;
  dev->rec.group_ids = std::move(groups);
  if (ctx.rescope) ctx.rescope(*dev);
}

void apply_membership(Context& ctx, std::int64_t group, const std::vector<std::string>& joined,
                      const std::vector<std::string>& left) {
  for (const auto& id : joined) {
    devices::Device* dev = ctx.registry.find(id);
    if (!dev) continue;
    std::vector<std::int64_t> g = dev->rec.group_ids;
    if (std::find(g.begin(), g.end(), group) != g.end()) continue;
    g.insert(std::upper_bound(g.begin(), g.end(), group), group);
    apply_groups(ctx, id, std::move(g));
  }
  for (const auto& id : left) {
    devices::Device* dev = ctx.registry.find(id);
    if (!dev) continue;
    std::vector<std::int64_t> g = dev->rec.group_ids;
    std::erase(g, group);
    apply_groups(ctx, id, std::move(g));
  }
}

void add_device_routes(http::Router& router, Context& ctx) {
  router.add(bhttp::verb::get, "/api/v1/devices", http::Access::viewer, bind(ctx, list_devices));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}", http::Access::viewer, bind(ctx, get_device));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/state", http::Access::viewer, bind(ctx, get_state));
  router.add(bhttp::verb::get, "/api/v1/devices/{id}/readings", http::Access::viewer,
             bind(ctx, get_readings));
  router.add(bhttp::verb::patch, "/api/v1/devices/{id}", http::Access::admin, bind(ctx, patch_device));
  router.add(bhttp::verb::delete_, "/api/v1/devices/{id}", http::Access::admin,
             bind(ctx, delete_device));
}

}  // namespace peregrine::api
