#include <peregrine/storage/response_repository.hpp>

#include <peregrine/storage/query_pool.hpp>

#include "storage/group_members.hpp"
#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

json parse_json(const pqxx::field& f, json fallback) {
  if (f.is_null()) return fallback;
  json j = json::parse(f.c_str(), nullptr, false);
  return j.is_discarded() ? fallback : j;
}

// ---- channels ----

const std::string kChannelColumns = "id, name, type, config::text, secrets::text, " +
                                    sql::micros("created_at") + ", " + sql::micros("updated_at");

ChannelRow channel_from(const pqxx::row& r) {
  ChannelRow c;
  c.id = r[0].as<std::int64_t>();
  c.spec.name = r[1].as<std::string>();
  c.spec.type = r[2].as<std::string>();
  c.spec.config = parse_json(r[3], json::object());
  c.spec.secrets = parse_json(r[4], json::object());
  c.created_at = r[5].as<std::int64_t>();
  c.updated_at = r[6].as<std::int64_t>();
  return c;
}

const std::vector<sql::Violation>& channel_violations() {
  static const std::vector<sql::Violation> v = {
      {sql::Violation::Class::unique, "", Failure::conflict("name", "a channel of that name exists")}};
  return v;
}

std::string no_channel(std::int64_t id) { return "no channel " + std::to_string(id); }

// ---- contacts ----

const std::string kContactColumns =
    "c.id, c.name, c.email, c.phone, c.kind, " + sql::micros("c.created_at") +
    ", (SELECT string_agg(device_id, ',' ORDER BY device_id) FROM contact_devices d WHERE d.contact_id = c.id)"
    ", (SELECT string_agg(group_id::text, ',' ORDER BY group_id) FROM contact_groups g WHERE g.contact_id = c.id)";

Contact contact_from(const pqxx::row& r) {
  Contact c;
  c.id = r[0].as<std::int64_t>();
  c.name = r[1].as<std::string>();
  if (!r[2].is_null()) c.email = r[2].as<std::string>();
  if (!r[3].is_null()) c.phone = r[3].as<std::string>();
  c.kind = r[4].as<std::string>();
  c.created_at = r[5].as<std::int64_t>();
  if (!r[6].is_null()) {
    const std::string s = r[6].as<std::string>();
    std::size_t at = 0;
    while (at <= s.size()) {
      const std::size_t comma = s.find(',', at);
      c.device_ids.push_back(s.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  }
  c.group_ids = sql::parse_int_list(r[7]);
  return c;
}

Contact reread_contact(pqxx::transaction_base& w, std::int64_t id) {
  return contact_from(w.exec_params1("SELECT " + kContactColumns + " FROM contacts c WHERE c.id = $1", id));
}

std::optional<Failure> write_links(pqxx::work& w, core::TenantId tenant, std::int64_t id, const Contact& c) {
  if (auto f = members::check_devices(w, tenant, c.device_ids, "device_ids")) return f;
  if (auto f = members::check_groups(w, tenant, c.group_ids)) return f;
  w.exec_params("DELETE FROM contact_devices WHERE contact_id = $1", id);
  w.exec_params("DELETE FROM contact_groups WHERE contact_id = $1", id);
  if (!c.device_ids.empty())
    w.exec_params("INSERT INTO contact_devices (contact_id, device_id, tenant_id) "
                  "SELECT $1, d, $3 FROM unnest($2::text[]) AS d",
                  id, sql::id_array(c.device_ids), tenant);
  if (!c.group_ids.empty())
    w.exec_params("INSERT INTO contact_groups (contact_id, group_id, tenant_id) "
                  "SELECT $1, g, $3 FROM unnest($2::bigint[]) AS g",
                  id, sql::int_array(c.group_ids), tenant);
  return std::nullopt;
}

// ---- silences ----

const std::string kSilenceColumns = "id, tenant_id, device_id, group_id, rule_id, " + sql::micros("starts_at") +
                                    ", " + sql::micros("ends_at") + ", reason, created_by, " +
                                    sql::micros("created_at");

SilenceRow silence_from(const pqxx::row& r) {
  SilenceRow s;
  s.silence.id = r[0].as<std::int64_t>();
  s.silence.tenant = r[1].as<std::int64_t>();
  if (!r[2].is_null()) s.silence.device = r[2].as<std::string>();
  if (!r[3].is_null()) s.silence.group = r[3].as<std::int64_t>();
  if (!r[4].is_null()) s.silence.rule = r[4].as<std::int64_t>();
  s.silence.from = r[5].as<std::int64_t>();
  s.silence.to = r[6].as<std::int64_t>();
  s.reason = r[7].as<std::string>();
  s.created_by = r[8].as<std::string>();
  s.created_at = r[9].as<std::int64_t>();
  return s;
}

const std::vector<sql::Violation>& silence_violations() {
  static const std::vector<sql::Violation> v = {
      {sql::Violation::Class::foreign_key, "silences_group_id_fkey", Failure::invalid("group", "no such group")},
      {sql::Violation::Class::foreign_key, "silences_rule_id_fkey", Failure::invalid("rule", "no such rule")},
  };
  return v;
}

}  // namespace

// ---- ChannelRepository ----

awaitable<std::vector<ChannelRow>> ChannelRepository::list(core::TenantId tenant) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<ChannelRow> out;
    for (const auto& r :
         w.exec_params("SELECT " + kChannelColumns + " FROM channels WHERE tenant_id = $1 ORDER BY id", tenant))
      out.push_back(channel_from(r));
    return out;
  });
}

