#include <peregrine/storage/audit_repository.hpp>

#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

boost::asio::awaitable<Page<AuditRecord>> AuditRepository::list(const AuditFilter& filter,
                                                                PageRequest<std::int64_t> page) {
  const Scope scope = filter.tenant ? Scope::tenant(*filter.tenant) : Scope::all();
  std::vector<AuditRecord> rows = co_await pool_.run(scope, [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<AuditRecord> out;
    for (const auto& r : w.exec_params(
             "SELECT id, " + sql::micros("at") +
                 ", tenant_id, actor_id, actor_email, action, target, detail::text, remote "
                 "FROM audit_log WHERE ($1::bigint = 0 OR id < $1) "
                 "AND ($2::bigint = 0 OR tenant_id = $2) AND ($3 = '' OR action = $3) "
                 "ORDER BY id DESC LIMIT $4",
             page.after, filter.tenant.value_or(0), filter.action, page.limit + 1)) {
      AuditRecord rec;
      rec.id = r[0].as<std::int64_t>();
      rec.at_us = r[1].as<std::int64_t>();
      if (!r[2].is_null()) rec.entry.tenant = r[2].as<std::int64_t>();
      if (!r[3].is_null()) rec.entry.actor_id = r[3].as<std::int64_t>();
      rec.entry.actor_email = r[4].as<std::string>();
      rec.entry.action = r[5].as<std::string>();
      rec.entry.target = r[6].as<std::string>();
      rec.entry.detail = nlohmann::json::parse(r[7].as<std::string>());
      rec.entry.remote = r[8].as<std::string>();
      out.push_back(std::move(rec));
    }
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit,
                          [](const AuditRecord& r) { return std::to_string(r.id); });
}

boost::asio::awaitable<void> AuditRepository::record(AuditEntry entry) {
  const std::optional<std::int64_t> tenant = entry.tenant;
  co_await pool_.run(tenant ? Scope::tenant(*tenant) : Scope::all(), [&](pqxx::connection& c) {
    pqxx::work w(c);
    sql::write_audit(w, entry);
    w.commit();
    return true;
  });
}

}  // namespace peregrine::storage
