// Device endpoints: reads, edits and deletion (creation and credentials are
// in device_credential_routes.cpp). Metadata comes from PostgreSQL (on the query
// pool); presence, last_seen and seq_gaps are overlaid from the in-memory
// registry on the loop, because it is ahead of what the writer has persisted.

#include <charconv>

#include <pqxx/pqxx>

#include <peregrine/api/context.hpp>
#include <peregrine/auth/store.hpp>
#include <peregrine/core/ids.hpp>
#include <peregrine/core/time_format.hpp>

#include "api/params.hpp"
#include "api/auth_support.hpp"
#include "api/device_fields.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
using storage::Scope;

namespace {

constexpr const char* kDeviceColumns =
    "id, name, type, lat, lon, metadata::text, "
    "(extract(epoch from last_seen) * 1000000)::bigint, online, seq_gaps";

json device_json(const pqxx::row& r) {
  json d = {{"id", r[0].as<std::string>()},
            {"name", r[1].as<std::string>()},
            {"type", r[2].as<std::string>()},
            {"group_ids", json::array()},
            {"location", nullptr},
            {"metadata", json::parse(r[5].as<std::string>())},
            {"last_seen", nullptr},
            {"online", r[7].as<bool>()},
            {"seq_gaps", r[8].as<std::int64_t>()}};
  if (!r[3].is_null() && !r[4].is_null())
    d["location"] = {{"lat", r[3].as<double>()}, {"lon", r[4].as<double>()}};
  if (!r[6].is_null()) d["last_seen"] = core::format_rfc3339(r[6].as<std::int64_t>());
  return d;
}

/// Newer presence and seq bookkeeping from the loop's registry.
void overlay_live(const devices::Registry& registry, json& d) {
  const devices::Device* dev = registry.find(d["id"].get_ref<const std::string&>());
  if (!dev) return;
  d["online"] = dev->rec.online;
  d["seq_gaps"] = dev->rec.seq_gaps;
  if (dev->rec.last_seen) d["last_seen"] = core::format_rfc3339(*dev->rec.last_seen);
}

/// The device, or Problem 404 (also for another tenant's device: no
/// existence leak).
const devices::Device& require_device(const Context& ctx, const http::Request& req) {
  const std::string& id = req.params.at("id");
  const devices::Device* dev = core::valid_device_id(id) ? ctx.registry.find(id) : nullptr;
  if (!dev || dev->rec.tenant != caller_tenant(req))
    throw http::Problem(404, "Not Found", "no device '" + id + "'");
  return *dev;
}

awaitable<http::Response> list_devices(Context& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::size_t limit = parse_limit(req, 100, 1000);
  const std::string cursor{req.q("cursor").value_or("")};
  const std::string type{req.q("type").value_or("")};
  const std::string text{req.q("q").value_or("")};
  const std::optional<BBox> bbox = parse_bbox(req);

  json items = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    std::string sql = std::string("SELECT ") + kDeviceColumns +
                      " FROM devices WHERE tenant_id = " + w.quote(tenant) +
                      " AND id > " + w.quote(cursor);
    if (!type.empty()) sql += " AND type = " + w.quote(type);
    if (!text.empty()) {
      const std::string like = w.quote("%" + w.esc_like(text) + "%");
      sql += " AND (id ILIKE " + like + " OR name ILIKE " + like + ")";
    }
    if (bbox) {
      sql += " AND lon BETWEEN " + w.quote(bbox->min_lon) + " AND " + w.quote(bbox->max_lon) +
             " AND lat BETWEEN " + w.quote(bbox->min_lat) + " AND " + w.quote(bbox->max_lat);
    }
    sql += " ORDER BY id LIMIT " + std::to_string(limit + 1);
    json out = json::array();
    for (const auto& row : w.exec(sql)) out.push_back(device_json(row));
    return out;
  });

  const json next = take_page(items, limit);
  for (json& d : items) overlay_live(ctx.registry, d);
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}, {"next", next}});
}

awaitable<http::Response> get_device(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx, req);
  const std::string id = dev.rec.id;
  const core::TenantId tenant = dev.rec.tenant;
  json d = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const pqxx::result r =
        w.exec(std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = " + w.quote(id));
    return r.empty() ? json() : device_json(r[0]);
  });
  if (d.is_null()) {
    // Auto-provisioned a moment ago and not yet written: answer from memory.
    d = {{"id", id}, {"name", id}, {"type", ""}, {"group_ids", json::array()},
         {"location", nullptr}, {"metadata", json::object()}};
  }
  overlay_live(ctx.registry, d);
  co_return http::json_response(req.raw, 200, d);
}

