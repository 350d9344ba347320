#pragma once
/// Device groups and their members in PostgreSQL (`device_groups`,
/// `device_group_members`, migrations/0008), always within one tenant. The
/// registry on the loop holds each device's group ids too: handlers apply a
/// membership change to it after the write committed. Methods are awaited on
/// the event loop and run on the query pool; every write lands with its
/// audit entry in one transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

using GroupId = std::int64_t;

struct GroupRow {
  GroupId id = 0;
  std::string name, description;
  std::int64_t device_count = 0;
  core::Micros created_at = 0;
  std::vector<std::string> device_ids;  ///< filled by get() only
};

struct NewGroup {
  std::string name, description;
  std::vector<std::string> device_ids;
};

/// A PATCH: set members change; `device_ids` replaces the members, `add`
/// and `remove` change them (applied after `device_ids`).
struct GroupPatch {
  std::optional<std::string> name, description;
  std::optional<std::vector<std::string>> device_ids;
  std::vector<std::string> add, remove;
};

/// Who is in a group after a change, and who joined or left (for the registry).
struct Membership {
  GroupRow group;
  std::vector<std::string> joined, left;
};

class GroupRepository {
 public:
  explicit GroupRepository(QueryPool& pool) : pool_(pool) {}

  /// The tenant's groups by id, after `page.after`, with their device counts.
  boost::asio::awaitable<Page<GroupRow>> list(core::TenantId tenant, PageRequest<std::int64_t> page);
  /// With its members. Not found also for another tenant's group.
  boost::asio::awaitable<Outcome<GroupRow>> get(core::TenantId tenant, GroupId id);
  /// Conflict on `name` when the tenant has a group of that name; invalid
  /// `device_ids` naming the first device that is not the tenant's.
  boost::asio::awaitable<Outcome<Membership>> create(core::TenantId tenant, NewGroup group,
                                                     AuditEntry audit);
  boost::asio::awaitable<Outcome<Membership>> update(core::TenantId tenant, GroupId id,
                                                     GroupPatch patch, AuditEntry audit);
  /// Conflict while a rule is scoped to the group. Returns its former members.
  boost::asio::awaitable<Outcome<Membership>> remove(core::TenantId tenant, GroupId id,
                                                     AuditEntry audit);
  /// The ids of the tenant's groups among `ids` that do not exist (empty: all exist).
  boost::asio::awaitable<std::vector<GroupId>> missing(core::TenantId tenant,
                                                       std::vector<GroupId> ids);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
