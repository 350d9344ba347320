#include <peregrine/storage/device_repository.hpp>

#include <cmath>

#include <peregrine/auth/secrets.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "storage/group_members.hpp"
#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

const std::string kColumns =
    "id, name, type, lat, lon, metadata::text, " + sql::micros("last_seen") +
    ", online, seq_gaps, (SELECT string_agg(m.group_id::text, ',' ORDER BY m.group_id) "
    "FROM device_group_members m WHERE m.device_id = devices.id)";

DeviceRow device_from(const pqxx::row& r) {
  DeviceRow d;
  d.id = r[0].as<std::string>();
  d.name = r[1].as<std::string>();
  d.type = r[2].as<std::string>();
  if (!r[3].is_null() && !r[4].is_null()) d.location = LatLon{r[3].as<double>(), r[4].as<double>()};
  d.metadata = nlohmann::json::parse(r[5].as<std::string>());
  if (!r[6].is_null()) d.last_seen = r[6].as<std::int64_t>();
  d.online = r[7].as<bool>();
  d.seq_gaps = r[8].as<std::int64_t>();
  d.group_ids = sql::parse_int_list(r[9]);
  return d;
}

std::string not_persisted(const std::string& id) {
  return "device '" + id + "' not yet persisted";
}

const std::vector<sql::Violation>& violations() {
  static const std::vector<sql::Violation> v = {
      {sql::Violation::Class::unique, "", Failure::conflict("id", "device id already taken")},
      {sql::Violation::Class::foreign_key, "", Failure::invalid("tenant_id", "no such tenant")},
  };
  return v;
}

std::vector<auth::BrokerAccount> broker_accounts(pqxx::connection& c) {
  pqxx::read_transaction w(c);
  std::vector<auth::BrokerAccount> out;
  for (const auto& row : w.exec("SELECT id, mqtt_password_hash FROM devices WHERE "
                                "mqtt_password_hash IS NOT NULL ORDER BY id"))
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
  return out;
}

Outcome<Done> insert_device(pqxx::transaction_base& w, core::TenantId tenant, const NewDevice& d,
                            const TokenHashes& token) {
  if (auto f = members::check_groups(w, tenant, d.group_ids)) return *f;
  w.exec_params(
      "INSERT INTO devices (id, tenant_id, name, type, lat, lon, metadata, token_hash, "
      "mqtt_password_hash) VALUES ($1, $2, $3, $4, NULLIF($5, 'NaN'::float8), "
      "NULLIF($6, 'NaN'::float8), $7::jsonb, $8, $9)",
      d.id, tenant, d.name, d.type, d.location ? d.location->lat : NAN,
      d.location ? d.location->lon : NAN, d.metadata.dump(), token.sha256, token.mosquitto);
  if (!d.group_ids.empty()) members::set_device_groups(w, tenant, d.id, d.group_ids);
  return Done{};
}

}  // namespace

awaitable<Page<DeviceRow>> DeviceRepository::list(core::TenantId tenant, DeviceFilter filter,
                                                  PageRequest<std::string> page) {
  std::vector<DeviceRow> rows = co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::string q = "SELECT " + kColumns + " FROM devices WHERE tenant_id = " + w.quote(tenant) +
                    " AND id > " + w.quote(page.after);
    if (!filter.type.empty()) q += " AND type = " + w.quote(filter.type);
    if (filter.group)
      q += " AND id IN (SELECT device_id FROM device_group_members WHERE group_id = " +
           w.quote(*filter.group) + ")";
    if (!filter.text.empty()) {
      const std::string like = w.quote("%" + w.esc_like(filter.text) + "%");
      q += " AND (id ILIKE " + like + " OR name ILIKE " + like + ")";
    }
    if (const auto& b = filter.bbox) {
      q += " AND lon BETWEEN " + w.quote(b->min_lon) + " AND " + w.quote(b->max_lon) +
           " AND lat BETWEEN " + w.quote(b->min_lat) + " AND " + w.quote(b->max_lat);
    }
    q += " ORDER BY id LIMIT " + std::to_string(page.limit + 1);
    std::vector<DeviceRow> out;
    for (const auto& row : w.exec(q)) out.push_back(device_from(row));
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit, [](const DeviceRow& d) { return d.id; });
}

awaitable<Outcome<DeviceRow>> DeviceRepository::get(core::TenantId tenant, std::string id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<DeviceRow> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + kColumns + " FROM devices WHERE id = $1 AND tenant_id = $2",
                                 id, tenant);
    if (r.empty()) return Failure::not_found("no device '" + id + "'");
    return device_from(r[0]);
  });
}