awaitable<http::Response> get_state(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx, req);
  const std::string id = dev.rec.id;
  json state;
  try {
    // Redis only; the scope is the one the connection would get anyway.
    state = co_await ctx.pool.run(Scope::tenant(dev.rec.tenant),
                                  [&](pqxx::connection&) { return ctx.state.device_state(id); });
  } catch (const std::runtime_error& e) {
    throw http::Problem(503, "Service Unavailable", std::string("live state unavailable: ") + e.what());
  }
  state["device"] = id;
  co_return http::json_response(req.raw, 200, state);
}

awaitable<http::Response> get_readings(Context& ctx, http::Request& req) {
  const devices::Device& dev = require_device(ctx, req);
  const auto metric = req.q("metric");
  if (!metric || !core::valid_metric_name(*metric))
    throw http::Problem(400, "Bad Request", "query parameter 'metric' is required: [A-Za-z0-9_]{1,64}");
  const TimeRange range = parse_range(req);
  const std::size_t limit = parse_limit(req, 1000, 100000);
  const std::string id = dev.rec.id;
  const std::string m{*metric};
  const core::TenantId tenant = dev.rec.tenant;

  json points = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const pqxx::result r = w.exec_params(
        "SELECT (extract(epoch from r.ts) * 1000000)::bigint, r.value FROM readings_raw r "
        "WHERE r.series_id = (SELECT id FROM series WHERE device_id = $1 AND metric = $2 "
        "AND tenant_id = $3) "
        "AND r.ts >= 'epoch'::timestamptz + $4 * interval '1 microsecond' "
        "AND r.ts < 'epoch'::timestamptz + $5 * interval '1 microsecond' "
        "ORDER BY r.ts LIMIT $6",
        id, m, tenant, range.from_us, range.to_us, limit + 1);
    json out = json::array();
    for (const auto& row : r)
      out.push_back({{"ts", row[0].as<std::int64_t>()}, {"value", row[1].as<double>()}});
    return out;
  });

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
  const std::string id = require_device(ctx, req).rec.id;
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  const std::optional<std::string> name = string_field(body, "name", false);
  const std::optional<std::string> type = string_field(body, "type", false);
  check_name_type(name, type);
  const auto location = parse_location(body);
  const std::optional<std::string> metadata = parse_metadata(body);
  if (!name && !type && !location && !metadata)
    throw http::Problem(422, "Unprocessable Entity",
                        "nothing to change: give name, type, location or metadata");
  const auth::AuditEntry audit = audit_by(req, tenant, "device.update", "device:" + id, body);

  json d = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    std::string sets;
    auto set = [&](const char* column, const std::string& value) {
      sets += (sets.empty() ? "" : ", ") + std::string(column) + " = " + value;
    };
    if (name) set("name", w.quote(*name));
    if (type) set("type", w.quote(*type));
    if (location) {
      set("lat", *location ? w.quote((*location)->lat) : "NULL");
      set("lon", *location ? w.quote((*location)->lon) : "NULL");
    }
    if (metadata) set("metadata", w.quote(*metadata) + "::jsonb");
    const pqxx::result r = w.exec("UPDATE devices SET " + sets + " WHERE id = " + w.quote(id) +
                                  " AND tenant_id = " + w.quote(tenant) + " RETURNING " +
                                  kDeviceColumns);
    if (r.empty()) return json();
    auth::write_audit(w, audit);
    w.commit();
    return device_json(r[0]);
  });
  // Auto-provisioned a moment ago and not yet written by the storage writer.
  if (d.is_null()) throw http::Problem(409, "Conflict", "device not yet persisted; retry shortly");
  if (devices::Device* dev = ctx.registry.find(id)) {
    if (name) dev->rec.name = *name;
    if (type) dev->rec.type = *type;
  }
  overlay_live(ctx.registry, d);
  co_return http::json_response(req.raw, 200, d);
}

awaitable<http::Response> delete_device(Context& ctx, http::Request& req) {
  const std::string id = require_device(ctx, req).rec.id;
  const core::TenantId tenant = caller_tenant(req);
  const auth::AuditEntry audit = audit_by(req, tenant, "device.delete", "device:" + id);
  const bool deleted = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r =
        w.exec_params("DELETE FROM devices WHERE id = $1 AND tenant_id = $2", id, tenant);
    if (r.affected_rows() == 0) return false;
    auth::write_audit(w, audit);
    w.commit();
    return true;
  });
  if (!deleted) throw http::Problem(409, "Conflict", "device not yet persisted; retry shortly");
  // The device's broker login goes with it.
  co_await sync_broker_accounts(ctx);
  // Its series rows went with it (ON DELETE CASCADE), so its readings leave
  // the `readings` view; a device publishing again is provisioned anew.
  if (ctx.remove_device) ctx.remove_device(id);
  co_return http::text_response(req.raw, 204, "", "application/json");
}

}  // namespace

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
