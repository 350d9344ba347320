// Alerts: reads from PostgreSQL, acks and resolves through the alert manager
// on the loop. The store writes behind the manager, so an open alert's row
// may lag a moment; reads are overlaid with the manager's state (as device
// reads are with the registry's) so a client sees its own ack at once.

#include <pqxx/pqxx>

#include <peregrine/api/alerting.hpp>
#include <peregrine/api/context.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/alert_store.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
using storage::Scope;

namespace {

/// The manager's open alert `id` of `tenant`, or nullptr.
const alerts::Alert* open_alert(const AlertingContext& ctx, alerts::AlertId id, core::TenantId tenant) {
  const alerts::Alert* a = ctx.manager.find(id);
  return a && a->tenant == tenant ? a : nullptr;
}

void overlay(const AlertingContext& ctx, json& j, core::TenantId tenant) {
  if (const alerts::Alert* a = open_alert(ctx, j["id"].get<alerts::AlertId>(), tenant)) j = alerts::to_json(*a);
}

awaitable<http::Response> list_alerts(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::size_t limit = limit_param(req);
  const std::optional<std::int64_t> cursor = int_cursor(req);
  std::string state, severity, device;
  if (auto v = req.q("state")) {
    if (!alerts::parse_alert_state(*v))
      throw http::Problem(400, "Bad Request", "query parameter 'state': expected active, acknowledged or resolved");
    state = *v;
  }
  if (auto v = req.q("severity")) {
    if (!rules::parse_severity(*v))
      throw http::Problem(400, "Bad Request", "query parameter 'severity': expected critical, warning or info");
    severity = *v;
  }
  if (auto v = req.q("device")) device = *v;

  json items = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::string sql = std::string("SELECT ") + storage::kAlertColumnsSql +
                      " FROM alerts WHERE tenant_id = " + w.quote(tenant);
    if (!state.empty()) sql += " AND state = " + w.quote(state);
    if (!severity.empty()) sql += " AND severity = " + w.quote(severity);
    if (!device.empty()) sql += " AND device_id = " + w.quote(device);
    if (cursor) sql += " AND id < " + w.quote(*cursor);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit + 1);
    json out = json::array();
    for (const auto& row : w.exec(sql)) out.push_back(alerts::to_json(storage::alert_from_row(row)));
    return out;
  });

  const json next = take_page(items, limit);
  json shown = json::array();
  for (json& j : items) {
    overlay(ctx, j, tenant);
    // The overlay is newer than the row: it may no longer match the filter.
    if (!state.empty() && j["state"] != state) continue;
    if (!severity.empty() && j["severity"] != severity) continue;
    shown.push_back(std::move(j));
  }
  co_return http::json_response(req.raw, 200, {{"items", std::move(shown)}, {"next", next}});
}

awaitable<http::Response> get_alert(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  json alert = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(std::string("SELECT ") + storage::kAlertColumnsSql +
                                     " FROM alerts WHERE id = $1 AND tenant_id = $2",
                                 id, tenant);
    if (r.empty()) return json();
    json a = alerts::to_json(storage::alert_from_row(r[0]));
    json events = json::array();
    for (const auto& e : w.exec_params(
             "SELECT kind, actor, (extract(epoch from at) * 1000000)::bigint, detail "
             "FROM alert_events WHERE alert_id = $1 ORDER BY id",
             id)) {
      events.push_back({{"kind", e[0].as<std::string>()},
                        {"actor", e[1].as<std::string>()},
                        {"at", core::format_rfc3339(e[2].as<std::int64_t>())},
                        {"detail", e[3].as<std::string>()}});
    }
    a["events"] = std::move(events);
    return a;
  });
  const alerts::Alert* live = open_alert(ctx, id, tenant);
  if (alert.is_null() && !live) throw http::Problem(404, "Not Found", "no alert " + std::to_string(id));
  if (live) {
    json events = alert.is_null() ? json::array() : alert["events"];
    alert = alerts::to_json(*live);
    alert["events"] = std::move(events);
  }
  co_return http::json_response(req.raw, 200, alert);
}

enum class Action { ack, resolve };

awaitable<http::Response> act(AlertingContext& ctx, http::Request& req, Action action) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const std::string actor = principal(req).email;
  if (const alerts::Alert* a = open_alert(ctx, id, tenant)) {
    alerts::Alert copy = *a;
    const alerts::OpStatus st =
        action == Action::ack ? ctx.manager.acknowledge(id, actor) : ctx.manager.resolve(id, actor);
    if (st == alerts::OpStatus::conflict)
      throw http::Problem(409, "Conflict", "alert " + std::to_string(id) + " is already acknowledged");
    ctx.changed();
    if (const alerts::Alert* now = ctx.manager.find(id)) {
      copy = *now;
    } else {  // resolved: the manager has forgotten it
      copy.state = alerts::AlertState::resolved;
      copy.resolved_at = ctx.clock.now_us();
      copy.resolved_by = actor;
    }
    co_return http::json_response(req.raw, 200, alerts::to_json(copy));
  }
  // Not open here: resolved already (409), or no such alert for this tenant (404).
  const std::string stored = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT state FROM alerts WHERE id = $1 AND tenant_id = $2", id, tenant);
    return r.empty() ? std::string() : r[0][0].as<std::string>();
  });
  if (stored.empty()) throw http::Problem(404, "Not Found", "no alert " + std::to_string(id));
  throw http::Problem(409, "Conflict", "alert " + std::to_string(id) + " is " +
                                           (stored == "resolved" ? "already resolved" : "not open"));
}

awaitable<http::Response> ack_alert(AlertingContext& ctx, http::Request& req) {
  return act(ctx, req, Action::ack);
}
awaitable<http::Response> resolve_alert(AlertingContext& ctx, http::Request& req) {
  return act(ctx, req, Action::resolve);
}

}  // namespace

void add_alert_routes(http::Router& router, AlertingContext& ctx) {
  router.add(bhttp::verb::get, "/api/v1/alerts", http::Access::viewer, bind(ctx, list_alerts));
  router.add(bhttp::verb::get, "/api/v1/alerts/{id}", http::Access::viewer, bind(ctx, get_alert));
  router.add(bhttp::verb::post, "/api/v1/alerts/{id}/ack", http::Access::operator_, bind(ctx, ack_alert));
  router.add(bhttp::verb::post, "/api/v1/alerts/{id}/resolve", http::Access::operator_,
             bind(ctx, resolve_alert));
}

}  // namespace peregrine::api
