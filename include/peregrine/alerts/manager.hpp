#pragma once
/// The alert lifecycle: one open alert per (rule, device, metric), states
/// active → acknowledged → resolved (auto on clear, or by an operator), and
/// escalation of alerts not acknowledged in time. Pure state machine: it
/// turns rules::Transition into Alerts and AlertEvents and reports each
/// change synchronously to an AlertObserver (which sends the WebSocket frame
/// first, then hands persistence and actions off the loop).
///
/// Holds only open (active or acknowledged) alerts; a resolved alert is
/// reported once and forgotten. Loop thread only. The observer must not call
/// back into the manager (or the engine's rule changes) synchronously.

#include <array>
#include <functional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include <peregrine/alerts/alert.hpp>
#include <peregrine/core/clock.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/engine.hpp>

namespace peregrine::alerts {

class AlertObserver {
 public:
  virtual ~AlertObserver() = default;
  /// Every event (opened, updated, acknowledged, resolved, escalated), after
  /// the manager's state changed. `rule` is the rule behind an engine-driven
  /// event (on `opened`: the actions to run), nullptr for operator calls and
  /// timers. References are valid only during the call. `updated` comes once
  /// per repeating reading: persist it coalesced, not as one row each.
  virtual void on_alert(const Alert& alert, const AlertEvent& event, const rules::Rule* rule) = 0;
};

enum class OpStatus : std::uint8_t {
  ok,
  not_found,  ///< no open alert with that id (unknown, or already resolved)
  conflict,   ///< not allowed in its state (ack twice, escalate downwards)
};

class Manager final : public rules::AlertSink {
 public:
  /// `next_id`: the first id to assign (PostgreSQL's max(id) + 1 at start).
  /// Registers peregrine_alerts_opened_total{severity} in `metrics`.
  Manager(const core::Clock& clock, AlertObserver& observer, metrics::Registry& metrics,
          AlertId next_id = 1);

  /// From the engine. open → new alert (or a repeat of the open one);
  /// update → repeat (count, value), or a new alert when none is open and
  /// no operator resolved it during this episode; resolve → resolved by
  /// "system". Times are the manager clock's.
  void on_transition(const rules::Transition& t) override;

  OpStatus acknowledge(AlertId id, std::string_view actor);
  /// Operator resolve. While the rule's condition still holds the alert is
  /// not re-opened; the next episode (after the condition clears) opens anew.
  OpStatus resolve(AlertId id, std::string_view actor);
  /// Raises severity now (an `escalate` action, or a command's on_timeout).
  OpStatus escalate(AlertId id, rules::Severity to, std::string_view actor, std::string_view detail);

  /// Fires due escalations. Returns how many.
  std::size_t tick(core::Micros now);
  core::Micros next_deadline() const noexcept;

  const Alert* find(AlertId id) const noexcept;
  /// Marks the open alert `id` as opened under a silence (safe inside the
  /// observer's call: it changes nothing else). Null when it is not open.
  const Alert* mark_silenced(AlertId id) noexcept;
  void for_each_open(const std::function<void(const Alert&)>& fn) const;
  std::size_t open_count() const noexcept { return alerts_.size(); }
  AlertId next_id() const noexcept { return next_id_; }

  /// Reinstates an open alert loaded from PostgreSQL at start (no event).
  /// With `rule`, a pending escalation is rescheduled from opened_at.
  void load(Alert a, const rules::Rule* rule = nullptr);

  /// Next id, operator-resolved episodes and (unless `with_alerts` is
  /// false: they are in the alerts table) open alerts, for restart.
  nlohmann::json snapshot(bool with_alerts = true) const;
  /// Restores a snapshot() (alerts already loaded are kept, not duplicated).
  /// Returns the number of alerts restored.
  std::size_t restore(const nlohmann::json& snap);

 private:
  struct Due {
    core::Micros at;
    AlertId id;
    bool operator>(const Due& o) const noexcept { return at > o.at; }
  };

  const std::string& key(rules::RuleId rule, std::string_view device, std::string_view metric);
  void open(const rules::Transition& t);
  void repeat(Alert& a, const rules::Transition& t);
  void close(Alert& a, std::string_view actor, std::string detail, const rules::Rule* rule);
  void notify(const Alert& a, EventKind kind, std::string_view actor, std::string detail,
              const rules::Rule* rule, std::int64_t arrival_ns = 0);
  void arm_escalation(Alert& a);

  const core::Clock& clock_;
  AlertObserver& observer_;
  std::array<metrics::Counter*, 3> opened_{};
  AlertId next_id_;
  std::unordered_map<AlertId, Alert> alerts_;
  std::unordered_map<std::string, AlertId> by_key_;  // "<rule>\x1f<device>\x1f<metric>"
  std::unordered_set<std::string> suppressed_;       // operator-resolved, condition not yet cleared
  std::string key_buf_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> escalations_;
};

}  // namespace peregrine::alerts
