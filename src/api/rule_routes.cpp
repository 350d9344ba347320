// Rule CRUD. A change is committed to PostgreSQL first and only then applied
// to the running engine (on the loop, where this coroutine resumes), so the
// engine never runs a rule the database does not have; a crash in between
// loses nothing, since the engine is rebuilt from the table at start.

#include <peregrine/api/alerting.hpp>
#include <peregrine/api/context.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/rules/backtest.hpp>
#include <peregrine/storage/rule_repository.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;

namespace {

rules::Rule parse_or_throw(const rules::ParseResult& r) {
  if (const auto* e = std::get_if<rules::RuleError>(&r)) {
    const unsigned status = e->status == 422 ? 422 : 400;
    throw http::Problem(status, status == 422 ? "Unprocessable Entity" : "Bad Request",
                        e->field.empty() ? e->message : e->field + ": " + e->message);
  }
  return std::get<rules::Rule>(r);
}

json record_json(const storage::RuleRecord& r) {
  json j = rules::to_json(r.rule);
  j["created_at"] = core::format_rfc3339(r.created_at);
  j["updated_at"] = core::format_rfc3339(r.updated_at);
  return j;
}

json stored_json(const storage::StoredRule& s) {
  if (const auto* r = std::get_if<storage::RuleRecord>(&s)) return record_json(*r);
  const auto& raw = std::get<storage::UnparsedRule>(s);  // stored before a validation change
  json j = raw.body;
  j["id"] = raw.id;
  return j;
}

awaitable<http::Response> list_rules(AlertingContext& ctx, http::Request& req) {
  const auto page = co_await ctx.repos.rules.list(caller_tenant(req),
                                                  {limit_param(req), int_cursor(req).value_or(0)});
  co_return http::json_response(req.raw, 200, page_json(page, stored_json));
}

awaitable<http::Response> get_rule(AlertingContext& ctx, http::Request& req) {
  const storage::StoredRule rule =
      take(co_await ctx.repos.rules.get(caller_tenant(req), id_param(req)));
  co_return http::json_response(req.raw, 200, stored_json(rule));
}

awaitable<http::Response> create_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  rules::Rule rule = parse_or_throw(rules::parse_rule(body_object(req), tenant));
  storage::AuditEntry audit = audit_by(req, tenant, "rule.create", "", body_object(req));
  storage::RuleRecord stored =
      take(co_await ctx.repos.rules.create(tenant, std::move(rule), std::move(audit)));
  json out = record_json(stored);
  ctx.engine.upsert_rule(std::move(stored.rule));
  ctx.changed();
  co_return http::json_response(req.raw, 201, out);
}

awaitable<http::Response> patch_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  json patch = body_object(req);
  storage::AuditEntry audit =
      audit_by(req, tenant, "rule.update", "rule:" + std::to_string(id), patch);
  storage::RuleRecord stored =
      take(co_await ctx.repos.rules.update(tenant, id, std::move(patch), std::move(audit)));
  json out = record_json(stored);
  ctx.engine.upsert_rule(std::move(stored.rule));
  ctx.changed();
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> delete_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  storage::AuditEntry audit = audit_by(req, tenant, "rule.delete", "rule:" + std::to_string(id));
  take(co_await ctx.repos.rules.remove(tenant, id, std::move(audit)));
  ctx.engine.remove_rule(id);
  ctx.changed();
  co_return http::text_response(req.raw, 204, "", "application/json");
}

core::Micros body_time(const json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end()) throw http::Problem(400, "Bad Request", std::string(key) + ": is required");
  if (it->is_number_integer()) return it->get<std::int64_t>() * 1000;
  if (it->is_string()) {
    if (auto t = core::parse_rfc3339(it->get_ref<const std::string&>())) return *t;
  }
  throw http::Problem(400, "Bad Request",
                      std::string(key) + ": expected RFC 3339 or epoch milliseconds");
}

/// The devices of a device or group scope (the registry is the loop's);
/// nullopt for every device of the tenant.
std::optional<std::vector<std::string>> scope_devices(AlertingContext& ctx, const rules::Rule& rule,
                                                      core::TenantId tenant) {
  if (rule.scope.type == rules::Scope::Type::device) return std::vector{rule.scope.device};
  if (rule.scope.type != rules::Scope::Type::group) return std::nullopt;
  std::vector<std::string> ids;
  ctx.registry.for_each([&](devices::Device& d) {
    if (d.rec.tenant != tenant) return;
    for (auto g : d.rec.group_ids)
      if (g == rule.scope.group) ids.push_back(d.rec.id);
  });
  return ids;
}

awaitable<http::Response> backtest_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  json body = body_object(req);
  storage::BacktestRange range;
  range.from = body_time(body, "from");
  range.to = body_time(body, "to");
  if (range.from >= range.to)
    throw http::Problem(422, "Unprocessable Entity", "from: must be before 'to'");
  body.erase("from");
  body.erase("to");
  rules::Rule rule = parse_or_throw(rules::parse_rule(body, tenant));
  rule.id = rule.id ? rule.id : 1;
  range.devices = scope_devices(ctx, rule, tenant);
  range.max_rows = ctx.backtest_max_rows;
  range.timeout = ctx.backtest_timeout;

  const storage::BacktestRun run =
      co_await ctx.repos.rules.backtest(tenant, std::move(rule), std::move(range));
  switch (run.status) {
    case storage::BacktestRun::Status::timed_out:
      throw http::Problem(422, "Unprocessable Entity",
                          "from: reading the range took longer than " +
                              std::to_string(ctx.backtest_timeout.count()) + " ms; narrow from/to");
    case storage::BacktestRun::Status::too_many_readings:
      throw http::Problem(422, "Unprocessable Entity",
                          "from: the range holds more than " +
                              std::to_string(ctx.backtest_max_rows) +
                              " readings of this metric in scope; narrow from/to");
    case storage::BacktestRun::Status::done:
      break;
  }
  co_return http::json_response(req.raw, 200, rules::to_json(run.result));
}

}  // namespace

void add_rule_routes(http::Router& router, AlertingContext& ctx) {
  router.add(bhttp::verb::get, "/api/v1/rules", http::Access::viewer, bind(ctx, list_rules));
  router.add(bhttp::verb::post, "/api/v1/rules", http::Access::admin, bind(ctx, create_rule));
  router.add(bhttp::verb::post, "/api/v1/rules/backtest", http::Access::operator_,
             bind(ctx, backtest_rule));
  router.add(bhttp::verb::get, "/api/v1/rules/{id}", http::Access::viewer, bind(ctx, get_rule));
  router.add(bhttp::verb::patch, "/api/v1/rules/{id}", http::Access::admin, bind(ctx, patch_rule));
  router.add(bhttp::verb::delete_, "/api/v1/rules/{id}", http::Access::admin,
             bind(ctx, delete_rule));
}

}  // namespace peregrine::api
