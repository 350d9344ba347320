#include <peregrine/storage/rule_repository.hpp>

#include <peregrine/storage/alert_store.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

const std::string kTimesSql = sql::micros("created_at") + ", " + sql::micros("updated_at");
const std::string kSelectSql =
    std::string("SELECT id, tenant_id, ") + kRuleBodySql + ", " + kTimesSql + " FROM rules ";

/// A row of kSelectSql.
StoredRule stored_from(const pqxx::row& row) {
  const auto id = row[0].as<std::int64_t>();
  const std::string body = row[2].as<std::string>();
  if (auto rule = rule_from_row(id, row[1].as<std::int64_t>(), body))
    return RuleRecord{std::move(*rule), row[3].as<std::int64_t>(), row[4].as<std::int64_t>()};
  return UnparsedRule{id, json::parse(body)};
}

rules::RuleId id_of(const StoredRule& s) {
  if (const auto* r = std::get_if<RuleRecord>(&s)) return r->rule.id;
  return std::get<UnparsedRule>(s).id;
}

std::string not_found(rules::RuleId id) { return "no rule " + std::to_string(id); }

Failure failure_of(const rules::RuleError& e) {
  return e.status == 422 ? Failure::invalid(e.field, e.message)
                         : Failure::bad_input(e.field, e.message);
}

/// The stored columns of a rule, in the order of the INSERT/UPDATE below;
/// null pointers are SQL NULLs.
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
  RuleColumns(const RuleColumns&) = delete;  // points into itself
  RuleColumns& operator=(const RuleColumns&) = delete;
};

constexpr std::string_view kQueryCanceled = "57014";  // statement_timeout

/// What the rule's actions name, at any depth of `on_timeout`, with the
/// path of each: groups a command targets, channels and contacts a notify
/// step uses.
struct ActionRefs {
  std::vector<std::pair<std::int64_t, std::string>> groups, channels, contacts;
};

void action_refs(const json& actions, const std::string& path, ActionRefs& out) {
  if (!actions.is_array()) return;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const json& a = actions[i];
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!a.is_object()) continue;
    if (const auto t = a.find("target"); t != a.end() && t->is_object() && t->contains("group"))
      out.groups.emplace_back((*t)["group"].get<std::int64_t>(), at + ".target.group");
    if (a.value("type", "") == "notify") {
      if (const auto c = a.find("channel"); c != a.end() && c->is_number_integer())
        out.channels.emplace_back(c->get<std::int64_t>(), at + ".channel");
      if (const auto c = a.find("contacts"); c != a.end() && c->is_array())
        for (std::size_t k = 0; k < c->size(); ++k)
          if ((*c)[k].is_number_integer())
            out.contacts.emplace_back((*c)[k].get<std::int64_t>(), at + ".contacts[" + std::to_string(k) + "]");
    }
    if (const auto ot = a.find("on_timeout"); ot != a.end()) action_refs(*ot, at + ".on_timeout", out);
  }
}

/// A group scope, every group a command action targets, and every channel
/// and contact a notify step names must be the rule's tenant's (a foreign
/// key alone would accept another tenant's: it does not see row security).
std::optional<Failure> check_groups(pqxx::work& w, core::TenantId tenant, const rules::Rule& r) {
  ActionRefs refs;
  if (r.scope.type == rules::Scope::Type::group) refs.groups.emplace_back(r.scope.group, "scope.group");
  action_refs(r.actions, "actions", refs);
  const auto check = [&](const auto& list, const char* table, const char* what) -> std::optional<Failure> {
    for (const auto& [id, field] : list) {
      if (w.exec_params(std::string("SELECT 1 FROM ") + table + " WHERE id = $1 AND tenant_id = $2", id, tenant)
              .empty())
        return Failure::invalid(field, std::string("no ") + what + " " + std::to_string(id));
    }
    return std::nullopt;
  };
  if (auto f = check(refs.groups, "device_groups", "group")) return f;
  if (auto f = check(refs.channels, "channels", "channel")) return f;
  return check(refs.contacts, "contacts", "contact");
}

}  // namespace

awaitable<Page<StoredRule>> RuleRepository::list(core::TenantId tenant,
                                                 PageRequest<std::int64_t> page) {
  std::vector<StoredRule> rows =
      co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
        pqxx::read_transaction w(c);
        std::vector<StoredRule> out;
        for (const auto& row :
             w.exec_params(kSelectSql + "WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                           tenant, page.after, page.limit + 1))
          out.push_back(stored_from(row));
        return out;
      });
  co_return sql::cut_page(std::move(rows), page.limit,
                          [](const StoredRule& s) { return std::to_string(id_of(s)); });
}

awaitable<Outcome<StoredRule>> RuleRepository::get(core::TenantId tenant, rules::RuleId id) {
  co_return co_await pool_.run(
      Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<StoredRule> {
        pqxx::read_transaction w(c);
        const auto r = w.exec_params(kSelectSql + "WHERE id = $1 AND tenant_id = $2", id, tenant);
        if (r.empty()) return Failure::not_found(not_found(id));
        return stored_from(r[0]);
      });
}

