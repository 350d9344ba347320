#pragma once
/// Alert and AlertEvent value types (CONTRACT.md "Alert") and their JSON.
/// Pure; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/rules/rule.hpp>

namespace peregrine::alerts {

using AlertId = std::int64_t;

enum class AlertState : std::uint8_t { active, acknowledged, resolved };
/// `action`: a step of a rule action (a command sent, acked, timed out, a
/// fallback run), with what happened in `detail`.
enum class EventKind : std::uint8_t { opened, updated, acknowledged, resolved, escalated, action };

struct Alert {
  AlertId id = 0;
  rules::RuleId rule_id = 0;
  core::TenantId tenant = core::kDefaultTenant;
  std::string device;
  std::string metric;
  rules::Severity severity = rules::Severity::warning;
  AlertState state = AlertState::active;
  double value = 0;            ///< latest value
  std::string message;
  core::Micros opened_at = 0;
  core::Micros updated_at = 0; ///< ts of the latest repeat
  std::uint64_t count = 1;     ///< readings that met the condition while open
  std::optional<core::Micros> acknowledged_at;
  std::string acknowledged_by;
  std::optional<core::Micros> resolved_at;
  std::string resolved_by;     ///< operator, or "system"
  std::optional<core::Micros> escalate_at;  ///< pending escalation (manager clock)
  rules::Severity escalate_to = rules::Severity::critical;
  bool escalated = false;
  /// Opened while a silence covered it: its notify and command actions did not run.
  bool silenced = false;
};

/// One transition, for `alert_events`. `actor` is the operator (e.g. their
/// email) or "system".
struct AlertEvent {
  AlertId alert_id = 0;
  EventKind kind = EventKind::opened;
  std::string actor;
  core::Micros at = 0;
  std::string detail;
  std::int64_t arrival_ns = 0;  ///< reading arrival (core::steady_ns) for opened; else 0
};

std::string_view to_string(AlertState s) noexcept;
std::string_view to_string(EventKind k) noexcept;
std::optional<AlertState> parse_alert_state(std::string_view s) noexcept;
std::optional<EventKind> parse_event_kind(std::string_view s) noexcept;

/// CONTRACT.md Alert JSON (RFC 3339 times, nulls for unset), plus `count`,
/// `updated_at` and `tenant_id`.
nlohmann::json to_json(const Alert& a);
nlohmann::json to_json(const AlertEvent& e);
/// Inverse of to_json(Alert) plus the manager's private fields; for
/// snapshots. nullopt when malformed.
std::optional<Alert> alert_from_json(const nlohmann::json& j);
/// to_json(Alert) plus the private fields alert_from_json needs.
nlohmann::json to_snapshot_json(const Alert& a);

}  // namespace peregrine::alerts
