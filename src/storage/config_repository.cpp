#include <peregrine/storage/config_repository.hpp>

#include <pqxx/pqxx>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;
using nlohmann::json;

std::string ConfigState::state() const {
  if (applied_version && *applied_version >= desired_version) return "in_sync";
  if (rejected_version && *rejected_version == desired_version) return "rejected";
  return "pending";
}

namespace {

std::optional<std::int32_t> opt_int(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<std::int32_t>(f.as<std::int32_t>());
}

const std::string kSchemaColumns = "type, version, schema::text, created_by, " + sql::micros("created_at");

SchemaRow schema_from(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::int32_t>(), json::parse(r[2].c_str()), r[3].as<std::string>(),
          r[4].as<std::int64_t>()};
}

const std::string kVersionColumns = "device_id, version, config::text, schema_type, schema_version, created_by, " +
                                    sql::micros("created_at") + ", job_id";

ConfigVersion version_from(const pqxx::row& r) {
  ConfigVersion v;
  v.device = r[0].as<std::string>();
  v.version = r[1].as<std::int32_t>();
  v.config = json::parse(r[2].c_str());
  v.schema_type = r[3].as<std::string>();
  v.schema_version = opt_int(r[4]);
  v.created_by = r[5].as<std::string>();
  v.created_at = r[6].as<std::int64_t>();
  if (!r[7].is_null()) v.job = r[7].as<std::int64_t>();
  return v;
}

// The state and the desired version's configuration.
const std::string kStateSelect =
    "SELECT s.device_id, s.tenant_id, s.desired_version, s.published_version, s.applied_version, " +
    std::string("CASE WHEN s.applied_at IS NULL THEN NULL ELSE ") + sql::micros("s.applied_at") +
    " END, s.rejected_version, coalesce(s.rejected_error, ''), c.config::text "
    "FROM device_config_state s JOIN device_configs c ON c.device_id = s.device_id AND c.version = s.desired_version ";

/// The columns of kStateSelect, from column `at` on.
ConfigState state_from(const pqxx::row& r, pqxx::row::size_type at = 0) {
  ConfigState s;
  s.device = r[at].as<std::string>();
  s.tenant = r[at + 1].as<std::int64_t>();
  s.desired_version = r[at + 2].as<std::int32_t>();
  s.published_version = r[at + 3].as<std::int32_t>();
  s.applied_version = opt_int(r[at + 4]);
  if (!r[at + 5].is_null()) s.applied_at = r[at + 5].as<std::int64_t>();
  s.rejected_version = opt_int(r[at + 6]);
  s.rejected_error = r[at + 7].as<std::string>();
  s.config = json::parse(r[at + 8].c_str());
  return s;
}

const std::vector<sql::Violation>& write_violations() {
  static const std::vector<sql::Violation> v = {
      // Two writers that both saw no configuration yet, or the same version.
      {sql::Violation::Class::unique, "device_configs_pkey",
       Failure::conflict("if_version", "another write took this version first: read the configuration again")},
      {sql::Violation::Class::unique, "device_config_state_pkey",
       Failure::conflict("if_version", "another write took this version first: read the configuration again")},
      {sql::Violation::Class::foreign_key, "",
       Failure::not_persisted("the device is not stored yet")},
  };
  return v;
}

}  // namespace

awaitable<Outcome<SchemaRow>> ConfigRepository::put_schema(core::TenantId tenant, std::string type, json schema,
                                                           std::string created_by, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<SchemaRow>(
        c, audit,
        {{sql::Violation::Class::unique, "device_type_schemas_pkey",
          Failure::conflict("schema", "another schema version was stored at the same time: try again")}},
        [&](pqxx::work& w) -> Outcome<SchemaRow> {
          const auto r = w.exec_params1(
              "INSERT INTO device_type_schemas (tenant_id, type, version, schema, created_by) "
              "SELECT $1, $2, coalesce(max(version), 0) + 1, $3::jsonb, $4 FROM device_type_schemas "
              "WHERE tenant_id = $1 AND type = $2 RETURNING " + kSchemaColumns,
              tenant, type, schema.dump(), created_by);
          SchemaRow out = schema_from(r);
          audit.detail["version"] = out.version;
          return out;
        });
  });
}

awaitable<std::optional<SchemaRow>> ConfigRepository::schema(core::TenantId tenant, std::string type,
                                                             std::int32_t version) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> std::optional<SchemaRow> {
    pqxx::read_transaction w(c);
    const auto r = version > 0 ? w.exec_params("SELECT " + kSchemaColumns +
                                                   " FROM device_type_schemas WHERE tenant_id = $1 AND type = $2 "
                                                   "AND version = $3",
                                               tenant, type, version)
                               : w.exec_params("SELECT " + kSchemaColumns +
                                                   " FROM device_type_schemas WHERE tenant_id = $1 AND type = $2 "
                                                   "ORDER BY version DESC LIMIT 1",
                                               tenant, type);
    if (r.empty()) return std::nullopt;
    return schema_from(r[0]);
  });
}

