#pragma once
/// Alert response on the loop (CONTRACT.md "notification channels",
/// "contacts", "silences", rule action `notify`): what the alerts service
/// hands to the notifications outbox, and the silences it consults.
///
/// A notify step becomes a NotifyRequest in the alert store's ordered log;
/// the store expands it into one `notifications` row per (channel, contact)
/// in the same transaction as the alert's event (src/storage/notification_sql.cpp),
/// so a delivery exists exactly when its event does. The sender
/// (delivery::Sender) works the rows off the loop. Acknowledging or resolving
/// an alert cancels its pending escalation steps and reminders in that
/// same transaction.
///
/// Threading: loop thread only.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <peregrine/alerts/ports.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/devices/registry.hpp>

namespace peregrine::notifications {

enum class ContactMode : std::uint8_t { device, all, ids };

/// One notify step of an alert, or a lifecycle event of one (channel_id 0).
struct NotifyRequest {
  alerts::AlertId alert_id = 0;
  core::TenantId tenant = core::kDefaultTenant;
  std::string device;
  /// "alert.opened", "alert.acknowledged", "alert.resolved", "alert.escalated"
  std::string event;
  /// The step's channel; 0 = a lifecycle event for every webhook channel
  /// the alert's opening went to.
  std::int64_t channel_id = 0;
  ContactMode mode = ContactMode::device;
  std::vector<std::int64_t> contact_ids;  ///< mode ids
  std::string kind;                       ///< contact kind filter; empty = any
  std::int32_t repeat_s = 0;              ///< remind every repeat_s until acknowledged
  /// Sent only while the alert is unacknowledged and open (after_s > 0).
  bool conditional = false;
  core::Micros due_at = 0;
  core::Micros opened_at = 0;
  std::string payload;  ///< `{"event", "alert"}` as JSON text: the webhook body
  /// Lifecycle of an acknowledged or resolved alert: cancel its pending
  /// conditional deliveries, recording why ("acknowledged", "resolved").
  std::string cancel_reason;
};

/// The notifications outbox (implemented by storage::AlertStore).
class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void notify(const NotifyRequest& request) = 0;
};

struct NotifyOptions {
  /// Base of the alert links in messages (`<public_url>/#/alerts/<id>`).
  std::string public_url = "http://localhost:8080";
};

/// `{"event": …, "alert": {…Alert…, "device_name", "url"}}`.
nlohmann::json event_payload(const alerts::Alert& alert, std::string_view event,
                             const std::string& device_name, const std::string& public_url);

/// The `notify` executor and the lifecycle listener: every notify step and
/// every later transition of an alert goes to the outbox.
class NotifyAction final : public alerts::ActionExecutor, public alerts::AlertListener {
 public:
  NotifyAction(Outbox& outbox, const devices::Registry& registry, const core::Clock& clock,
               NotifyOptions opts);

  void run(const alerts::Alert& alert, const nlohmann::json& action,
           alerts::AlertControl& control) override;
  void on_transition(const alerts::Alert& alert, const alerts::AlertEvent& event) override;

 private:
  std::string payload(const alerts::Alert& alert, std::string_view event) const;

  Outbox& outbox_;
  const devices::Registry& registry_;
  const core::Clock& clock_;
  NotifyOptions opts_;
};

/// A silence (CONTRACT.md "silences"): exactly one of device, group, rule.
struct Silence {
  std::int64_t id = 0;
  core::TenantId tenant = core::kDefaultTenant;
  std::string device;
  std::int64_t group = 0;
  std::int64_t rule = 0;
  core::Micros from = 0, to = 0;
};

/// The tenant's silences, loaded at start and kept in step with REST
/// changes (after they commit). Ended silences are dropped as they are met.
class Silences final : public alerts::SilenceCheck {
 public:
  explicit Silences(const devices::Registry& registry) : registry_(registry) {}
  void load(std::vector<Silence> all);
  void upsert(Silence s);
  void remove(core::TenantId tenant, std::int64_t id);
  std::optional<std::int64_t> silenced(const alerts::Alert& alert, core::Micros now) const override;

 private:
  const devices::Registry& registry_;
  mutable std::unordered_map<core::TenantId, std::vector<Silence>> by_tenant_;
};

}  // namespace peregrine::notifications
