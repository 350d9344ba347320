#pragma once
/// Devices in PostgreSQL: their metadata, credentials (only hashes of the
/// token are stored), broker accounts and raw readings. The in-memory
/// devices::Registry on the loop is ahead of these rows for presence and
/// sequence bookkeeping; handlers overlay it. Methods are awaited on the
/// event loop and run on the query pool; every write lands with its audit
/// entry in one transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/auth/mqtt_accounts.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

class QueryPool;

struct LatLon {
  double lat = 0, lon = 0;
};

struct DeviceRow {
  std::string id, name, type;
  std::optional<LatLon> location;
  nlohmann::json metadata = nlohmann::json::object();
  std::optional<core::Micros> last_seen;
  bool online = false;
  std::int64_t seq_gaps = 0;
  std::vector<std::int64_t> group_ids;  ///< ascending
};

struct DeviceFilter {
  std::string type;  ///< empty: any
  std::string text;  ///< empty: any; else a case-insensitive substring of id or name
  struct BBox {
    double min_lon, min_lat, max_lon, max_lat;
  };
  std::optional<BBox> bbox;
  std::optional<std::int64_t> group;  ///< members of this group only
};

/// A PATCH: each set member changes, the others stay.
struct DevicePatch {
  std::optional<std::string> name, type;
  std::optional<std::optional<LatLon>> location;  ///< {nullopt}: clear
  std::optional<nlohmann::json> metadata;         ///< an object
  std::optional<std::vector<std::int64_t>> group_ids;  ///< replaces the device's groups
};

struct NewDevice {
  std::string id, name, type;
  std::optional<LatLon> location;
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<std::int64_t> group_ids;
};

/// What is stored of a device token: its SHA-256 (HTTP ingest) and its
/// mosquitto_passwd hash (broker login).
struct TokenHashes {
  std::string sha256;
  std::string mosquitto;
};
/// Both hashes of a raw token (a PBKDF2 of ~0.1 ms: many of them belong off the loop).
TokenHashes hash_token(const std::string& token);

struct ReadingPoint {
  core::Micros ts = 0;
  double value = 0;
};

class DeviceRepository {
 public:
  explicit DeviceRepository(QueryPool& pool) : pool_(pool) {}

  /// Ordered by id, after `page.after`.
  boost::asio::awaitable<Page<DeviceRow>> list(core::TenantId tenant, DeviceFilter filter,
                                               PageRequest<std::string> page);
  /// Not found also for a device the writer has not persisted yet.
  boost::asio::awaitable<Outcome<DeviceRow>> get(core::TenantId tenant, std::string id);
  /// Not persisted when the row is not there (yet); invalid `group_ids`
  /// naming a group the tenant does not have.
  boost::asio::awaitable<Outcome<DeviceRow>> update(core::TenantId tenant, std::string id,
                                                    DevicePatch patch, AuditEntry audit);
  /// Not persisted when the row is not there (yet). Its series and readings go with it.
  boost::asio::awaitable<Outcome<Done>> remove(core::TenantId tenant, std::string id,
                                               AuditEntry audit);
  /// Conflict on `id` when taken in any tenant (ids are global: the MQTT topic
  /// carries no tenant); invalid `tenant_id` when the tenant does not exist,
  /// `group_ids` when a group is not the tenant's.
  boost::asio::awaitable<Outcome<Done>> create(core::TenantId tenant, NewDevice device,
                                               TokenHashes token, AuditEntry audit);
  /// One device per entry, each in its own savepoint of one transaction: an
  /// entry that fails (taken id, unknown group) leaves nothing behind and
  /// does not stop the others. `tokens[i]` is device i's raw token, hashed
  /// here on the pool thread (10,000 PBKDF2s would hold the loop ~1 s). One
  /// audit entry for the whole import.
  boost::asio::awaitable<std::vector<Outcome<Done>>> create_many(
      core::TenantId tenant, std::vector<NewDevice> devices, std::vector<std::string> tokens,
      AuditEntry audit);
  /// Not persisted when the row is not there (yet).
  boost::asio::awaitable<Outcome<Done>> set_token(core::TenantId tenant, std::string id,
                                                  TokenHashes token, AuditEntry audit);
  /// Whether `sha256` is the stored token hash of device `id`, read in
  /// `scope` (the device's tenant, or none for an unknown id). Constant time.
  boost::asio::awaitable<bool> token_matches(Scope scope, std::string id, std::string sha256);
  /// Raw readings of one series in [from, to), oldest first, at most `limit`.
  boost::asio::awaitable<std::vector<ReadingPoint>> readings(core::TenantId tenant, std::string id,
                                                             std::string metric, core::Micros from,
                                                             core::Micros to, std::size_t limit);
  /// Reads every device's broker account (every tenant: the broker's file
  /// lists them all) and rewrites the broker's password file, on a pool
  /// thread. False when the file could not be written.
  boost::asio::awaitable<bool> sync_broker_accounts(auth::MqttAccounts& accounts);

 private:
  QueryPool& pool_;
};

/// Every device's broker account, blocking (start-up, before the loop runs).
std::vector<auth::BrokerAccount> load_broker_accounts(const PgTarget& target);

}  // namespace peregrine::storage