awaitable<std::vector<SchemaRow>> ConfigRepository::schema_versions(core::TenantId tenant, std::string type) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<SchemaRow> out;
    for (const auto& r : w.exec_params("SELECT " + kSchemaColumns +
                                           " FROM device_type_schemas WHERE tenant_id = $1 AND type = $2 "
                                           "ORDER BY version DESC",
                                       tenant, type))
      out.push_back(schema_from(r));
    return out;
  });
}

awaitable<std::vector<TypeSummary>> ConfigRepository::types(core::TenantId tenant) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<TypeSummary> out;
    for (const auto& r : w.exec_params(
             "SELECT t.type, coalesce((SELECT max(version) FROM device_type_schemas s "
             "  WHERE s.tenant_id = $1 AND s.type = t.type), 0), "
             "  (SELECT count(*) FROM devices d WHERE d.tenant_id = $1 AND d.type = t.type) "
             "FROM (SELECT type FROM device_type_schemas WHERE tenant_id = $1 "
             "      UNION SELECT type FROM devices WHERE tenant_id = $1 AND type <> '') t ORDER BY t.type",
             tenant))
      out.push_back({r[0].as<std::string>(), r[1].as<std::int32_t>(), r[2].as<std::int64_t>()});
    return out;
  });
}

awaitable<std::vector<ConfigState>> ConfigRepository::desired_of_type(core::TenantId tenant, std::string type) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<ConfigState> out;
    for (const auto& r : w.exec_params(kStateSelect + "JOIN devices d ON d.id = s.device_id "
                                                      "WHERE s.tenant_id = $1 AND d.type = $2 ORDER BY s.device_id",
                                       tenant, type))
      out.push_back(state_from(r));
    return out;
  });
}

awaitable<Outcome<std::vector<ConfigVersion>>> ConfigRepository::write(core::TenantId tenant,
                                                                       std::vector<ConfigWrite> writes,
                                                                       std::string created_by,
                                                                       std::optional<std::int64_t> job,
                                                                       AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<std::vector<ConfigVersion>>(
        c, audit, write_violations(), [&](pqxx::work& w) -> Outcome<std::vector<ConfigVersion>> {
          std::vector<ConfigVersion> out;
          for (const ConfigWrite& cw : writes) {
            if (w.exec_params("SELECT 1 FROM devices WHERE id = $1 AND tenant_id = $2", cw.device, tenant).empty())
              return Failure::not_persisted("'" + cw.device + "' is not stored yet");
            // The row lock orders writers of one device; a device's first
            // write has no row to lock, and the primary keys settle a race.
            const auto cur = w.exec_params(
                "SELECT desired_version FROM device_config_state WHERE device_id = $1 FOR UPDATE", cw.device);
            const std::int32_t desired = cur.empty() ? 0 : cur[0][0].as<std::int32_t>();
            if (cw.if_version && *cw.if_version != desired)
              return Failure::conflict("if_version", "'" + cw.device + "' is at version " + std::to_string(desired) +
                                                         ", not " + std::to_string(*cw.if_version) +
                                                         ": someone else wrote first");
            const std::int32_t next = desired + 1;
            const auto r = w.exec_params1(
                "INSERT INTO device_configs (device_id, version, tenant_id, config, schema_type, schema_version, "
                "created_by, job_id) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8) RETURNING " + kVersionColumns,
                cw.device, next, tenant, cw.config.dump(), cw.schema_type,
                sql::nullable(cw.schema_version ? std::optional<std::int64_t>(*cw.schema_version) : std::nullopt)
                    .c_str(),
                created_by, sql::nullable(job).c_str());
            if (cur.empty())
              w.exec_params("INSERT INTO device_config_state (device_id, tenant_id, desired_version) "
                            "VALUES ($1, $2, $3)",
                            cw.device, tenant, next);
            else
              w.exec_params("UPDATE device_config_state SET desired_version = $2, updated_at = now() "
                            "WHERE device_id = $1",
                            cw.device, next);
            out.push_back(version_from(r));
          }
          if (out.size() == 1) {
            audit.target = "device:" + out[0].device;
            audit.detail["version"] = out[0].version;
          } else {
            audit.detail["devices"] = out.size();
          }
          return out;
        });
  });
}

