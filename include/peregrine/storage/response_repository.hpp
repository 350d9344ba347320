#pragma once
/// Alert response in PostgreSQL (migrations/0009), always within one tenant:
/// notification channels (their write-only secrets stay in `secrets`),
/// contacts with the devices and groups they are linked to, silences, and
/// the deliveries of an alert. Methods are awaited on the event loop and run
/// on the query pool; every write lands with its audit entry in one
/// transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/notifications/channel.hpp>
#include <peregrine/notifications/notify.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

class QueryPool;

struct ChannelRow {
  std::int64_t id = 0;
  notifications::ChannelSpec spec;
  core::Micros created_at = 0, updated_at = 0;
};

class ChannelRepository {
 public:
  explicit ChannelRepository(QueryPool& pool) : pool_(pool) {}
  boost::asio::awaitable<std::vector<ChannelRow>> list(core::TenantId tenant);
  boost::asio::awaitable<Outcome<ChannelRow>> get(core::TenantId tenant, std::int64_t id);
  /// Conflict on `name` when the tenant has a channel of that name.
  boost::asio::awaitable<Outcome<ChannelRow>> create(core::TenantId tenant, notifications::ChannelSpec spec,
                                                     AuditEntry audit);
  boost::asio::awaitable<Outcome<ChannelRow>> update(core::TenantId tenant, std::int64_t id,
                                                     notifications::ChannelSpec spec, AuditEntry audit);
  /// Conflict while a rule's notify action names the channel.
  boost::asio::awaitable<Outcome<Done>> remove(core::TenantId tenant, std::int64_t id, AuditEntry audit);
  /// The ids among `ids` that are not channels of the tenant.
  boost::asio::awaitable<std::vector<std::int64_t>> missing(core::TenantId tenant, std::vector<std::int64_t> ids);

 private:
  QueryPool& pool_;
};

struct Contact {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::string> email, phone;
  std::string kind = "personal";
  std::vector<std::string> device_ids;
  std::vector<std::int64_t> group_ids;
  core::Micros created_at = 0;
};

class ContactRepository {
 public:
  explicit ContactRepository(QueryPool& pool) : pool_(pool) {}
  /// `device` / `group` non-empty: only contacts linked to it (a device's
  /// also through its groups).
  boost::asio::awaitable<std::vector<Contact>> list(core::TenantId tenant, std::string device,
                                                    std::int64_t group);
  boost::asio::awaitable<Outcome<Contact>> get(core::TenantId tenant, std::int64_t id);
  /// Invalid `device_ids` / `group_ids` naming the first that is not the tenant's.
  boost::asio::awaitable<Outcome<Contact>> create(core::TenantId tenant, Contact c, AuditEntry audit);
  boost::asio::awaitable<Outcome<Contact>> update(core::TenantId tenant, std::int64_t id, Contact c,
                                                  AuditEntry audit);
  boost::asio::awaitable<Outcome<Done>> remove(core::TenantId tenant, std::int64_t id, AuditEntry audit);

 private:
  QueryPool& pool_;
};

struct SilenceRow {
  notifications::Silence silence;
  std::string reason, created_by;
  core::Micros created_at = 0;
};

class SilenceRepository {
 public:
  explicit SilenceRepository(QueryPool& pool) : pool_(pool) {}
  /// Newest first; `active_at` set: only those covering that time or later.
  boost::asio::awaitable<std::vector<SilenceRow>> list(core::TenantId tenant,
                                                       std::optional<core::Micros> active_at);
  /// Invalid when the device, group or rule is not the tenant's.
  boost::asio::awaitable<Outcome<SilenceRow>> create(core::TenantId tenant, SilenceRow row, AuditEntry audit);
  boost::asio::awaitable<Outcome<Done>> remove(core::TenantId tenant, std::int64_t id, AuditEntry audit);

 private:
  QueryPool& pool_;
};

/// Every silence not yet ended, of every tenant (start-up; blocking).
std::vector<notifications::Silence> load_silences(const PgTarget& target);

class NotificationRepository {
 public:
  explicit NotificationRepository(QueryPool& pool) : pool_(pool) {}
  /// The deliveries of the tenant's alert, oldest first, as the API shows them.
  boost::asio::awaitable<nlohmann::json> of_alert(core::TenantId tenant, std::int64_t alert_id);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
