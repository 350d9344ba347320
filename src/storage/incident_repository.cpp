#include <peregrine/storage/incident_repository.hpp>

#include <peregrine/alerts/alert.hpp>
#include <peregrine/storage/alert_store.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

std::string rfc3339(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

const std::string kIncidentJson =
    "jsonb_build_object('id', i.id, 'title', i.title, 'description', i.description, "
    "'severity', i.severity, 'state', i.state, "
    "'assignee', CASE WHEN u.id IS NULL THEN NULL ELSE jsonb_build_object('id', u.id, 'email', u.email) END, "
    "'alert_ids', coalesce((SELECT jsonb_agg(a.alert_id ORDER BY a.alert_id) FROM incident_alerts a "
    "  WHERE a.incident_id = i.id), '[]'::jsonb), "
    "'created_by', i.created_by, 'created_at', " + rfc3339("i.created_at") +
    ", 'updated_at', " + rfc3339("i.updated_at") + ")::text "
    "FROM incidents i LEFT JOIN users u ON u.id = i.assignee_id ";

std::string not_found(std::int64_t id) { return "no incident " + std::to_string(id); }

json incident(pqxx::transaction_base& w, std::int64_t id) {
  return json::parse(w.exec_params1("SELECT " + kIncidentJson + "WHERE i.id = $1", id)[0].as<std::string>());
}

void event(pqxx::work& w, core::TenantId tenant, std::int64_t id, const char* kind, const std::string& actor,
           const std::string& text) {
  w.exec_params("INSERT INTO incident_events (incident_id, tenant_id, kind, actor, text) VALUES ($1, $2, $3, $4, $5)",
                id, tenant, kind, actor, text);
  w.exec_params("UPDATE incidents SET updated_at = now() WHERE id = $1", id);
}

/// The incident's state, locked for the rest of the transaction; nullopt when not the tenant's.
std::optional<std::string> lock(pqxx::work& w, core::TenantId tenant, std::int64_t id) {
  const auto r = w.exec_params("SELECT state FROM incidents WHERE id = $1 AND tenant_id = $2 FOR UPDATE", id, tenant);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::optional<Failure> link_alerts(pqxx::work& w, core::TenantId tenant, std::int64_t id,
                                   const std::vector<std::int64_t>& alert_ids, const std::string& actor) {
  for (const std::int64_t a : alert_ids) {
    const auto r = w.exec_params(
        "SELECT al.device_id, al.metric, ia.incident_id FROM alerts al LEFT JOIN incident_alerts ia "
        "ON ia.alert_id = al.id WHERE al.id = $1 AND al.tenant_id = $2",
        a, tenant);
    if (r.empty()) return Failure::invalid("alert_ids", "no alert " + std::to_string(a));
    if (!r[0][2].is_null()) {
      const auto other = r[0][2].as<std::int64_t>();
      if (other == id) continue;
      return Failure::conflict("alert_ids", "alert " + std::to_string(a) + " is in incident " + std::to_string(other));
    }
    w.exec_params("INSERT INTO incident_alerts (alert_id, incident_id, tenant_id) VALUES ($1, $2, $3)", a, id, tenant);
    event(w, tenant, id, "alert_added", actor,
          "alert " + std::to_string(a) + " (" + r[0][0].as<std::string>() + " " + r[0][1].as<std::string>() + ")");
  }
  return std::nullopt;
}

}  // namespace

bool incident_transition_allowed(std::string_view from, std::string_view to) noexcept {
  if (from == "open") return to == "investigating" || to == "resolved";
  if (from == "investigating") return to == "resolved";
  if (from == "resolved") return to == "closed" || to == "investigating";
  return false;
}

awaitable<json> IncidentRepository::list(core::TenantId tenant, std::string state) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::string q = "SELECT " + kIncidentJson + "WHERE i.tenant_id = " + w.quote(tenant);
    if (!state.empty()) q += " AND i.state = " + w.quote(state);
    json out = json::array();
    for (const auto& r : w.exec(q + " ORDER BY i.id DESC LIMIT 500")) out.push_back(json::parse(r[0].as<std::string>()));
    return out;
  });
}

