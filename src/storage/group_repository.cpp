#include <peregrine/storage/group_repository.hpp>

#include <algorithm>

#include <peregrine/storage/query_pool.hpp>

#include "storage/group_members.hpp"
#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

const std::string kColumns =
    "g.id, g.name, g.description, " + sql::micros("g.created_at") +
    ", (SELECT count(*) FROM device_group_members m WHERE m.group_id = g.id)";

GroupRow group_from(const pqxx::row& r) {
  GroupRow g;
  g.id = r[0].as<std::int64_t>();
  g.name = r[1].as<std::string>();
  g.description = r[2].as<std::string>();
  g.created_at = r[3].as<std::int64_t>();
  g.device_count = r[4].as<std::int64_t>();
  return g;
}

std::string not_found(GroupId id) { return "no group " + std::to_string(id); }

const std::vector<sql::Violation>& violations() {
  static const std::vector<sql::Violation> v = {
      {sql::Violation::Class::unique, "", Failure::conflict("name", "a group of that name exists")},
      {sql::Violation::Class::foreign_key, "rules_scope_group_fkey",
       Failure::conflict("id", "a rule is scoped to this group: change or delete the rule first")},
  };
  return v;
}

std::vector<std::string> members_of(pqxx::work& w, GroupId id) {
  std::vector<std::string> out;
  for (const auto& row : w.exec_params(
           "SELECT device_id FROM device_group_members WHERE group_id = $1 ORDER BY device_id", id))
    out.push_back(row[0].as<std::string>());
  return out;
}

/// The group's row and members as they are now inside `w`.
GroupRow reread(pqxx::work& w, GroupId id) {
  GroupRow g = group_from(w.exec_params1("SELECT " + kColumns + " FROM device_groups g WHERE g.id = $1", id));
  g.device_ids = members_of(w, id);
  return g;
}

}  // namespace

namespace members {

std::optional<Failure> check_devices(pqxx::transaction_base& w, core::TenantId tenant,
                                     const std::vector<std::string>& ids, const char* field) {
  if (ids.empty()) return std::nullopt;
  std::vector<std::string> found;
  for (const auto& row : w.exec_params("SELECT id FROM devices WHERE tenant_id = $1 AND id = ANY($2::text[])",
                                       tenant, sql::id_array(ids)))
    found.push_back(row[0].as<std::string>());
  for (const auto& id : ids) {
    if (std::find(found.begin(), found.end(), id) == found.end())
      return Failure::invalid(field, "no device '" + id + "'");
  }
  return std::nullopt;
}

std::optional<Failure> check_groups(pqxx::transaction_base& w, core::TenantId tenant,
                                    const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return std::nullopt;
  std::vector<std::int64_t> found;
  for (const auto& row : w.exec_params(
           "SELECT id FROM device_groups WHERE tenant_id = $1 AND id = ANY($2::bigint[])", tenant,
           sql::int_array(ids)))
    found.push_back(row[0].as<std::int64_t>());
  for (const auto id : ids) {
    if (std::find(found.begin(), found.end(), id) == found.end())
      return Failure::invalid("group_ids", "no group " + std::to_string(id));
  }
  return std::nullopt;
}

void set_device_groups(pqxx::transaction_base& w, core::TenantId tenant, const std::string& device,
                       const std::vector<std::int64_t>& groups) {
  w.exec_params("DELETE FROM device_group_members WHERE device_id = $1 AND NOT (group_id = ANY($2::bigint[]))",
                device, sql::int_array(groups));
  if (groups.empty()) return;
  w.exec_params(
      "INSERT INTO device_group_members (group_id, device_id, tenant_id) "
      "SELECT g, $2, $3 FROM unnest($1::bigint[]) AS g ON CONFLICT DO NOTHING",
      sql::int_array(groups), device, tenant);
}

std::vector<std::int64_t> device_groups(pqxx::transaction_base& w, const std::string& device) {
  std::vector<std::int64_t> out;
  for (const auto& row : w.exec_params(
           "SELECT group_id FROM device_group_members WHERE device_id = $1 ORDER BY group_id", device))
    out.push_back(row[0].as<std::int64_t>());
  return out;
}

}  // namespace members

awaitable<Page<GroupRow>> GroupRepository::list(core::TenantId tenant, PageRequest<std::int64_t> page) {
  std::vector<GroupRow> rows = co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<GroupRow> out;
    for (const auto& row : w.exec_params("SELECT " + kColumns +
                                             " FROM device_groups g WHERE g.tenant_id = $1 AND g.id > $2 "
                                             "ORDER BY g.id LIMIT $3",
                                         tenant, page.after, page.limit + 1))
      out.push_back(group_from(row));
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit, [](const GroupRow& g) { return std::to_string(g.id); });
}