awaitable<Outcome<ChannelRow>> ChannelRepository::get(core::TenantId tenant, std::int64_t id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<ChannelRow> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + kChannelColumns + " FROM channels WHERE id = $1 AND tenant_id = $2",
                                 id, tenant);
    if (r.empty()) return Failure::not_found(no_channel(id));
    return channel_from(r[0]);
  });
}

awaitable<Outcome<ChannelRow>> ChannelRepository::create(core::TenantId tenant, notifications::ChannelSpec spec,
                                                         AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<ChannelRow>(c, audit, channel_violations(), [&](pqxx::work& w) -> Outcome<ChannelRow> {
      const auto r = w.exec_params1("INSERT INTO channels (tenant_id, name, type, config, secrets) "
                                    "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb) RETURNING " +
                                        kChannelColumns,
                                    tenant, spec.name, spec.type, spec.config.dump(), spec.secrets.dump());
      ChannelRow row = channel_from(r);
      audit.target = "channel:" + std::to_string(row.id);
      return row;
    });
  });
}

awaitable<Outcome<ChannelRow>> ChannelRepository::update(core::TenantId tenant, std::int64_t id,
                                                         notifications::ChannelSpec spec, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<ChannelRow>(c, audit, channel_violations(), [&](pqxx::work& w) -> Outcome<ChannelRow> {
      const auto r = w.exec_params(
          "UPDATE channels SET name = $3, config = $4::jsonb, secrets = $5::jsonb, updated_at = now() "
          "WHERE id = $1 AND tenant_id = $2 RETURNING " +
              kChannelColumns,
          id, tenant, spec.name, spec.config.dump(), spec.secrets.dump());
      if (r.empty()) return Failure::not_found(no_channel(id));
      return channel_from(r[0]);
    });
  });
}

awaitable<Outcome<Done>> ChannelRepository::remove(core::TenantId tenant, std::int64_t id, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, {}, [&](pqxx::work& w) -> Outcome<Done> {
      const auto users = w.exec_params(
          "SELECT id FROM rules WHERE tenant_id = $2 AND jsonb_path_exists(actions, "
          "'strict $.** ? (@.type == \"notify\" && @.channel == $c)', jsonb_build_object('c', $1::bigint)) "
          "ORDER BY id LIMIT 1",
          id, tenant);
      if (!users.empty())
        return Failure::conflict("id", "rule " + users[0][0].as<std::string>() +
                                           " notifies through this channel: change or delete the rule first");
      if (w.exec_params("DELETE FROM channels WHERE id = $1 AND tenant_id = $2", id, tenant).affected_rows() == 0)
        return Failure::not_found(no_channel(id));
      return Done{};
    });
  });
}

