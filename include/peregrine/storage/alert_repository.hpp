#pragma once
/// The REST reads of alerts (`alerts`, `alert_events`), always within one
/// tenant. Rows are written by AlertStore behind the alert manager, so an
/// open alert's row may lag the manager's in-memory state: handlers overlay
/// it. Methods are awaited on the event loop and run on the query pool.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <peregrine/alerts/alert.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/rules/rule.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

struct AlertFilter {
  std::optional<alerts::AlertState> state;  ///< nullopt: any
  std::optional<rules::Severity> severity;  ///< nullopt: any
  std::string device;                       ///< empty: any
};

/// An alert with its lifecycle events, oldest first.
struct AlertDetail {
  alerts::Alert alert;
  std::vector<alerts::AlertEvent> events;  ///< kind, actor, at, detail (and alert_id)
};

class AlertRepository {
 public:
  explicit AlertRepository(QueryPool& pool) : pool_(pool) {}

  /// Newest first (by id); `page.after` is the id to continue below (0: from the newest).
  boost::asio::awaitable<Page<alerts::Alert>> list(core::TenantId tenant, AlertFilter filter,
                                                   PageRequest<std::int64_t> page);
  /// Not found also for another tenant's alert, or one not yet written.
  boost::asio::awaitable<Outcome<AlertDetail>> get(core::TenantId tenant, alerts::AlertId id);
  /// The stored state of the tenant's alert `id`; nullopt when there is none.
  boost::asio::awaitable<std::optional<alerts::AlertState>> state_of(core::TenantId tenant,
                                                                     alerts::AlertId id);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
