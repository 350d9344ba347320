// Incidents: alerts gathered under one owner, walked open → investigating
// → resolved → closed, with a timeline and a maintenance log. Each change
// commits with its timeline event and audit entry, then goes to the
// tenant's `incidents` WebSocket subscribers.

#include <peregrine/core/time_format.hpp>
#include <peregrine/storage/incident_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"
#include <peregrine/api/response.hpp>

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

std::vector<std::int64_t> alert_ids(const json& body, bool required) {
  const auto it = body.find("alert_ids");
  if (it == body.end()) {
    if (required) unprocessable("'alert_ids' is required");
    return {};
  }
  if (!it->is_array() || it->size() > 1000) unprocessable("'alert_ids' must be an array of at most 1000 alert ids");
  std::vector<std::int64_t> out;
  for (const auto& a : *it) {
    if (!a.is_number_integer() || a.get<std::int64_t>() <= 0) unprocessable("'alert_ids' must be an array of alert ids");
    out.push_back(a.get<std::int64_t>());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (required && out.empty()) unprocessable("'alert_ids' must not be empty");
  return out;
}

std::optional<std::string> severity_field(const json& body, bool required) {
  auto s = string_field(body, "severity", required);
  if (s && *s != "critical" && *s != "warning" && *s != "info")
    unprocessable("'severity' must be critical, warning or info");
  return s;
}

std::optional<std::string> bounded(const json& body, const char* key, bool required, std::size_t min,
                                   std::size_t max) {
  auto s = string_field(body, key, required);
  if (s && (s->size() < min || s->size() > max))
    unprocessable(std::string("'") + key + "' must be " + std::to_string(min) + " to " + std::to_string(max) +
                  " characters");
  return s;
}

http::Response changed(ResponseContext& ctx, http::Request& req, core::TenantId tenant, const json& incident,
                       int status) {
  ctx.hub.publish_incident(tenant, incident);
  return http::json_response(req.raw, status, incident);
}

awaitable<http::Response> list_incidents(ResponseContext& ctx, http::Request& req) {
  const std::string state(req.q("state").value_or(""));
  if (!state.empty() && state != "open" && state != "investigating" && state != "resolved" && state != "closed")
    throw http::Problem(400, "Bad Request", "'state' must be open, investigating, resolved or closed");
  json items = co_await ctx.base.repos.incidents.list(caller_tenant(req), state);
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}});
}

awaitable<http::Response> get_incident(ResponseContext& ctx, http::Request& req) {
  const json j = take(co_await ctx.base.repos.incidents.get(caller_tenant(req), id_param(req)));
  co_return http::json_response(req.raw, 200, j);
}