awaitable<Outcome<json>> IncidentRepository::get(core::TenantId tenant, std::int64_t id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<json> {
    pqxx::read_transaction w(c);
    if (w.exec_params("SELECT 1 FROM incidents WHERE id = $1 AND tenant_id = $2", id, tenant).empty())
      return Failure::not_found(not_found(id));
    json out = incident(w, id);
    json alerts_json = json::array();
    for (const auto& r : w.exec_params(std::string("SELECT ") + kAlertColumnsSql +
                                           " FROM alerts WHERE id IN (SELECT alert_id FROM incident_alerts "
                                           "WHERE incident_id = $1) ORDER BY id",
                                       id))
      alerts_json.push_back(alerts::to_json(alert_from_row(r)));
    out["alerts"] = std::move(alerts_json);
    json timeline = json::array();
    for (const auto& r : w.exec_params("SELECT " + rfc3339("at") +
                                           ", kind, actor, text FROM incident_events WHERE incident_id = $1 ORDER BY id",
                                       id))
      timeline.push_back({{"at", r[0].as<std::string>()},
                          {"kind", r[1].as<std::string>()},
                          {"actor", r[2].as<std::string>()},
                          {"text", r[3].as<std::string>()}});
    out["timeline"] = std::move(timeline);
    json maintenance = json::array();
    for (const auto& r : w.exec_params("SELECT id, note, performed_by, " + rfc3339("performed_at") +
                                           ", parts::text, created_by, " + rfc3339("created_at") +
                                           " FROM maintenance_entries WHERE incident_id = $1 ORDER BY id",
                                       id))
      maintenance.push_back({{"id", r[0].as<std::int64_t>()},
                             {"note", r[1].as<std::string>()},
                             {"performed_by", r[2].as<std::string>()},
                             {"performed_at", r[3].as<std::string>()},
                             {"parts", json::parse(r[4].as<std::string>())},
                             {"created_by", r[5].as<std::string>()},
                             {"created_at", r[6].as<std::string>()}});
    out["maintenance"] = std::move(maintenance);
    return out;
  });
}

awaitable<Outcome<json>> IncidentRepository::create(core::TenantId tenant, NewIncident n, std::string actor,
                                                    AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<json>(c, audit, {}, [&](pqxx::work& w) -> Outcome<json> {
      const auto id = w.exec_params1("INSERT INTO incidents (tenant_id, title, description, severity, state, created_by) "
                                     "VALUES ($1, $2, $3, $4, 'open', $5) RETURNING id",
                                     tenant, n.title, n.description, n.severity, actor)[0]
                          .as<std::int64_t>();
      event(w, tenant, id, "created", actor, n.title);
      if (auto f = link_alerts(w, tenant, id, n.alert_ids, actor)) return *f;
      audit.target = "incident:" + std::to_string(id);
      return incident(w, id);
    });
  });
}

