#include <peregrine/storage/tenant_repository.hpp>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

const std::string kColumns =
    "id, name, coalesce((retention->>'raw_days')::int, 0), coalesce((retention->>'rollup_1m_days')::int, 0), "
    "coalesce((retention->>'rollup_1h_days')::int, 0)";

Tenant tenant_from(const pqxx::row& r) {
  return {r[0].as<std::int64_t>(), r[1].as<std::string>(), {r[2].as<int>(), r[3].as<int>(), r[4].as<int>()}};
}

/// The stored form: only the levels the tenant sets.
std::string retention_json(const TenantRetention& t) {
  std::string out = "{";
  for (const auto& [key, days] : {std::pair{"raw_days", t.raw_days}, std::pair{"rollup_1m_days", t.rollup_1m_days},
                                  std::pair{"rollup_1h_days", t.rollup_1h_days}})
    if (days > 0) out += (out.size() > 1 ? ",\"" : "\"") + std::string(key) + "\":" + std::to_string(days);
  return out + "}";
}

std::string not_found(std::int64_t id) { return "no tenant " + std::to_string(id); }

const std::vector<sql::Violation>& violations() {
  static const std::vector<sql::Violation> v = {
      {sql::Violation::Class::unique, "", Failure::conflict("name", "a tenant with this name exists")},
      {sql::Violation::Class::foreign_key, "",
       Failure::conflict("", "the tenant still has users or devices")},
  };
  return v;
}

}  // namespace

awaitable<Page<Tenant>> TenantRepository::list(PageRequest<std::int64_t> page) {
  std::vector<Tenant> rows = co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<Tenant> out;
    for (const auto& r : w.exec_params("SELECT " + kColumns + " FROM tenants WHERE id > $1 ORDER BY id LIMIT $2",
                                       page.after, page.limit + 1))
      out.push_back(tenant_from(r));
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit,
                          [](const Tenant& t) { return std::to_string(t.id); });
}

awaitable<Outcome<Tenant>> TenantRepository::get(std::int64_t id) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) -> Outcome<Tenant> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + kColumns + " FROM tenants WHERE id = $1", id);
    if (r.empty()) return Failure::not_found(not_found(id));
    return tenant_from(r[0]);
  });
}

awaitable<Outcome<Tenant>> TenantRepository::create(std::string name, AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    return sql::audited<Tenant>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Tenant> {
      const auto r = w.exec_params("INSERT INTO tenants (name) VALUES ($1) RETURNING " + kColumns, name);
      audit.target = "tenant:" + r[0][0].as<std::string>();
      return tenant_from(r[0]);
    });
  });
}

awaitable<Outcome<Tenant>> TenantRepository::update(std::int64_t id, std::optional<std::string> name,
                                                    std::optional<TenantRetention> retention, AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    return sql::audited<Tenant>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Tenant> {
      const auto r = w.exec_params("UPDATE tenants SET name = coalesce($1, name), "
                                   "retention = coalesce($2::jsonb, retention) WHERE id = $3 RETURNING " + kColumns,
                                   sql::text_if(name.has_value(), name.value_or("")).c_str(),
                                   sql::text_if(retention.has_value(), retention ? retention_json(*retention) : "")
                                       .c_str(),
                                   id);
      if (r.empty()) return Failure::not_found(not_found(id));
      return tenant_from(r[0]);
    });
  });
}

awaitable<Outcome<Done>> TenantRepository::remove(std::int64_t id, AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    return sql::audited<Done>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Done> {
      if (w.exec_params("DELETE FROM tenants WHERE id = $1", id).affected_rows() == 0)
        return Failure::not_found(not_found(id));
      return Done{};
    });
  });
}

}  // namespace peregrine::storage