awaitable<Outcome<DeviceRow>> DeviceRepository::update(core::TenantId tenant, std::string id,
                                                       DevicePatch patch, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<DeviceRow>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<DeviceRow> {
      std::string sets;
      auto set = [&](const char* column, const std::string& value) {
        sets += (sets.empty() ? "" : ", ") + std::string(column) + " = " + value;
      };
      if (patch.name) set("name", w.quote(*patch.name));
      if (patch.type) set("type", w.quote(*patch.type));
      if (patch.location) {
        set("lat", *patch.location ? w.quote((*patch.location)->lat) : "NULL");
        set("lon", *patch.location ? w.quote((*patch.location)->lon) : "NULL");
      }
      if (patch.metadata) set("metadata", w.quote(patch.metadata->dump()) + "::jsonb");
      if (sets.empty() && !patch.group_ids) return Failure::bad_input("", "nothing to change");
      if (patch.group_ids)
        if (auto f = members::check_groups(w, tenant, *patch.group_ids)) return *f;
      // A no-op SET when only the groups change, so the row is still locked and returned.
      if (sets.empty()) sets = "name = name";
      const auto r = w.exec("UPDATE devices SET " + sets + " WHERE id = " + w.quote(id) +
                            " AND tenant_id = " + w.quote(tenant) + " RETURNING id");
      if (r.empty()) return Failure::not_persisted(not_persisted(id));
      if (patch.group_ids) members::set_device_groups(w, tenant, id, *patch.group_ids);
      return device_from(w.exec_params1("SELECT " + kColumns + " FROM devices WHERE id = $1", id));
    });
  });
}

awaitable<Outcome<Done>> DeviceRepository::remove(core::TenantId tenant, std::string id,
                                                  AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Done> {
      const auto r = w.exec_params("DELETE FROM devices WHERE id = $1 AND tenant_id = $2", id, tenant);
      if (r.affected_rows() == 0) return Failure::not_persisted(not_persisted(id));
      return Done{};
    });
  });
}

awaitable<Outcome<Done>> DeviceRepository::create(core::TenantId tenant, NewDevice d,
                                                  TokenHashes token, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, violations(),
                              [&](pqxx::work& w) { return insert_device(w, tenant, d, token); });
  });
}

TokenHashes hash_token(const std::string& token) {
  return {auth::sha256_hex(token), auth::mosquitto_hash(token)};
}

awaitable<std::vector<Outcome<Done>>> DeviceRepository::create_many(
    core::TenantId tenant, std::vector<NewDevice> devices, std::vector<std::string> tokens,
    AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    std::vector<TokenHashes> hashes;
    hashes.reserve(tokens.size());
    for (const auto& t : tokens) hashes.push_back(hash_token(t));
    std::vector<Outcome<Done>> out(devices.size());
    pqxx::work w(c);
    for (std::size_t i = 0; i < devices.size(); ++i) {
      try {
        pqxx::subtransaction s(w);
        out[i] = insert_device(s, tenant, devices[i], hashes[i]);
        if (out[i].ok()) s.commit();
      } catch (const pqxx::sql_error& e) {
        const auto f = sql::match_violation(e, violations());
        if (!f) throw;
        out[i] = *f;
      }
    }
    sql::write_audit(w, audit);
    w.commit();
    return out;
  });
}

awaitable<Outcome<Done>> DeviceRepository::set_token(core::TenantId tenant, std::string id,
                                                     TokenHashes token, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Done> {
      const auto r = w.exec_params(
          "UPDATE devices SET token_hash = $1, mqtt_password_hash = $2 WHERE id = $3 AND tenant_id = $4",
          token.sha256, token.mosquitto, id, tenant);
      if (r.affected_rows() == 0) return Failure::not_persisted(not_persisted(id));
      return Done{};
    });
  });
}

awaitable<bool> DeviceRepository::token_matches(Scope scope, std::string id, std::string sha256) {
  co_return co_await pool_.run(scope, [&](pqxx::connection& c) {
    pqxx::nontransaction w(c);
    const auto r = w.exec_params("SELECT token_hash FROM devices WHERE id = $1", id);
    const std::string stored = r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
    return auth::constant_time_equal(stored, sha256) && !stored.empty();
  });
}

awaitable<std::vector<ReadingPoint>> DeviceRepository::readings(core::TenantId tenant, std::string id,
                                                                std::string metric, core::Micros from,
                                                                core::Micros to, std::size_t limit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(
        "SELECT " + sql::micros("r.ts") + ", r.value FROM readings_raw r "
        "WHERE r.series_id = (SELECT id FROM series WHERE device_id = $1 AND metric = $2 "
        "AND tenant_id = $3) AND r.ts >= " + sql::ts_param(4) + " AND r.ts < " + sql::ts_param(5) +
            " ORDER BY r.ts LIMIT $6",
        id, metric, tenant, from, to, limit);
    std::vector<ReadingPoint> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back({row[0].as<std::int64_t>(), row[1].as<double>()});
    return out;
  });
}

awaitable<bool> DeviceRepository::sync_broker_accounts(auth::MqttAccounts& accounts) {
  co_return co_await pool_.run(Scope::all(),
                               [&](pqxx::connection& c) { return accounts.sync(broker_accounts(c)); });
}

std::vector<auth::BrokerAccount> load_broker_accounts(const PgTarget& target) {
  return broker_accounts(*connect(target, Scope::all()));
}

}  // namespace peregrine::storage