awaitable<std::vector<std::int64_t>> ChannelRepository::missing(core::TenantId tenant,
                                                                std::vector<std::int64_t> ids) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<std::int64_t> out;
    for (const auto& r : w.exec_params("SELECT i FROM unnest($1::bigint[]) AS i WHERE NOT EXISTS "
                                       "(SELECT 1 FROM channels WHERE id = i AND tenant_id = $2) ORDER BY i",
                                       sql::int_array(ids), tenant))
      out.push_back(r[0].as<std::int64_t>());
    return out;
  });
}

// ---- ContactRepository ----

awaitable<std::vector<Contact>> ContactRepository::list(core::TenantId tenant, std::string device,
                                                        std::int64_t group) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::string q = "SELECT " + kContactColumns + " FROM contacts c WHERE c.tenant_id = " + w.quote(tenant);
    if (!device.empty())
      q += " AND (EXISTS (SELECT 1 FROM contact_devices d WHERE d.contact_id = c.id AND d.device_id = " +
           w.quote(device) +
           ") OR EXISTS (SELECT 1 FROM contact_groups g JOIN device_group_members m ON m.group_id = g.group_id "
           "WHERE g.contact_id = c.id AND m.device_id = " +
           w.quote(device) + "))";
    if (group > 0)
      q += " AND EXISTS (SELECT 1 FROM contact_groups g WHERE g.contact_id = c.id AND g.group_id = " +
           w.quote(group) + ")";
    std::vector<Contact> out;
    for (const auto& r : w.exec(q + " ORDER BY c.id LIMIT 10000")) out.push_back(contact_from(r));
    return out;
  });
}

awaitable<Outcome<Contact>> ContactRepository::get(core::TenantId tenant, std::int64_t id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<Contact> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + kContactColumns + " FROM contacts c WHERE c.id = $1 AND c.tenant_id = $2",
                                 id, tenant);
    if (r.empty()) return Failure::not_found("no contact " + std::to_string(id));
    return contact_from(r[0]);
  });
}

awaitable<Outcome<Contact>> ContactRepository::create(core::TenantId tenant, Contact ct, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Contact>(c, audit, {}, [&](pqxx::work& w) -> Outcome<Contact> {
      const auto id = w.exec_params1("INSERT INTO contacts (tenant_id, name, email, phone, kind) "
                                     "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                     tenant, ct.name, ct.email ? ct.email->c_str() : nullptr,
                                     ct.phone ? ct.phone->c_str() : nullptr, ct.kind)[0]
                          .as<std::int64_t>();
      if (auto f = write_links(w, tenant, id, ct)) return *f;
      audit.target = "contact:" + std::to_string(id);
      return reread_contact(w, id);
    });
  });
}

awaitable<Outcome<Contact>> ContactRepository::update(core::TenantId tenant, std::int64_t id, Contact ct,
                                                      AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Contact>(c, audit, {}, [&](pqxx::work& w) -> Outcome<Contact> {
      const auto r = w.exec_params("UPDATE contacts SET name = $3, email = $4, phone = $5, kind = $6 "
                                   "WHERE id = $1 AND tenant_id = $2",
                                   id, tenant, ct.name, ct.email ? ct.email->c_str() : nullptr,
                                   ct.phone ? ct.phone->c_str() : nullptr, ct.kind);
      if (r.affected_rows() == 0) return Failure::not_found("no contact " + std::to_string(id));
      if (auto f = write_links(w, tenant, id, ct)) return *f;
      return reread_contact(w, id);
    });
  });
}

awaitable<Outcome<Done>> ContactRepository::remove(core::TenantId tenant, std::int64_t id, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, {}, [&](pqxx::work& w) -> Outcome<Done> {
      const auto users = w.exec_params(
          "SELECT id FROM rules WHERE tenant_id = $2 AND jsonb_path_exists(actions, "
          "'strict $.** ? (@.type == \"notify\" && exists(@.contacts[*] ? (@ == $c)))', "
          "jsonb_build_object('c', $1::bigint)) ORDER BY id LIMIT 1",
          id, tenant);
      if (!users.empty())
        return Failure::conflict("id", "rule " + users[0][0].as<std::string>() +
                                           " notifies this contact by id: change or delete the rule first");
      if (w.exec_params("DELETE FROM contacts WHERE id = $1 AND tenant_id = $2", id, tenant).affected_rows() == 0)
        return Failure::not_found("no contact " + std::to_string(id));
      return Done{};
    });
  });
}

