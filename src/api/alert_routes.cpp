// Alerts: reads from PostgreSQL, acks and resolves through the alert manager
// on the loop. The store writes behind the manager, so an open alert's row
// may lag a moment; reads are overlaid with the manager's state (as device
// reads are with the registry's) so a client sees its own ack at once.

#include <peregrine/api/alerting.hpp>
#include <peregrine/api/context.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/alert_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

/// The manager's open alert `id` of `tenant`, or nullptr.
const alerts::Alert* open_alert(const AlertingContext& ctx, alerts::AlertId id,
                                core::TenantId tenant) {
  const alerts::Alert* a = ctx.manager.find(id);
  return a && a->tenant == tenant ? a : nullptr;
}

json event_json(const alerts::AlertEvent& e) {
  return {{"kind", alerts::to_string(e.kind)},
          {"actor", e.actor},
          {"at", core::format_rfc3339(e.at)},
          {"detail", e.detail}};
}

awaitable<http::Response> list_alerts(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  storage::AlertFilter filter;
  if (auto v = req.q("state")) {
    filter.state = alerts::parse_alert_state(*v);
    if (!filter.state)
      throw http::Problem(400, "Bad Request",
                          "query parameter 'state': expected active, acknowledged or resolved");
  }
  if (auto v = req.q("severity")) {
    filter.severity = rules::parse_severity(*v);
    if (!filter.severity)
      throw http::Problem(400, "Bad Request",
                          "query parameter 'severity': expected critical, warning or info");
  }
  if (auto v = req.q("device")) filter.device = *v;
  const std::optional<alerts::AlertState> state = filter.state;
  const std::optional<rules::Severity> severity = filter.severity;

  storage::Page<alerts::Alert> page = co_await ctx.repos.alerts.list(
      tenant, std::move(filter), {limit_param(req), int_cursor(req).value_or(0)});
  std::vector<alerts::Alert> shown;
  for (alerts::Alert& a : page.items) {
    if (const alerts::Alert* live = open_alert(ctx, a.id, tenant)) a = *live;
    // The overlay is newer than the row: it may no longer match the filter.
    if (state && a.state != *state) continue;
    if (severity && a.severity != *severity) continue;
    shown.push_back(std::move(a));
  }
  page.items = std::move(shown);
  co_return http::json_response(
      req.raw, 200, page_json(page, [](const alerts::Alert& a) { return alerts::to_json(a); }));
}

awaitable<http::Response> get_alert(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  storage::Outcome<storage::AlertDetail> stored = co_await ctx.repos.alerts.get(tenant, id);
  // The row may not be written yet while the manager already has the alert.
  const alerts::Alert* live = open_alert(ctx, id, tenant);
  if (!stored.ok() && !live) throw_failure(stored.failure());
  json alert = alerts::to_json(live ? *live : stored.value().alert);
  json events = json::array();
  if (stored.ok())
    for (const alerts::AlertEvent& e : stored.value().events) events.push_back(event_json(e));
  alert["events"] = std::move(events);
  alert["notifications"] = co_await ctx.repos.notifications.of_alert(tenant, id);
  const std::optional<std::int64_t> incident = co_await ctx.repos.incidents.of_alert(tenant, id);
  alert["incident_id"] = incident ? json(*incident) : json(nullptr);
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
      throw http::Problem(409, "Conflict",
                          "alert " + std::to_string(id) + " is already acknowledged");
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
  const std::optional<alerts::AlertState> stored = co_await ctx.repos.alerts.state_of(tenant, id);
  if (!stored) throw http::Problem(404, "Not Found", "no alert " + std::to_string(id));
  throw http::Problem(
      409, "Conflict",
      "alert " + std::to_string(id) + " is " +
          (*stored == alerts::AlertState::resolved ? "already resolved" : "not open"));
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
  router.add(bhttp::verb::post, "/api/v1/alerts/{id}/ack", http::Access::operator_,
             bind(ctx, ack_alert));
  router.add(bhttp::verb::post, "/api/v1/alerts/{id}/resolve", http::Access::operator_,
             bind(ctx, resolve_alert));
}

}  // namespace peregrine::api
