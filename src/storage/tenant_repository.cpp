#include <peregrine/storage/tenant_repository.hpp>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

Tenant tenant_from(const pqxx::row& r) { return {r[0].as<std::int64_t>(), r[1].as<std::string>()}; }

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
    for (const auto& r : w.exec_params("SELECT id, name FROM tenants WHERE id > $1 ORDER BY id LIMIT $2",
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
    const auto r = w.exec_params("SELECT id, name FROM tenants WHERE id = $1", id);
    if (r.empty()) return Failure::not_found(not_found(id));
    return tenant_from(r[0]);
  });
}

awaitable<Outcome<Tenant>> TenantRepository::create(std::string name, AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    return sql::audited<Tenant>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Tenant> {
      const auto r = w.exec_params("INSERT INTO tenants (name) VALUES ($1) RETURNING id, name", name);
      audit.target = "tenant:" + r[0][0].as<std::string>();
      return tenant_from(r[0]);
    });
  });
}

awaitable<Outcome<Tenant>> TenantRepository::rename(std::int64_t id, std::string name,
                                                    AuditEntry audit) {
  co_return co_await pool_.run(Scope::all(), [&](pqxx::connection& c) {
    return sql::audited<Tenant>(c, audit, violations(), [&](pqxx::work& w) -> Outcome<Tenant> {
      const auto r =
          w.exec_params("UPDATE tenants SET name = $1 WHERE id = $2 RETURNING id, name", name, id);
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