awaitable<Outcome<GroupRow>> GroupRepository::get(core::TenantId tenant, GroupId id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<GroupRow> {
    pqxx::work w(c);
    if (w.exec_params("SELECT 1 FROM device_groups WHERE id = $1 AND tenant_id = $2", id, tenant).empty())
      return Failure::not_found(not_found(id));
    return reread(w, id);
  });
}

awaitable<Outcome<Membership>> GroupRepository::create(core::TenantId tenant, NewGroup g, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Membership>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Membership> {
      if (auto f = members::check_devices(w, tenant, g.device_ids, "device_ids")) return *f;
      const auto id = w.exec_params1(
                           "INSERT INTO device_groups (tenant_id, name, description) VALUES ($1, $2, $3) RETURNING id",
                           tenant, g.name, g.description)[0]
                          .as<std::int64_t>();
      if (!g.device_ids.empty())
        w.exec_params("INSERT INTO device_group_members (group_id, device_id, tenant_id) "
                      "SELECT $1, d, $3 FROM unnest($2::text[]) AS d ON CONFLICT DO NOTHING",
                      id, sql::id_array(g.device_ids), tenant);
      audit.target = "group:" + std::to_string(id);
      Membership out{reread(w, id), {}, {}};
      out.joined = out.group.device_ids;
      return out;
    });
  });
}

awaitable<Outcome<Membership>> GroupRepository::update(core::TenantId tenant, GroupId id, GroupPatch p,
                                                       AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Membership>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Membership> {
      if (w.exec_params("SELECT 1 FROM device_groups WHERE id = $1 AND tenant_id = $2 FOR UPDATE", id, tenant)
              .empty())
        return Failure::not_found(not_found(id));
      const std::vector<std::string> before = members_of(w, id);
      if (p.device_ids)
        if (auto f = members::check_devices(w, tenant, *p.device_ids, "device_ids")) return *f;
      if (auto f = members::check_devices(w, tenant, p.add, "add")) return *f;
      if (p.name) w.exec_params("UPDATE device_groups SET name = $2 WHERE id = $1", id, *p.name);
      if (p.description) w.exec_params("UPDATE device_groups SET description = $2 WHERE id = $1", id, *p.description);
      if (p.device_ids)
        w.exec_params("DELETE FROM device_group_members WHERE group_id = $1 AND NOT (device_id = ANY($2::text[]))",
                      id, sql::id_array(*p.device_ids));
      std::vector<std::string> add = p.add;
      if (p.device_ids) add.insert(add.end(), p.device_ids->begin(), p.device_ids->end());
      if (!add.empty())
        w.exec_params("INSERT INTO device_group_members (group_id, device_id, tenant_id) "
                      "SELECT $1, d, $3 FROM unnest($2::text[]) AS d ON CONFLICT DO NOTHING",
                      id, sql::id_array(add), tenant);
      if (!p.remove.empty())
        w.exec_params("DELETE FROM device_group_members WHERE group_id = $1 AND device_id = ANY($2::text[])", id,
                      sql::id_array(p.remove));
      Membership out{reread(w, id), {}, {}};
      const auto& after = out.group.device_ids;  // both sorted by device_id
      std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(out.joined));
      std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(out.left));
      return out;
    });
  });
}

awaitable<Outcome<Membership>> GroupRepository::remove(core::TenantId tenant, GroupId id, AuditEntry audit) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    return sql::audited<Membership>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Membership> {
      if (w.exec_params("SELECT 1 FROM device_groups WHERE id = $1 AND tenant_id = $2", id, tenant).empty())
        return Failure::not_found(not_found(id));
      // The foreign key keeps scopes; a command action's target is inside
      // the actions JSON.
      const auto users = w.exec_params(
          "SELECT id FROM rules WHERE tenant_id = $2 AND jsonb_path_exists(actions, "
          "'strict $.**.target.group ? (@ == $g)', jsonb_build_object('g', $1::bigint)) ORDER BY id LIMIT 1",
          id, tenant);
      if (!users.empty())
        return Failure::conflict("id", "rule " + users[0][0].as<std::string>() +
                                           " sends commands to this group: change or delete the rule first");
      Membership out{reread(w, id), {}, {}};
      out.left = out.group.device_ids;
      w.exec_params("DELETE FROM device_groups WHERE id = $1", id);
      return out;
    });
  });
}

awaitable<std::vector<GroupId>> GroupRepository::missing(core::TenantId tenant, std::vector<GroupId> ids) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::work w(c);
    std::vector<GroupId> out;
    for (const auto& row : w.exec_params(
             "SELECT g FROM unnest($2::bigint[]) AS g WHERE NOT EXISTS "
             "(SELECT 1 FROM device_groups d WHERE d.id = g AND d.tenant_id = $1)",
             tenant, sql::int_array(ids)))
      out.push_back(row[0].as<std::int64_t>());
    return out;
  });
}

}  // namespace peregrine::storage