awaitable<Outcome<RuleRecord>> RuleRepository::create(core::TenantId tenant, rules::Rule rule,
                                                      AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<RuleRecord>(c, audit, {}, [&](pqxx::work& w) -> Outcome<RuleRecord> {
      if (auto f = check_groups(w, tenant, rule)) return *f;
      const RuleColumns cols(rule);
      const auto r = w.exec_params1(
          "INSERT INTO rules (tenant_id, name, metric, scope, scope_device, scope_group, kind, "
          "params, severity, enabled, escalate, actions) VALUES ($1, $2, $3, $4::jsonb, $5, "
          "$6::bigint, $7, $8::jsonb, $9, $10, $11::jsonb, $12::jsonb) RETURNING id, " +
              kTimesSql,
          tenant, cols.name, cols.metric, cols.scope, cols.scope_device, cols.scope_group,
          cols.kind, cols.params, cols.severity, cols.enabled, cols.escalate_or_null, cols.actions);
      audit.target = "rule:" + r[0].as<std::string>();
      RuleRecord out{std::move(rule), r[1].as<std::int64_t>(), r[2].as<std::int64_t>()};
      out.rule.id = r[0].as<std::int64_t>();
      out.rule.tenant = tenant;
      return out;
    });
  });
}

awaitable<Outcome<RuleRecord>> RuleRepository::update(core::TenantId tenant, rules::RuleId id,
                                                      json patch, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<RuleRecord>(c, audit, {}, [&](pqxx::work& w) -> Outcome<RuleRecord> {
      const auto r = w.exec_params(std::string("SELECT ") + kRuleBodySql +
                                       " FROM rules WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
                                   id, tenant);
      if (r.empty()) return Failure::not_found(not_found(id));
      const auto stored = rule_from_row(id, tenant, r[0][0].as<std::string>());
      if (!stored)
        return Failure::invalid(
            "", "the stored rule no longer validates; replace it with DELETE and POST");
      auto merged = rules::merge_rule(*stored, patch);
      if (const auto* e = std::get_if<rules::RuleError>(&merged)) return failure_of(*e);
      RuleRecord out{std::get<rules::Rule>(std::move(merged)), 0, 0};
      if (auto f = check_groups(w, tenant, out.rule)) return *f;
      const RuleColumns cols(out.rule);
      const auto u = w.exec_params1(
          "UPDATE rules SET name = $3, metric = $4, scope = $5::jsonb, scope_device = $6, "
          "scope_group = $7::bigint, kind = $8, params = $9::jsonb, severity = $10, "
          "enabled = $11, escalate = $12::jsonb, actions = $13::jsonb, updated_at = now() "
          "WHERE id = $1 AND tenant_id = $2 RETURNING " +
              kTimesSql,
          id, tenant, cols.name, cols.metric, cols.scope, cols.scope_device, cols.scope_group,
          cols.kind, cols.params, cols.severity, cols.enabled, cols.escalate_or_null, cols.actions);
      out.rule.id = id;
      out.rule.tenant = tenant;
      out.created_at = u[0].as<std::int64_t>();
      out.updated_at = u[1].as<std::int64_t>();
      return out;
    });
  });
}

awaitable<Outcome<Done>> RuleRepository::remove(core::TenantId tenant, rules::RuleId id,
                                                AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, {}, [&](pqxx::work& w) -> Outcome<Done> {
      if (w.exec_params("DELETE FROM rules WHERE id = $1 AND tenant_id = $2", id, tenant)
              .affected_rows() == 0)
        return Failure::not_found(not_found(id));
      return Done{};
    });
  });
}

awaitable<BacktestRun> RuleRepository::backtest(core::TenantId tenant, rules::Rule rule,
                                                BacktestRange range) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    BacktestRun run;
    std::vector<rules::BacktestPoint> points;
    {
      pqxx::read_transaction w(c);
      w.exec("SET LOCAL statement_timeout = " + std::to_string(range.timeout.count()));
      std::string q = "SELECT s.device_id, " + sql::micros("r.ts") +
                      ", r.value "
                      "FROM readings_raw r JOIN series s ON s.id = r.series_id "
                      "WHERE s.tenant_id = $1 AND s.metric = $2 "
                      "AND r.ts >= " +
                      sql::ts_param(3) + " AND r.ts < " + sql::ts_param(4) + " ";
      if (range.devices) q += "AND s.device_id = ANY($6::text[]) ";
      q += "ORDER BY r.ts, s.device_id LIMIT $5";
      pqxx::result rows;
      try {
        rows = range.devices ? w.exec_params(q, tenant, rule.metric, range.from, range.to,
                                             range.max_rows + 1, sql::id_array(*range.devices))
                             : w.exec_params(q, tenant, rule.metric, range.from, range.to,
                                             range.max_rows + 1);
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != kQueryCanceled) throw;
        run.status = BacktestRun::Status::timed_out;
        return run;
      }
      if (rows.size() > range.max_rows) {
        run.status = BacktestRun::Status::too_many_readings;
        return run;
      }
      points.reserve(rows.size());
      for (const auto& r : rows)
        points.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<double>()});
    }
    run.result = rules::backtest(rule, points, range.to);
    return run;
  });
}

}  // namespace peregrine::storage
