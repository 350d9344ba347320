#pragma once
/// The interfaces the alerts service works through, implemented outside the
/// domain: persistence (storage::AlertStore), frames to dashboards
/// (realtime::Hub), and one executor per rule action type. All are called on
/// the event loop and must not block: they queue, and do their I/O elsewhere.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <peregrine/alerts/alert.hpp>
#include <peregrine/core/types.hpp>
#include <peregrine/rules/engine.hpp>
#include <peregrine/rules/rule.hpp>

namespace peregrine::alerts {

/// What a restart needs besides the alerts table: the engine's per-series
/// state and the manager's counters and operator-suppressed episodes.
struct Snapshot {
  core::Micros taken_at = 0;
  rules::EngineSnapshot engine;
  nlohmann::json manager;  ///< Manager::snapshot() without its open alerts
};

/// Persistence of the alert lifecycle, in the order of the calls. An alert
/// row is saved before the events that refer to it.
class AlertLog {
 public:
  virtual ~AlertLog() = default;
  virtual void save(const Alert& alert) = 0;
  virtual void save(const AlertEvent& event) = 0;
  /// Serialised by the log, off the loop.
  virtual void save(Snapshot snapshot) = 0;
  /// What is saved between begin_group() and end_group() (loop thread) is
  /// written in one transaction: an alert's event with the steps of the
  /// actions and listeners it set off (deliveries, cancellations). Groups nest.
  virtual void begin_group() {}
  virtual void end_group() {}
};

/// Alert frames to the tenant's subscribed dashboards.
class AlertFrames {
 public:
  virtual ~AlertFrames() = default;
  virtual void publish(const Alert& alert) = 0;
  /// An `action` event of an alert (`{"type":"alert_event", …}`).
  virtual void publish_event(core::TenantId tenant, const AlertEvent& event) = 0;
};

/// What an action may do to alerts. Changes are applied later on the loop,
/// never inside the call that runs the action.
class AlertControl {
 public:
  virtual ~AlertControl() = default;
  virtual void escalate_later(AlertId id, rules::Severity to, std::string actor,
                              std::string detail) = 0;
  /// Records a step of a rule action as an `action` event of the alert:
  /// its row and its frame.
  virtual void record_action(AlertId id, core::TenantId tenant, std::string detail) = 0;
  /// Runs `actions` (a command's `on_timeout`) later on the loop, through the
  /// same executors as an opening's actions: for the open alert when it is
  /// still open, else for `alert` as given (its id, tenant and device).
  virtual void run_actions_later(Alert alert, nlohmann::json actions, std::string why) = 0;
};

/// Runs one type of rule action (CONTRACT.md "Actions") when an alert opens.
/// `action` is one element of the rule's `actions`, already validated.
class ActionExecutor {
 public:
  virtual ~ActionExecutor() = default;
  virtual void run(const Alert& alert, const nlohmann::json& action, AlertControl& control) = 0;
};

/// Told of every alert transition except coalesced repeats (opened,
/// acknowledged, resolved, escalated), after its row and event were handed
/// to the AlertLog, so what it logs lands after them.
class AlertListener {
 public:
  virtual ~AlertListener() = default;
  virtual void on_transition(const Alert& alert, const AlertEvent& event) = 0;
};

/// Whether a silence covers an alert that is opening (its device, one of
/// the device's groups, or its rule): the id of the silence, or nullopt.
class SilenceCheck {
 public:
  virtual ~SilenceCheck() = default;
  virtual std::optional<std::int64_t> silenced(const Alert& alert, core::Micros now) const = 0;
};

/// What the service starts from, read from PostgreSQL at start.
struct StartState {
  std::vector<rules::Rule> rules;   ///< enabled rules
  std::vector<Alert> open_alerts;   ///< active or acknowledged
  AlertId next_id = 1;              ///< max(alerts.id) + 1
  nlohmann::json snapshot;          ///< the latest saved Snapshot as JSON, or null
};

}  // namespace peregrine::alerts
