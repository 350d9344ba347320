#pragma once
/// Device configuration in PostgreSQL (migrations/0015): schemas per device
/// type (versioned), immutable configuration versions per device, and each
/// device's desired / published / applied state. Awaited on the event loop,
/// run on the query pool; every write an operator makes lands with its
/// audit entry in one transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

struct SchemaRow {
  std::string type;
  std::int32_t version = 0;
  nlohmann::json schema;
  std::string created_by;
  core::Micros created_at = 0;
};

struct TypeSummary {
  std::string type;
  std::int32_t schema_version = 0;  ///< 0: no schema yet
  std::int64_t devices = 0;
};

struct ConfigVersion {
  std::string device;
  std::int32_t version = 0;
  nlohmann::json config;
  std::string schema_type;
  std::optional<std::int32_t> schema_version;
  std::string created_by;
  core::Micros created_at = 0;
  std::optional<std::int64_t> job;
};

/// Where a device stands. `state`: in_sync (applied the desired version),
/// rejected (the device refused the desired version), pending (otherwise).
struct ConfigState {
  std::string device;
  core::TenantId tenant = core::kDefaultTenant;
  std::int32_t desired_version = 0;
  std::int32_t published_version = 0;
  std::optional<std::int32_t> applied_version;
  std::optional<core::Micros> applied_at;
  std::optional<std::int32_t> rejected_version;
  std::string rejected_error;
  nlohmann::json config;  ///< the desired version's
  std::string state() const;
};

/// One configuration to write: `if_version` (optimistic locking) is the
/// desired version the writer saw, 0 for "none yet"; nullopt to not check.
struct ConfigWrite {
  std::string device;
  nlohmann::json config;
  std::optional<std::int32_t> if_version;
  std::string schema_type;
  std::optional<std::int32_t> schema_version;
};

/// What a device's report did.
enum class ReportResult { applied, rejected, stale, unknown };

struct ReportOutcome {
  ReportResult result = ReportResult::unknown;
  std::optional<ConfigState> state;  ///< after the report, when the device has a configuration
};

/// An item of a group push still waiting for its device's report.
struct PendingPushItem {
  std::int64_t job = 0;
  std::int32_t seq = 0;
  std::int32_t version = 0;
  ConfigState state;  ///< without `config`
};

class ConfigRepository {
 public:
  explicit ConfigRepository(QueryPool& pool) : pool_(pool) {}

  /// Stores a new version of the type's schema.
  boost::asio::awaitable<Outcome<SchemaRow>> put_schema(core::TenantId tenant, std::string type,
                                                        nlohmann::json schema, std::string created_by,
                                                        AuditEntry audit);
  /// The newest schema of the type (`version` 0), or that version.
  boost::asio::awaitable<std::optional<SchemaRow>> schema(core::TenantId tenant, std::string type,
                                                          std::int32_t version = 0);
  /// Every type that has a schema or a device, with its newest schema version.
  boost::asio::awaitable<std::vector<TypeSummary>> types(core::TenantId tenant);
  /// Every schema version of a type, newest first.
  boost::asio::awaitable<std::vector<SchemaRow>> schema_versions(core::TenantId tenant, std::string type);
  /// The desired configurations of the tenant's devices of `type`.
  boost::asio::awaitable<std::vector<ConfigState>> desired_of_type(core::TenantId tenant, std::string type);

  /// Writes one new version per entry, all or none, in one transaction with
  /// `audit`: conflict (field `if_version`) when an entry's `if_version` is
  /// not the device's desired version, or when another writer took the
  /// same version first; invalid (field `device`) when a device is not
  /// stored. Returns the new versions in the order given.
  boost::asio::awaitable<Outcome<std::vector<ConfigVersion>>> write(core::TenantId tenant,
                                                                    std::vector<ConfigWrite> writes,
                                                                    std::string created_by,
                                                                    std::optional<std::int64_t> job,
                                                                    AuditEntry audit);
  boost::asio::awaitable<Outcome<ConfigState>> state(core::TenantId tenant, std::string device);
  /// Newest first, `page.after` the version to continue below (0: newest).
  boost::asio::awaitable<Page<ConfigVersion>> versions(core::TenantId tenant, std::string device,
                                                       PageRequest<std::int32_t> page);
  boost::asio::awaitable<Outcome<ConfigVersion>> version(core::TenantId tenant, std::string device,
                                                         std::int32_t version);

  /// The broker took `version` as the device's retained message.
  boost::asio::awaitable<void> mark_published(std::string device, std::int32_t version);
  /// Desired versions the broker has not taken yet (any tenant), oldest
  /// change first, at most `limit`.
  boost::asio::awaitable<std::vector<ConfigVersion>> unpublished(std::size_t limit);
  /// A device's `config/applied` report: applied when `version` is newer
  /// than what it applied and not newer than desired; rejected when it
  /// names an error for the desired version; stale otherwise.
  boost::asio::awaitable<ReportOutcome> report(std::string device, std::int32_t version,
                                               std::optional<std::string> error);

  /// The items of the group pushes `jobs` still pending: per device the
  /// version that job wrote and where the device stands now.
  boost::asio::awaitable<std::vector<PendingPushItem>> pending_push_items(std::vector<std::int64_t> jobs);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
