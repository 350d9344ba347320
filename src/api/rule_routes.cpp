// Rule CRUD. A change is committed to PostgreSQL first and only then applied
// to the running engine (on the loop, where this coroutine resumes), so the
// engine never runs a rule the database does not have; a crash in between
// loses nothing, since the engine is rebuilt from the table at start.

#include <pqxx/pqxx>

#include <peregrine/api/alerting.hpp>
#include <peregrine/api/context.hpp>
#include <peregrine/auth/store.hpp>
#include <peregrine/core/time_format.hpp>
#include <peregrine/rules/backtest.hpp>
#include <peregrine/storage/alert_store.hpp>

#include "api/auth_support.hpp"
#include "api/handler_support.hpp"

namespace peregrine::api {

namespace bhttp = boost::beast::http;
using boost::asio::awaitable;
using nlohmann::json;
using storage::Scope;

namespace {

constexpr const char* kTimesSql =
    "(extract(epoch from created_at) * 1000000)::bigint, "
    "(extract(epoch from updated_at) * 1000000)::bigint";

[[noreturn]] void throw_rule_error(const rules::RuleError& e) {
  const unsigned status = e.status == 422 ? 422 : 400;
  throw http::Problem(status, status == 422 ? "Unprocessable Entity" : "Bad Request",
                      e.field.empty() ? e.message : e.field + ": " + e.message);
}

rules::Rule parse_or_throw(const rules::ParseResult& r) {
  if (const auto* e = std::get_if<rules::RuleError>(&r)) throw_rule_error(*e);
  return std::get<rules::Rule>(r);
}

/// The stored columns of a rule, in the order of the INSERT/UPDATE below.
struct RuleColumns {
  std::string name, metric, scope, kind, params, severity, escalate, actions;
  const char* scope_device = nullptr;
  std::string scope_device_text;
  const char* scope_group = nullptr;
  std::string scope_group_text;
  const char* escalate_or_null = nullptr;
  bool enabled = true;

  explicit RuleColumns(const rules::Rule& r) {
    const json j = rules::to_json(r);
    name = r.name;
    metric = r.metric;
    scope = j["scope"].dump();
    kind = rules::to_string(r.kind);
    params = j["params"].dump();
    severity = rules::to_string(r.severity);
    actions = j["actions"].dump();
    enabled = r.enabled;
    if (r.scope.type == rules::Scope::Type::device) {
      scope_device_text = r.scope.device;
      scope_device = scope_device_text.c_str();
    } else if (r.scope.type == rules::Scope::Type::group) {
      scope_group_text = std::to_string(r.scope.group);
      scope_group = scope_group_text.c_str();
    }
    if (!j["escalate"].is_null()) {
      escalate = j["escalate"].dump();
      escalate_or_null = escalate.c_str();
    }
  }
};

json rule_json(const rules::Rule& r, std::int64_t created_us, std::int64_t updated_us) {
  json j = rules::to_json(r);
  j["created_at"] = core::format_rfc3339(created_us);
  j["updated_at"] = core::format_rfc3339(updated_us);
  return j;
}

json row_json(const pqxx::row& row) {
  const auto rule = storage::rule_from_row(row[0].as<std::int64_t>(), row[1].as<std::int64_t>(),
                                           row[2].as<std::string>());
  if (rule) return rule_json(*rule, row[3].as<std::int64_t>(), row[4].as<std::int64_t>());
  json j = json::parse(row[2].as<std::string>());  // stored before a validation change
  j["id"] = row[0].as<std::int64_t>();
  return j;
}

std::string select_sql() {
  return std::string("SELECT id, tenant_id, ") + storage::kRuleBodySql + ", " + kTimesSql +
         " FROM rules ";
}

awaitable<http::Response> list_rules(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::size_t limit = limit_param(req);
  const std::int64_t cursor = int_cursor(req).value_or(0);
  json items = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    json out = json::array();
    for (const auto& row : w.exec_params(select_sql() + "WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                                         tenant, cursor, limit + 1))
      out.push_back(row_json(row));
    return out;
  });
  const json next = take_page(items, limit);
  co_return http::json_response(req.raw, 200, {{"items", std::move(items)}, {"next", next}});
}

awaitable<http::Response> get_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  json rule = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(select_sql() + "WHERE id = $1 AND tenant_id = $2", id, tenant);
    return r.empty() ? json() : row_json(r[0]);
  });
  if (rule.is_null()) throw http::Problem(404, "Not Found", "no rule " + std::to_string(id));
  co_return http::json_response(req.raw, 200, rule);
}

