#include <peregrine/storage/alert_repository.hpp>

#include <peregrine/storage/alert_store.hpp>
#include <peregrine/storage/query_pool.hpp>

#include "storage/sql_support.hpp"

namespace peregrine::storage {

using boost::asio::awaitable;

namespace {

const std::string kSelectSql = std::string("SELECT ") + kAlertColumnsSql + " FROM alerts ";

/// `alert_events.kind` (its CHECK constraint names the same kinds).
alerts::EventKind event_kind(const std::string& s) {
  return alerts::parse_event_kind(s).value_or(alerts::EventKind::opened);
}

}  // namespace

awaitable<Page<alerts::Alert>> AlertRepository::list(core::TenantId tenant, AlertFilter filter,
                                                     PageRequest<std::int64_t> page) {
  std::vector<alerts::Alert> rows =
      co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
        pqxx::read_transaction w(c);
        std::string q = kSelectSql + "WHERE tenant_id = " + w.quote(tenant);
        if (filter.state)
          q += " AND state = " + w.quote(std::string(alerts::to_string(*filter.state)));
        if (filter.severity)
          q += " AND severity = " + w.quote(std::string(rules::to_string(*filter.severity)));
        if (!filter.device.empty()) q += " AND device_id = " + w.quote(filter.device);
        if (page.after > 0) q += " AND id < " + w.quote(page.after);
        q += " ORDER BY id DESC LIMIT " + std::to_string(page.limit + 1);
        std::vector<alerts::Alert> out;
        for (const auto& row : w.exec(q)) out.push_back(alert_from_row(row));
        return out;
      });
  co_return sql::cut_page(std::move(rows), page.limit,
                          [](const alerts::Alert& a) { return std::to_string(a.id); });
}

awaitable<Outcome<AlertDetail>> AlertRepository::get(core::TenantId tenant, alerts::AlertId id) {
  co_return co_await pool_.run(
      Scope::tenant(tenant), [&](pqxx::connection& c) -> Outcome<AlertDetail> {
        pqxx::read_transaction w(c);
        const auto r = w.exec_params(kSelectSql + "WHERE id = $1 AND tenant_id = $2", id, tenant);
        if (r.empty()) return Failure::not_found("no alert " + std::to_string(id));
        AlertDetail out{alert_from_row(r[0]), {}};
        for (const auto& e :
             w.exec_params("SELECT kind, actor, " + sql::micros("at") +
                               ", detail FROM alert_events WHERE alert_id = $1 ORDER BY id",
                           id)) {
          alerts::AlertEvent ev;
          ev.alert_id = id;
          ev.kind = event_kind(e[0].as<std::string>());
          ev.actor = e[1].as<std::string>();
          ev.at = e[2].as<std::int64_t>();
          ev.detail = e[3].as<std::string>();
          out.events.push_back(std::move(ev));
        }
        return out;
      });
}

awaitable<std::optional<alerts::AlertState>> AlertRepository::state_of(core::TenantId tenant,
                                                                       alerts::AlertId id) {
  co_return co_await pool_.run(Scope::tenant(tenant), [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r =
        w.exec_params("SELECT state FROM alerts WHERE id = $1 AND tenant_id = $2", id, tenant);
    return r.empty() ? std::nullopt : alerts::parse_alert_state(r[0][0].as<std::string>());
  });
}

}  // namespace peregrine::storage