awaitable<Outcome<ConfigState>> ConfigRepository::state(core::TenantId tenant, std::string device) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<ConfigState> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(kStateSelect + "WHERE s.device_id = $1 AND s.tenant_id = $2", device, tenant);
    if (r.empty()) return Failure::not_found("'" + device + "' has no configuration yet");
    return state_from(r[0]);
  });
}

awaitable<Page<ConfigVersion>> ConfigRepository::versions(core::TenantId tenant, std::string device,
                                                          PageRequest<std::int32_t> page) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<ConfigVersion> rows;
    for (const auto& r : w.exec_params("SELECT " + kVersionColumns +
                                           " FROM device_configs WHERE device_id = $1 AND tenant_id = $2 "
                                           "AND ($3 = 0 OR version < $3) ORDER BY version DESC LIMIT $4",
                                       device, tenant, page.after, static_cast<std::int64_t>(page.limit + 1)))
      rows.push_back(version_from(r));
    return sql::cut_page(std::move(rows), page.limit,
                         [](const ConfigVersion& v) { return std::to_string(v.version); });
  });
}

awaitable<Outcome<ConfigVersion>> ConfigRepository::version(core::TenantId tenant, std::string device,
                                                            std::int32_t version) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<ConfigVersion> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + kVersionColumns +
                                     " FROM device_configs WHERE device_id = $1 AND tenant_id = $2 AND version = $3",
                                 device, tenant, version);
    if (r.empty()) return Failure::not_found("'" + device + "' has no configuration version " + std::to_string(version));
    return version_from(r[0]);
  });
}

awaitable<void> ConfigRepository::mark_published(std::string device, std::int32_t version) {
  co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    w.exec_params("UPDATE device_config_state SET published_version = $2 "
                  "WHERE device_id = $1 AND published_version < $2",
                  device, version);
    w.commit();
    return Done{};
  });
}

awaitable<std::vector<ConfigVersion>> ConfigRepository::unpublished(std::size_t limit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<ConfigVersion> out;
    for (const auto& r : w.exec_params("SELECT c.device_id, c.version, c.config::text, c.schema_type, "
                                       "c.schema_version, c.created_by, " + sql::micros("c.created_at") +
                                       ", c.job_id FROM device_config_state s JOIN device_configs c "
                                       "ON c.device_id = s.device_id AND c.version = s.desired_version "
                                       "WHERE s.published_version < s.desired_version ORDER BY s.updated_at LIMIT $1",
                                       static_cast<std::int64_t>(limit)))
      out.push_back(version_from(r));
    return out;
  });
}

awaitable<ReportOutcome> ConfigRepository::report(std::string device, std::int32_t version,
                                                  std::optional<std::string> error) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    ReportOutcome out;
    const auto r =
        error ? w.exec_params("UPDATE device_config_state SET rejected_version = $2, rejected_error = $3, "
                              "reported_at = now() WHERE device_id = $1 AND desired_version = $2 "
                              "AND (applied_version IS NULL OR applied_version < $2)",
                              device, version, *error)
              : w.exec_params("UPDATE device_config_state SET applied_version = $2, applied_at = now(), "
                              "reported_at = now() WHERE device_id = $1 AND $2 <= desired_version "
                              "AND (applied_version IS NULL OR applied_version < $2)",
                              device, version);
    const auto now = w.exec_params(kStateSelect + "WHERE s.device_id = $1", device);
    w.commit();
    if (now.empty()) return out;  // unknown: the device has no configuration
    out.state = state_from(now[0]);
    out.result = r.affected_rows() == 0 ? ReportResult::stale : error ? ReportResult::rejected : ReportResult::applied;
    return out;
  });
}

awaitable<std::vector<PendingPushItem>> ConfigRepository::pending_push_items(std::vector<std::int64_t> jobs) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<PendingPushItem> out;
    for (const auto& r : w.exec_params(
             "SELECT i.job_id, i.seq, c.version, s.device_id, s.tenant_id, s.desired_version, s.published_version, "
             "s.applied_version, NULL, s.rejected_version, coalesce(s.rejected_error, ''), 'null' "
             "FROM job_items i JOIN device_configs c ON c.job_id = i.job_id AND c.device_id = i.key "
             "JOIN device_config_state s ON s.device_id = c.device_id "
             "WHERE i.job_id = ANY($1::bigint[]) AND i.status = 'pending' ORDER BY i.job_id, i.seq",
             sql::int_array(jobs))) {
      PendingPushItem item;
      item.job = r[0].as<std::int64_t>();
      item.seq = r[1].as<std::int32_t>();
      item.version = r[2].as<std::int32_t>();
      item.state = state_from(r, 3);
      out.push_back(std::move(item));
    }
    return out;
  });
}

}  // namespace peregrine::storage