awaitable<http::Response> create_incident(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const json body = body_object(req);
  storage::NewIncident n;
  n.title = *bounded(body, "title", true, 1, 300);
  n.description = bounded(body, "description", false, 0, 10'000).value_or("");
  n.severity = severity_field(body, false).value_or("warning");
  n.alert_ids = alert_ids(body, false);
  storage::AuditEntry audit = audit_by(req, tenant, "incident.create", "", body);
  const json j = take(co_await ctx.base.repos.incidents.create(tenant, std::move(n), principal(req).email,
                                                               std::move(audit)));
  co_return changed(ctx, req, tenant, j, 201);
}

awaitable<http::Response> patch_incident(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  storage::IncidentPatch p;
  p.title = bounded(body, "title", false, 1, 300);
  p.description = bounded(body, "description", false, 0, 10'000);
  p.severity = severity_field(body, false);
  p.state = string_field(body, "state", false);
  if (p.state && *p.state != "open" && *p.state != "investigating" && *p.state != "resolved" && *p.state != "closed")
    unprocessable("'state' must be open, investigating, resolved or closed");
  if (auto a = body.find("assignee"); a != body.end()) {
    p.set_assignee = true;
    if (a->is_number_integer() && a->get<std::int64_t>() > 0)
      p.assignee = a->get<std::int64_t>();
    else if (!a->is_null())
      unprocessable("'assignee' must be a user id or null");
  }
  if (!p.title && !p.description && !p.severity && !p.state && !p.set_assignee)
    unprocessable("nothing to change: give state, assignee, title, description or severity");
  storage::AuditEntry audit = audit_by(req, tenant, "incident.update", "incident:" + std::to_string(id), body);
  const json j = take(co_await ctx.base.repos.incidents.update(tenant, id, std::move(p), principal(req).email,
                                                               std::move(audit)));
  co_return changed(ctx, req, tenant, j, 200);
}

awaitable<http::Response> add_incident_alerts(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  std::vector<std::int64_t> ids = alert_ids(body, true);
  storage::AuditEntry audit = audit_by(req, tenant, "incident.alerts_add", "incident:" + std::to_string(id), body);
  const json j = take(co_await ctx.base.repos.incidents.add_alerts(tenant, id, std::move(ids), principal(req).email,
                                                                   std::move(audit)));
  co_return changed(ctx, req, tenant, j, 200);
}

awaitable<http::Response> comment_incident(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  std::string text = *bounded(body, "text", true, 1, 10'000);
  storage::AuditEntry audit = audit_by(req, tenant, "incident.comment", "incident:" + std::to_string(id));
  const json j = take(co_await ctx.base.repos.incidents.comment(tenant, id, std::move(text), principal(req).email,
                                                                std::move(audit)));
  co_return changed(ctx, req, tenant, j, 201);
}

awaitable<http::Response> add_maintenance(ResponseContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json body = body_object(req);
  storage::NewMaintenance m;
  m.note = *bounded(body, "note", true, 1, 10'000);
  m.performed_by = *bounded(body, "performed_by", true, 1, 200);
  const auto at = body.find("performed_at");
  if (at == body.end() || at->is_null()) {
    m.performed_at = core::SystemClock().now_us();
  } else {
    const auto t = at->is_string() ? core::parse_rfc3339(at->get_ref<const std::string&>()) : std::nullopt;
    if (!t) unprocessable("'performed_at' must be an RFC 3339 time");
    m.performed_at = *t;
  }
  if (auto parts = body.find("parts"); parts != body.end() && !parts->is_null()) {
    if (!parts->is_array() || parts->size() > 200) unprocessable("'parts' must be an array of at most 200 items");
    for (const auto& p : *parts)
      if (!p.is_string() || p.get_ref<const std::string&>().size() > 500)
        unprocessable("'parts' must be an array of strings (at most 500 characters each)");
    m.parts = *parts;
  }
  storage::AuditEntry audit = audit_by(req, tenant, "incident.maintenance", "incident:" + std::to_string(id),
                                       {{"performed_by", m.performed_by}});
  json entry = take(co_await ctx.base.repos.incidents.add_maintenance(tenant, id, std::move(m), principal(req).email,
                                                                      std::move(audit)));
  ctx.hub.publish_incident(tenant, entry["incident"]);
  entry.erase("incident");
  co_return http::json_response(req.raw, 201, entry);
}

}  // namespace

void add_incident_routes(http::Router& router, ResponseContext& ctx) {
  using A = http::Access;
  router.add(bhttp::verb::get, "/api/v1/incidents", A::viewer, bind(ctx, list_incidents));
  router.add(bhttp::verb::post, "/api/v1/incidents", A::operator_, bind(ctx, create_incident));
  router.add(bhttp::verb::get, "/api/v1/incidents/{id}", A::viewer, bind(ctx, get_incident));
  router.add(bhttp::verb::patch, "/api/v1/incidents/{id}", A::operator_, bind(ctx, patch_incident));
  router.add(bhttp::verb::post, "/api/v1/incidents/{id}/alerts", A::operator_, bind(ctx, add_incident_alerts));
  router.add(bhttp::verb::post, "/api/v1/incidents/{id}/comments", A::operator_, bind(ctx, comment_incident));
  router.add(bhttp::verb::post, "/api/v1/incidents/{id}/maintenance", A::operator_, bind(ctx, add_maintenance));
}

}  // namespace peregrine::api