awaitable<http::Response> create_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  rules::Rule rule = parse_or_throw(rules::parse_rule(body_object(req), tenant));
  const RuleColumns cols(rule);
  auth::AuditEntry audit = audit_by(req, tenant, "rule.create", "", body_object(req));
  const auto times = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params1(
        std::string("INSERT INTO rules (tenant_id, name, metric, scope, scope_device, scope_group, "
                    "kind, params, severity, enabled, escalate, actions) VALUES ($1, $2, $3, "
                    "$4::jsonb, $5, $6::bigint, $7, $8::jsonb, $9, $10, $11::jsonb, $12::jsonb) "
                    "RETURNING id, ") + kTimesSql,
        tenant, cols.name, cols.metric, cols.scope, cols.scope_device, cols.scope_group, cols.kind,
        cols.params, cols.severity, cols.enabled, cols.escalate_or_null, cols.actions);
    audit.target = "rule:" + r[0].as<std::string>();
    auth::write_audit(w, audit);
    w.commit();
    return std::array<std::int64_t, 3>{r[0].as<std::int64_t>(), r[1].as<std::int64_t>(),
                                       r[2].as<std::int64_t>()};
  });
  rule.id = times[0];
  rule.tenant = tenant;
  json out = rule_json(rule, times[1], times[2]);
  ctx.engine.upsert_rule(std::move(rule));
  ctx.changed();
  co_return http::json_response(req.raw, 201, out);
}

awaitable<http::Response> patch_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const json patch = body_object(req);
  // Read, merge and write in one transaction (row locked), so two PATCHes of
  // one rule cannot lose each other's fields.
  std::optional<rules::Rule> merged;
  std::optional<rules::RuleError> error;
  std::array<std::int64_t, 2> times{};
  const auth::AuditEntry audit =
      audit_by(req, tenant, "rule.update", "rule:" + std::to_string(id), patch);
  const bool found = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        std::string("SELECT ") + storage::kRuleBodySql + " FROM rules WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
        id, tenant);
    if (r.empty()) return false;
    auto stored = storage::rule_from_row(id, tenant, r[0][0].as<std::string>());
    if (!stored) {
      error = rules::RuleError{"", "the stored rule no longer validates; replace it with DELETE and POST", 422};
      return true;
    }
    auto result = rules::merge_rule(*stored, patch);
    if (auto* e = std::get_if<rules::RuleError>(&result)) {
      error = *e;
      return true;
    }
    merged = std::get<rules::Rule>(std::move(result));
    const RuleColumns cols(*merged);
    const auto u = w.exec_params1(
        std::string("UPDATE rules SET name = $3, metric = $4, scope = $5::jsonb, scope_device = $6, "
                    "scope_group = $7::bigint, kind = $8, params = $9::jsonb, severity = $10, "
                    "enabled = $11, escalate = $12::jsonb, actions = $13::jsonb, updated_at = now() "
                    "WHERE id = $1 AND tenant_id = $2 RETURNING ") + kTimesSql,
        id, tenant, cols.name, cols.metric, cols.scope, cols.scope_device, cols.scope_group,
        cols.kind, cols.params, cols.severity, cols.enabled, cols.escalate_or_null, cols.actions);
    auth::write_audit(w, audit);
    w.commit();
    times = {u[0].as<std::int64_t>(), u[1].as<std::int64_t>()};
    return true;
  });
  if (!found) throw http::Problem(404, "Not Found", "no rule " + std::to_string(id));
  if (error) throw_rule_error(*error);
  merged->id = id;
  merged->tenant = tenant;
  json out = rule_json(*merged, times[0], times[1]);
  ctx.engine.upsert_rule(std::move(*merged));
  ctx.changed();
  co_return http::json_response(req.raw, 200, out);
}

awaitable<http::Response> delete_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  const std::int64_t id = id_param(req);
  const auth::AuditEntry audit = audit_by(req, tenant, "rule.delete", "rule:" + std::to_string(id));
  const bool deleted = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params("DELETE FROM rules WHERE id = $1 AND tenant_id = $2 RETURNING id", id, tenant);
    if (!r.empty()) auth::write_audit(w, audit);
    w.commit();
    return !r.empty();
  });
  if (!deleted) throw http::Problem(404, "Not Found", "no rule " + std::to_string(id));
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
  throw http::Problem(400, "Bad Request", std::string(key) + ": expected RFC 3339 or epoch milliseconds");
}

