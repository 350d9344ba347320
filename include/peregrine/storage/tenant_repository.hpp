#pragma once
/// Tenants (superadmin work, so every call reads across tenants). Methods are
/// awaited on the event loop and run on the query pool; each write lands
/// with its audit entry in one transaction.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

/// A tenant's own retention in whole days per level; 0 = the server's.
struct TenantRetention {
  int raw_days = 0;
  int rollup_1m_days = 0;
  int rollup_1h_days = 0;
};

struct Tenant {
  std::int64_t id = 0;
  std::string name;
  TenantRetention retention;
};

class TenantRepository {
 public:
  explicit TenantRepository(QueryPool& pool) : pool_(pool) {}

  boost::asio::awaitable<Page<Tenant>> list(PageRequest<std::int64_t> page);
  boost::asio::awaitable<Outcome<Tenant>> get(std::int64_t id);
  /// Conflict on `name` when taken.
  boost::asio::awaitable<Outcome<Tenant>> create(std::string name, AuditEntry audit);
  /// Sets what is given. Not found, or conflict on `name`.
  boost::asio::awaitable<Outcome<Tenant>> update(std::int64_t id, std::optional<std::string> name,
                                                 std::optional<TenantRetention> retention, AuditEntry audit);
  /// Not found, or conflict while users or devices still belong to it.
  boost::asio::awaitable<Outcome<Done>> remove(std::int64_t id, AuditEntry audit);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
