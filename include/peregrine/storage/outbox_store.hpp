#pragma once
/// The notification sender's side of the outbox (`notifications`,
/// migrations/0009): claiming due deliveries under a lease, and recording
/// each attempt's outcome. One connection, owned by the sender's thread
/// (Scope::all(): the SQL names the rows). Every call throws pqxx errors;
/// a lost connection is pqxx::broken_connection, and the sender reconnects.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

/// A claimed delivery with what sending it needs.
struct Delivery {
  std::string id;  ///< also the X-Peregrine-Delivery header
  core::TenantId tenant = core::kDefaultTenant;
  std::int64_t alert_id = 0;
  std::string event;
  std::int64_t channel_id = 0;  ///< 0 when the channel was deleted
  std::string channel_type;
  std::string to;  ///< email address or phone; empty for a webhook
  std::int32_t attempts = 0;  ///< including this one
  std::int32_t repeat_s = 0;
  std::int32_t reminder = 0;
  bool conditional = false;
  core::Micros opened_at = 0;
  std::string payload;  ///< `{"event", "alert"}` as stored
  nlohmann::json config = nlohmann::json::object();
  nlohmann::json secrets = nlohmann::json::object();
};

class OutboxStore {
 public:
  explicit OutboxStore(PgTarget target);
  ~OutboxStore();
  OutboxStore(const OutboxStore&) = delete;
  OutboxStore& operator=(const OutboxStore&) = delete;

  /// Cancels due opening deliveries whose alert a silence covers now, then
  /// claims up to `limit` due deliveries (oldest first) for `lease`: a
  /// claimed row is not due again until the lease ends, so a crash mid-send
  /// retries it later and two servers never send it at once.
  std::vector<Delivery> claim(std::size_t limit, std::chrono::seconds lease);
  /// Accepted by the provider; schedules the next reminder when the step has
  /// `repeat_s`, the alert is still unacknowledged and open, and fewer than
  /// `max_reminders` were sent.
  void sent(const Delivery& d, std::int32_t max_reminders);
  void retry(const Delivery& d, std::chrono::milliseconds after, const std::string& error);
  void failed(const Delivery& d, const std::string& error);
  /// Claimed but not sent (stopping): due again at once.
  void release(const std::vector<std::string>& ids);
  /// The earliest pending delivery's due time, or kNever.
  core::Micros next_due();

  void disconnect() noexcept { conn_.reset(); }

 private:
  pqxx::connection& conn();

  PgTarget target_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace peregrine::storage
