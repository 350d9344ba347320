#pragma once
/// The audit log (`audit_log`): entries are written by the other
/// repositories inside the transaction of the change they record
/// (sql_support.hpp `audited`); this reads them back, newest first. Methods
/// are awaited on the event loop and run on the query pool.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/storage/outcome.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

class QueryPool;

/// Who did what to which target. `tenant` empty: tied to no tenant (a
/// superadmin's cross-tenant action, a failed login).
struct AuditEntry {
  std::optional<std::int64_t> tenant;
  std::optional<std::int64_t> actor_id;
  std::string actor_email;
  std::string action;  ///< e.g. "login.success", "user.create"
  std::string target;  ///< e.g. "user:12", "device:d1"
  nlohmann::json detail = nlohmann::json::object();
  std::string remote;
};

struct AuditRecord {
  std::int64_t id = 0;
  std::int64_t at_us = 0;
  AuditEntry entry;
};

struct AuditFilter {
  std::optional<std::int64_t> tenant;  ///< nullopt: every tenant (superadmin)
  std::string action;                  ///< empty: any
};

class AuditRepository {
 public:
  explicit AuditRepository(QueryPool& pool) : pool_(pool) {}

  /// Newest first; `page.after` is the id to continue below (0: from the newest).
  boost::asio::awaitable<Page<AuditRecord>> list(const AuditFilter& filter,
                                                 PageRequest<std::int64_t> page);
  /// Appends one entry, for an action whose effect is not a row of its own
  /// transaction (a command sent, a job cancelled).
  boost::asio::awaitable<void> record(AuditEntry entry);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
