#pragma once
/// Persists the alert lifecycle: a dedicated thread with its own PostgreSQL
/// connection writes the alert rows, their `alert_events` and the engine
/// snapshot (migrations/0002_rules_alerts.sql). The event loop enqueues
/// without blocking (a mutex held for a push); the thread takes everything
/// queued as one batch, in order, in one transaction. Repeated upserts of
/// one alert within a batch are coalesced into its first position (the
/// latest content wins), and only the newest snapshot of a batch is written.
/// On a lost connection the batch is kept and retried with back-off; an op
/// that PostgreSQL rejects for its data is logged and counted
/// (`peregrine_alert_store_errors_total`) — nothing is dropped silently.
///
/// Also the blocking start-up reads (rules, open alerts, next id, snapshot),
/// called before the event loop runs.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/row>

#include <peregrine/alerts/alert.hpp>
#include <peregrine/metrics/registry.hpp>
#include <peregrine/rules/rule.hpp>
#include <peregrine/storage/pg.hpp>

namespace peregrine::storage {

struct SnapshotOp {
  core::Micros taken_at = 0;
  std::string body;  ///< JSON text
};
using AlertOp = std::variant<alerts::Alert, alerts::AlertEvent, SnapshotOp>;

/// What the server needs from PostgreSQL at start.
struct AlertingState {
  std::vector<rules::Rule> rules;          ///< enabled rules
  std::vector<alerts::Alert> open_alerts;  ///< active or acknowledged
  alerts::AlertId next_id = 1;             ///< max(alerts.id) + 1
  nlohmann::json snapshot;                 ///< latest engine_snapshots.body, or null
};

/// Blocking; throws on connection or SQL errors. Any thread (start-up).
AlertingState load_alerting_state(const PgTarget& target);

/// SQL expression over a `rules` row giving the rule body as JSON text
/// (without id), for rule_from_row.
inline constexpr const char* kRuleBodySql =
    "jsonb_build_object('name', name, 'metric', metric, 'scope', scope, 'kind', kind, "
    "'params', params, 'severity', severity, 'enabled', enabled, 'escalate', escalate, "
    "'actions', actions)::text";

/// A stored `rules` row (kRuleBodySql) back into a Rule. nullopt when the
/// stored body no longer validates.
std::optional<rules::Rule> rule_from_row(std::int64_t id, core::TenantId tenant,
                                         const std::string& body_json);

/// Columns of an `alerts` row for alert_from_row.
inline constexpr const char* kAlertColumnsSql =
    "id, tenant_id, rule_id, device_id, metric, severity, state, value, message, count, escalated, "
    "(extract(epoch from opened_at) * 1000000)::bigint, "
    "(extract(epoch from acknowledged_at) * 1000000)::bigint, acknowledged_by, "
    "(extract(epoch from resolved_at) * 1000000)::bigint, resolved_by, "
    "(extract(epoch from updated_at) * 1000000)::bigint";

/// An `alerts` row selected with kAlertColumnsSql.
alerts::Alert alert_from_row(const pqxx::row& row);

class AlertStore {
 public:
  /// Registers peregrine_alert_store_* in `metrics` (which must outlive it).
  AlertStore(PgTarget target, metrics::Registry& metrics);
  ~AlertStore();
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  /// Starts the thread; connects lazily, does not throw when PostgreSQL is down.
  void start();
  /// Writes everything queued, then joins. Blocks; gives up after `deadline`
  /// only while PostgreSQL stays unreachable, logging what was not written.
  void stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));

  /// Any thread (the loop): never blocks on I/O.
  void enqueue(AlertOp op);

  std::size_t queue_depth() const noexcept { return depth_.load(std::memory_order_relaxed); }

 private:
  void run();

  PgTarget target_;
  metrics::Gauge& depth_gauge_;
  metrics::Counter& written_;
  metrics::Counter& errors_;
  metrics::Counter& lost_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AlertOp> pending_;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  std::chrono::steady_clock::time_point stop_deadline_;  // guarded by mu_
  std::atomic<std::size_t> depth_{0};
  std::thread thread_;
};

}  // namespace peregrine::storage