// ---- SilenceRepository ----

awaitable<std::vector<SilenceRow>> SilenceRepository::list(core::TenantId tenant,
                                                           std::optional<core::Micros> active_at) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::string q = "SELECT " + kSilenceColumns + " FROM silences WHERE tenant_id = " + w.quote(tenant);
    if (active_at)
      q += " AND starts_at <= " + sql::ts_literal(*active_at) + " AND ends_at > " + sql::ts_literal(*active_at);
    std::vector<SilenceRow> out;
    for (const auto& r : w.exec(q + " ORDER BY id DESC LIMIT 1000")) out.push_back(silence_from(r));
    return out;
  });
}

awaitable<Outcome<SilenceRow>> SilenceRepository::create(core::TenantId tenant, SilenceRow row, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<SilenceRow>(c, audit, silence_violations(), [&](pqxx::work& w) -> Outcome<SilenceRow> {
      const notifications::Silence& s = row.silence;
      if (!s.device.empty()) {
        if (auto f = members::check_devices(w, tenant, {s.device}, "device")) return *f;
      }
      if (s.group != 0 && w.exec_params("SELECT 1 FROM device_groups WHERE id = $1 AND tenant_id = $2", s.group,
                                        tenant).empty())
        return Failure::invalid("group", "no group " + std::to_string(s.group));
      if (s.rule != 0 &&
          w.exec_params("SELECT 1 FROM rules WHERE id = $1 AND tenant_id = $2", s.rule, tenant).empty())
        return Failure::invalid("rule", "no rule " + std::to_string(s.rule));
      const auto r = w.exec_params1(
          "INSERT INTO silences (tenant_id, device_id, group_id, rule_id, starts_at, ends_at, reason, created_by) "
          "VALUES ($1, $2, $3, $4, " + sql::ts_param(5) + ", " + sql::ts_param(6) + ", $7, $8) RETURNING " +
              kSilenceColumns,
          tenant, s.device.empty() ? nullptr : s.device.c_str(), sql::nullable_id(s.group).c_str(),
          sql::nullable_id(s.rule).c_str(), s.from, s.to, row.reason, row.created_by);
      SilenceRow out = silence_from(r);
      audit.target = "silence:" + std::to_string(out.silence.id);
      return out;
    });
  });
}

awaitable<Outcome<Done>> SilenceRepository::remove(core::TenantId tenant, std::int64_t id, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, {}, [&](pqxx::work& w) -> Outcome<Done> {
      if (w.exec_params("DELETE FROM silences WHERE id = $1 AND tenant_id = $2", id, tenant).affected_rows() == 0)
        return Failure::not_found("no silence " + std::to_string(id));
      return Done{};
    });
  });
}

std::vector<notifications::Silence> load_silences(const PgTarget& target) {
  auto conn = connect(target, Scope::all());
  pqxx::read_transaction w(*conn);
  std::vector<notifications::Silence> out;
  for (const auto& r : w.exec("SELECT " + kSilenceColumns + " FROM silences WHERE ends_at > now()"))
    out.push_back(silence_from(r).silence);
  return out;
}

// ---- NotificationRepository ----

awaitable<json> NotificationRepository::of_alert(core::TenantId tenant, std::int64_t alert_id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(
        "SELECT coalesce(jsonb_agg(jsonb_build_object("
        "  'id', id, 'alert_id', alert_id, 'event', event, 'channel_id', channel_id, "
        "  'channel_name', channel_name, 'channel_type', channel_type, 'contact_id', contact_id, "
        "  'contact_name', contact_name, 'to', to_address, 'status', status, 'attempts', attempts, "
        "  'last_error', last_error, 'reminder', reminder, "
        "  'due_at', to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
        "  'sent_at', to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
        "  'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) "
        "  ORDER BY created_at, due_at, id), '[]')::text "
        "FROM notifications WHERE alert_id = $1 AND tenant_id = $2",
        alert_id, tenant);
    return json::parse(r[0][0].as<std::string>());
  });
}

}  // namespace peregrine::storage