awaitable<Outcome<json>> IncidentRepository::update(core::TenantId tenant, std::int64_t id, IncidentPatch p,
                                                    std::string actor, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<json>(c, audit, {}, [&](pqxx::work& w) -> Outcome<json> {
      const auto state = lock(w, tenant, id);
      if (!state) return Failure::not_found(not_found(id));
      if (*state == "closed") return Failure::conflict("state", "the incident is closed");
      if (p.state && *p.state != *state) {
        if (!incident_transition_allowed(*state, *p.state))
          return Failure::conflict("state", "cannot go from " + *state + " to " + *p.state);
        w.exec_params("UPDATE incidents SET state = $2 WHERE id = $1", id, *p.state);
        event(w, tenant, id, "state", actor, *state + " → " + *p.state);
      }
      if (p.set_assignee) {
        std::string who = "nobody";
        if (p.assignee) {
          const auto u = w.exec_params("SELECT email FROM users WHERE id = $1 AND tenant_id = $2", *p.assignee, tenant);
          if (u.empty()) return Failure::invalid("assignee", "no user " + std::to_string(*p.assignee));
          who = u[0][0].as<std::string>();
        }
        w.exec_params("UPDATE incidents SET assignee_id = $2 WHERE id = $1", id, sql::nullable(p.assignee).c_str());
        event(w, tenant, id, "assignee", actor, "assigned to " + who);
      }
      if (p.title || p.description || p.severity) {
        w.exec_params("UPDATE incidents SET title = coalesce($2, title), description = coalesce($3, description), "
                      "severity = coalesce($4, severity) WHERE id = $1",
                      id, p.title ? p.title->c_str() : nullptr, p.description ? p.description->c_str() : nullptr,
                      p.severity ? p.severity->c_str() : nullptr);
        std::string what;
        if (p.title) what += "title \"" + *p.title + "\" ";
        if (p.severity) what += "severity " + *p.severity + " ";
        if (p.description) what += "description ";
        event(w, tenant, id, "updated", actor, what.empty() ? what : what.substr(0, what.size() - 1));
      }
      return incident(w, id);
    });
  });
}

awaitable<Outcome<json>> IncidentRepository::add_alerts(core::TenantId tenant, std::int64_t id,
                                                        std::vector<std::int64_t> alert_ids, std::string actor,
                                                        AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<json>(c, audit, {}, [&](pqxx::work& w) -> Outcome<json> {
      const auto state = lock(w, tenant, id);
      if (!state) return Failure::not_found(not_found(id));
      if (*state == "closed") return Failure::conflict("state", "the incident is closed");
      if (auto f = link_alerts(w, tenant, id, alert_ids, actor)) return *f;
      return incident(w, id);
    });
  });
}

awaitable<Outcome<json>> IncidentRepository::comment(core::TenantId tenant, std::int64_t id, std::string text,
                                                     std::string actor, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<json>(c, audit, {}, [&](pqxx::work& w) -> Outcome<json> {
      if (!lock(w, tenant, id)) return Failure::not_found(not_found(id));
      event(w, tenant, id, "comment", actor, text);
      return incident(w, id);
    });
  });
}

awaitable<Outcome<json>> IncidentRepository::add_maintenance(core::TenantId tenant, std::int64_t id,
                                                             NewMaintenance m, std::string actor, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<json>(c, audit, {}, [&](pqxx::work& w) -> Outcome<json> {
      const auto state = lock(w, tenant, id);
      if (!state) return Failure::not_found(not_found(id));
      if (*state == "closed") return Failure::conflict("state", "the incident is closed");
      const auto r = w.exec_params1(
          "INSERT INTO maintenance_entries (incident_id, tenant_id, note, performed_by, performed_at, parts, "
          "created_by) VALUES ($1, $2, $3, $4, " + sql::ts_param(5) + ", $6::jsonb, $7) RETURNING id, " +
              rfc3339("performed_at") + ", " + rfc3339("created_at"),
          id, tenant, m.note, m.performed_by, m.performed_at, m.parts.dump(), actor);
      event(w, tenant, id, "maintenance", actor, m.performed_by + ": " + m.note);
      return json{{"id", r[0].as<std::int64_t>()},
                  {"note", m.note},
                  {"performed_by", m.performed_by},
                  {"performed_at", r[1].as<std::string>()},
                  {"parts", m.parts},
                  {"created_by", actor},
                  {"created_at", r[2].as<std::string>()},
                  {"incident", incident(w, id)}};
    });
  });
}

awaitable<std::optional<std::int64_t>> IncidentRepository::of_alert(core::TenantId tenant, std::int64_t alert_id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> std::optional<std::int64_t> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT incident_id FROM incident_alerts WHERE alert_id = $1 AND tenant_id = $2",
                                 alert_id, tenant);
    if (r.empty()) return std::nullopt;
    return r[0][0].as<std::int64_t>();
  });
}

}  // namespace peregrine::storage
