#include <peregrine/storage/command_repository.hpp>

#include <peregrine/storage/alert_store.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "storage/control_rows.hpp"
#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

std::string cursor_of(const commands::Command& c) { return std::to_string(c.created_at) + "_" + c.id; }

}  // namespace

awaitable<Page<commands::Command>> CommandRepository::list(core::TenantId tenant, std::string device,
                                                           PageRequest<std::string> page) {
  std::vector<commands::Command> rows = co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::string q = std::string("SELECT ") + kCommandColumnsSql +
                    " FROM commands WHERE tenant_id = " + w.quote(tenant) + " AND device_id = " + w.quote(device);
    const auto sep = page.after.find('_');
    if (sep != std::string::npos) {
      // Keyset on (created_at, id), newest first; a malformed cursor starts over.
      try {
        const auto at = std::stoll(page.after.substr(0, sep));
        q += " AND (created_at, id::text) < (" + sql::ts_param(1) + ", " + w.quote(page.after.substr(sep + 1)) + ")";
        q += " ORDER BY created_at DESC, id::text DESC LIMIT " + std::to_string(page.limit + 1);
        std::vector<commands::Command> out;
        for (const auto& row : w.exec_params(q, at)) out.push_back(command_from_row(row));
        return out;
      } catch (const std::invalid_argument&) {
      } catch (const std::out_of_range&) {
      }
    }
    q += " ORDER BY created_at DESC, id::text DESC LIMIT " + std::to_string(page.limit + 1);
    std::vector<commands::Command> out;
    for (const auto& row : w.exec(q)) out.push_back(command_from_row(row));
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit, cursor_of);
}

awaitable<Outcome<CommandWithEvents>> CommandRepository::get(core::TenantId tenant, std::string device,
                                                             std::string id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<CommandWithEvents> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(std::string("SELECT ") + kCommandColumnsSql +
                                     " FROM commands WHERE id = $1::uuid AND tenant_id = $2 AND device_id = $3",
                                 id, tenant, device);
    if (r.empty()) return Failure::not_found("no command " + id + " of device '" + device + "'");
    CommandWithEvents out{command_from_row(r[0]), {}};
    for (const auto& row : w.exec_params("SELECT status, " + sql::micros("at") +
                                             ", detail FROM command_events WHERE command_id = $1::uuid ORDER BY id",
                                         id))
      out.events.push_back({id, row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::string>()});
    return out;
  });
}

awaitable<Page<jobs::Job>> CommandRepository::jobs(core::TenantId tenant, JobFilter filter,
                                                   PageRequest<std::int64_t> page) {
  std::vector<jobs::Job> rows = co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::string q = "SELECT " + kJobColumnsSql + " FROM jobs WHERE tenant_id = " + w.quote(tenant);
    if (page.after > 0) q += " AND id < " + w.quote(page.after);
    if (filter.state) q += " AND state = " + w.quote(*filter.state);
    if (filter.kind) q += " AND kind = " + w.quote(*filter.kind);
    q += " ORDER BY id DESC LIMIT " + std::to_string(page.limit + 1);
    std::vector<jobs::Job> out;
    for (const auto& row : w.exec(q)) out.push_back(job_from_row(row));
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit, [](const jobs::Job& j) { return std::to_string(j.id); });
}

awaitable<Outcome<jobs::Job>> CommandRepository::job(core::TenantId tenant, jobs::JobId id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<jobs::Job> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + kJobColumnsSql + " FROM jobs WHERE id = $1 AND tenant_id = $2", id, tenant);
    if (r.empty()) return Failure::not_found("no job " + std::to_string(id));
    return job_from_row(r[0]);
  });
}

awaitable<Page<jobs::JobItem>> CommandRepository::job_items(core::TenantId tenant, jobs::JobId id,
                                                            PageRequest<std::int64_t> page) {
  std::vector<jobs::JobItem> rows = co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<jobs::JobItem> out;
    for (const auto& row : w.exec_params(
             "SELECT i.seq, i.key, i.status, i.detail, coalesce(i.command_id::text, '') FROM job_items i "
             "JOIN jobs j ON j.id = i.job_id WHERE i.job_id = $1 AND j.tenant_id = $2 AND i.seq > $3 "
             "ORDER BY i.seq LIMIT $4",
             id, tenant, page.after, page.limit + 1))
      out.push_back({id, row[0].as<std::int32_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                     row[3].as<std::string>(), row[4].as<std::string>()});
    return out;
  });
  co_return sql::cut_page(std::move(rows), page.limit,
                          [](const jobs::JobItem& i) { return std::to_string(i.seq); });
}

}  // namespace peregrine::storage
