#pragma once
/// Shift calendars in PostgreSQL (migrations/0011), always within one
/// tenant. Awaited on the event loop, run on the query pool; every write
/// lands with its audit entry in one transaction.

#include <cstdint>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <peregrine/analytics/oee.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

struct ShiftRow {
  analytics::Shift shift;
  std::int64_t group = 0;  ///< 0: the tenant's calendar
  core::Micros created_at = 0, updated_at = 0;
};

class ShiftRepository {
 public:
  explicit ShiftRepository(QueryPool& pool) : pool_(pool) {}
  /// `group` > 0: that group's shifts; 0: all of the tenant's.
  boost::asio::awaitable<std::vector<ShiftRow>> list(core::TenantId tenant, std::int64_t group);
  boost::asio::awaitable<Outcome<ShiftRow>> get(core::TenantId tenant, std::int64_t id);
  /// Invalid `group` when it is not the tenant's; conflict on `name` within the same calendar.
  boost::asio::awaitable<Outcome<ShiftRow>> create(core::TenantId tenant, ShiftRow row, AuditEntry audit);
  boost::asio::awaitable<Outcome<ShiftRow>> update(core::TenantId tenant, std::int64_t id, ShiftRow row,
                                                   AuditEntry audit);
  boost::asio::awaitable<Outcome<Done>> remove(core::TenantId tenant, std::int64_t id, AuditEntry audit);
  /// The calendar that applies to machines in `groups`: the shifts of those
  /// groups when any has some, else the tenant's own (no group).
  boost::asio::awaitable<std::vector<analytics::Shift>> calendar(core::TenantId tenant,
                                                                 std::vector<std::int64_t> groups);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