/// `{d1,d2}` for a text[] parameter; device ids never need quoting.
std::string device_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids) {
    if (out.size() > 1) out += ',';
    out += id;
  }
  return out + "}";
}

// Runs on the pool thread: the readings come back in ts order and the engine
// replays them there, so a long backtest never holds the event loop.
awaitable<http::Response> backtest_rule(AlertingContext& ctx, http::Request& req) {
  const core::TenantId tenant = caller_tenant(req);
  json body = body_object(req);
  const core::Micros from = body_time(body, "from");
  const core::Micros to = body_time(body, "to");
  if (from >= to) throw http::Problem(422, "Unprocessable Entity", "from: must be before 'to'");
  body.erase("from");
  body.erase("to");
  rules::Rule rule = parse_or_throw(rules::parse_rule(body, tenant));
  rule.id = rule.id ? rule.id : 1;

  std::optional<std::string> devices;  // nullopt: every device of the tenant
  if (rule.scope.type == rules::Scope::Type::device) {
    devices = device_array({rule.scope.device});
  } else if (rule.scope.type == rules::Scope::Type::group) {
    std::vector<std::string> ids;
    ctx.registry.for_each([&](devices::Device& d) {
      if (d.rec.tenant != tenant) return;
      for (auto g : d.rec.group_ids)
        if (g == rule.scope.group) ids.push_back(d.rec.id);
    });
    devices = device_array(ids);
  }
  const std::size_t max_rows = ctx.backtest_max_rows;
  const auto timeout_ms = ctx.backtest_timeout.count();
  bool too_many = false;
  bool timed_out = false;
  json result = co_await ctx.pool.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    std::vector<rules::BacktestPoint> points;
    {
      pqxx::read_transaction w(c);
      w.exec("SET LOCAL statement_timeout = " + std::to_string(timeout_ms));
      std::string sql =
          "SELECT s.device_id, (extract(epoch from r.ts) * 1000000)::bigint, r.value "
          "FROM readings_raw r JOIN series s ON s.id = r.series_id "
          "WHERE s.tenant_id = $1 AND s.metric = $2 "
          "AND r.ts >= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond' "
          "AND r.ts < 'epoch'::timestamptz + $4::bigint * interval '1 microsecond' ";
      if (devices) sql += "AND s.device_id = ANY($6::text[]) ";
      sql += "ORDER BY r.ts, s.device_id LIMIT $5";
      pqxx::result rows;
      try {
        rows = devices ? w.exec_params(sql, tenant, rule.metric, from, to, max_rows + 1, *devices)
                       : w.exec_params(sql, tenant, rule.metric, from, to, max_rows + 1);
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != "57014") throw;  // query_canceled: statement_timeout
        timed_out = true;
        return json();
      }
      if (rows.size() > max_rows) {
        too_many = true;
        return json();
      }
      points.reserve(rows.size());
      for (const auto& r : rows)
        points.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<double>()});
    }
    return rules::to_json(rules::backtest(rule, points, to));
  });
  if (timed_out)
    throw http::Problem(422, "Unprocessable Entity",
                        "from: reading the range took longer than " + std::to_string(timeout_ms) +
                            " ms; narrow from/to");
  if (too_many)
    throw http::Problem(422, "Unprocessable Entity",
                        "from: the range holds more than " + std::to_string(max_rows) +
                            " readings of this metric in scope; narrow from/to");
  co_return http::json_response(req.raw, 200, result);
}

}  // namespace

void add_rule_routes(http::Router& router, AlertingContext& ctx) {
  router.add(bhttp::verb::get, "/api/v1/rules", http::Access::viewer, bind(ctx, list_rules));
  router.add(bhttp::verb::post, "/api/v1/rules", http::Access::admin, bind(ctx, create_rule));
  router.add(bhttp::verb::post, "/api/v1/rules/backtest", http::Access::operator_, bind(ctx, backtest_rule));
  router.add(bhttp::verb::get, "/api/v1/rules/{id}", http::Access::viewer, bind(ctx, get_rule));
  router.add(bhttp::verb::patch, "/api/v1/rules/{id}", http::Access::admin, bind(ctx, patch_rule));
  router.add(bhttp::verb::delete_, "/api/v1/rules/{id}", http::Access::admin, bind(ctx, delete_rule));
}

}  // namespace peregrine::api
